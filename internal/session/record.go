package session

import (
	"time"

	"github.com/dealctx/dealctx/internal/postgres"
)

// A session's device record lives in its payload, beside the user and deal,
// so every store mode carries it with no extra key or round trip; the
// PostgreSQL store also copies it into the sessions table's columns.
const (
	keyCreatedAt = "created_at" // int64 unix seconds
	keySeenAt    = "seen_at"    // int64 unix seconds, written at most every TouchEvery
	keyIP        = "ip"
	keyUserAgent = "ua"
	// keyRemember is the selector of the remember token bound to the
	// session: the one it was signed in from, or the one its password
	// sign-in created for the device.
	keyRemember = "remember"
	// keyRemembered marks a session signed in from a remember token.
	keyRemembered = "remembered"
)

// maxUserAgent bounds the stored User-Agent.
const maxUserAgent = 512

// record is a session payload's device record.
type record struct {
	userID           int64
	createdAt        time.Time
	seenAt           time.Time
	ip, userAgent    string
	rememberSelector string
	remembered       bool
}

func recordOf(values map[string]any) record {
	r := record{}
	r.userID, _ = values[keyUserID].(int64)
	if s, ok := values[keyCreatedAt].(int64); ok {
		r.createdAt = time.Unix(s, 0)
	}
	if s, ok := values[keySeenAt].(int64); ok {
		r.seenAt = time.Unix(s, 0)
	}
	r.ip, _ = values[keyIP].(string)
	r.userAgent, _ = values[keyUserAgent].(string)
	r.rememberSelector, _ = values[keyRemember].(string)
	r.remembered, _ = values[keyRemembered].(bool)
	return r
}

// decodeRecord decodes a stored payload's record; ok is false for anything
// that is not an scs payload.
func decodeRecord(b []byte) (record, bool) {
	_, values, err := Codec{}.Decode(b)
	if err != nil {
		return record{}, false
	}
	return recordOf(values), true
}

func (r record) row() postgres.SessionRecord {
	return postgres.SessionRecord{UserID: r.userID, CreatedAt: r.createdAt, LastSeenAt: r.seenAt,
		IP: r.ip, UserAgent: r.userAgent, Remembered: r.remembered, RememberSelector: r.rememberSelector}
}

// idle reports whether the session went unused longer than timeout (0: never).
func (r record) idle(now time.Time, timeout time.Duration) bool {
	return timeout > 0 && !r.seenAt.IsZero() && now.Sub(r.seenAt) > timeout
}

// UserIDFromData decodes the user id from a stored session payload, for
// stores that index sessions by user. It returns 0 for anything else.
func UserIDFromData(b []byte) int64 {
	r, _ := decodeRecord(b)
	return r.userID
}
