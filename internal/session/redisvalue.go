package session

import "encoding/binary"

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

// stamp returns payload stamped with epoch, in a new slice.
func stamp(epoch uint64, payload []byte) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(payload))
	b = append(b, stampMagic)
	b = binary.AppendUvarint(b, epoch)
	return append(b, payload...)
}

// unstamp splits a Redis copy into its stamp and payload; ok is false for a
// copy without a stamp, whose payload is then the whole value.
func unstamp(v []byte) (epoch uint64, payload []byte, ok bool) {
	if len(v) == 0 || v[0] != stampMagic {
		return 0, v, false
	}
	e, n := binary.Uvarint(v[1:])
	if n <= 0 {
		return 0, v, false
	}
	return e, v[1+n:], true
}

// CopyPayload returns the session payload of a copy as read from Redis,
// without its stamp, for code outside the store that reads copies directly
// (the benchmarks' floor servers). It does not say whether the copy can be
// trusted.
func CopyPayload(v []byte) []byte {
	_, payload, _ := unstamp(v)
	return payload
}
