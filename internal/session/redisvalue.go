package session

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// A session's copy in Redis is stamped with the Redis epoch its writer knew
// (internal/redisepoch): stampMagic, the epoch as a uvarint, then the
// payload. A copy whose stamp is not the current epoch (or that has none: a
// previous release wrote it) is unverified: it may have come back from the
// past with a Redis restored from a snapshot, so it is checked against
// PostgreSQL before it is served. Tombstones carry no stamp: a session never
// comes back to life, so an old tombstone is still true.
//
// stampMagic cannot start a payload: the compact codec starts with codecV1,
// and a gob stream with a message length (2–127, or 0xF8–0xFF for longer
// ones).
const stampMagic = 0xE5

// A copy of a session holding a user and a deal is stamped with
// stampIDsMagic instead, and its stamp also names them: after the epoch, one
// byte n and n ASCII bytes "userID:dealID". The store learns from it, without
// decoding the session, which user's and deal's access generation copies to
// read with the session's next read (RedisStore.find).
const stampIDsMagic = 0xE6

// stamp returns payload stamped with epoch, in a new slice; userID and
// dealID, when both are set, are named in the stamp.
func stamp(epoch uint64, userID, dealID int64, payload []byte) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+1+40+len(payload))
	if userID <= 0 || dealID <= 0 {
		b = append(b, stampMagic)
		b = binary.AppendUvarint(b, epoch)
		return append(b, payload...)
	}
	b = append(b, stampIDsMagic)
	b = binary.AppendUvarint(b, epoch)
	at := len(b)
	b = append(b, 0)
	b = strconv.AppendInt(b, userID, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, dealID, 10)
	b[at] = byte(len(b) - at - 1) // at most 39 bytes
	return append(b, payload...)
}

// unstamp splits a Redis copy into its stamp and payload; ok is false for a
// copy without a stamp, whose payload is then the whole value.
func unstamp(v []byte) (epoch uint64, payload []byte, ok bool) {
	if len(v) == 0 || (v[0] != stampMagic && v[0] != stampIDsMagic) {
		return 0, v, false
	}
	e, n := binary.Uvarint(v[1:])
	if n <= 0 {
		return 0, v, false
	}
	rest := v[1+n:]
	if v[0] == stampIDsMagic {
		if len(rest) == 0 || int(rest[0]) >= len(rest) {
			return 0, v, false
		}
		rest = rest[1+int(rest[0]):]
	}
	return e, rest, true
}

// stampedIDs returns the user and deal a copy's stamp names (0, 0 when it
// names none).
func stampedIDs(v []byte) (userID, dealID int64) {
	if len(v) == 0 || v[0] != stampIDsMagic {
		return 0, 0
	}
	_, n := binary.Uvarint(v[1:])
	if n <= 0 || len(v) <= 1+n {
		return 0, 0
	}
	l := int(v[1+n])
	if 2+n+l > len(v) {
		return 0, 0
	}
	u, d, ok := strings.Cut(string(v[2+n:2+n+l]), ":")
	if !ok {
		return 0, 0
	}
	userID, err1 := strconv.ParseInt(u, 10, 64)
	dealID, err2 := strconv.ParseInt(d, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0
	}
	return userID, dealID
}

// CopyPayload returns the session payload of a copy as read from Redis,
// without its stamp, for code outside the store that reads copies directly
// (the benchmarks' floor servers). It does not say whether the copy can be
// trusted.
func CopyPayload(v []byte) []byte {
	_, payload, _ := unstamp(v)
	return payload
}
