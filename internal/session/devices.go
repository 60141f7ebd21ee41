package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sort"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
)

// Every way a session ends is here, and each works in every store mode:
//
//	Destroy(ctx)                               logout: the request's session
//	RevokeUser(ctx, userID)                    every session of the user (password set, user disabled)
//	RevokeByHandle(ctx, userID, handle)        one session from List, and its remember token
//	RevokeOthers(ctx, userID)                  all but the request's session, and their remember tokens
//	EndTheft(ctx, actor, userID)               every session signed in from a remember token
//
// and the device list for "your sessions":
//
//	List(ctx, userID) ([]DeviceSession, error) live sessions, newest first, the current one marked
//	Current(ctx) string                        the request's session's handle ("" when none)
//
// A revocation tombstones each session exactly as logout does: a tombstone
// row in PostgreSQL (tiered, postgres), a tombstone key in Redis (tiered,
// redis), and in tiered mode a queued invalidation for this Redis when Redis
// cannot take it, replayed by every api process before it trusts Redis
// again. So an ended session is refused at once by every process and stays
// ended through a Redis outage.
//
// A handle is the first 16 bytes of SHA-256 of the session token, base64url
// (22 characters). The token is 32 random bytes, so the handle reveals
// nothing about it and cannot be reversed, and every api process computes
// the same handle with no shared secret. It is never the token itself.

// DeviceSession is one live session as its user may see it.
type DeviceSession struct {
	// Handle identifies the session to RevokeByHandle; it reveals nothing
	// about the token.
	Handle     string
	CreatedAt  time.Time
	LastSeenAt time.Time
	// IP is the client address at sign-in; UserAgent the browser's header.
	IP        string
	UserAgent string
	// Remembered is true when the session was signed in from a remember
	// token. RememberSelector names the remember token bound to the session
	// (that one, or the one its password sign-in created), or is "".
	Remembered       bool
	RememberSelector string
	// Current is true for the session of the request that listed it.
	Current bool
}

// ErrNoStore is returned by a revocation on a Manager whose store is not one
// of this package's.
var ErrNoStore = errors.New("session: store cannot list or revoke a user's sessions")

// handleOf is a token's opaque handle.
func handleOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// Current returns the handle of the request's session, or "" when it has
// none yet.
func (m *Manager) Current(ctx context.Context) string {
	if tok := m.token(ctx); tok != "" {
		return handleOf(tok)
	}
	return ""
}

// device is one of the user's live sessions with its token.
type device struct {
	token string
	DeviceSession
}

// devices lists the user's live, not idle, sessions, newest first.
func (m *Manager) devices(ctx context.Context, userID int64) ([]device, error) {
	if m.st == nil {
		return nil, ErrNoStore
	}
	stored, err := m.st.userSessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	current := m.token(ctx)
	now := m.opts.Now()
	out := make([]device, 0, len(stored))
	for _, s := range stored {
		r, ok := decodeRecord(s.Data)
		if !ok || r.userID != userID || r.idle(now, m.opts.IdleTimeout) {
			continue
		}
		out = append(out, device{token: s.Token, DeviceSession: DeviceSession{
			Handle: handleOf(s.Token), CreatedAt: r.createdAt, LastSeenAt: r.seenAt,
			IP: r.ip, UserAgent: r.userAgent,
			Remembered: r.remembered, RememberSelector: r.rememberSelector,
			Current: s.Token == current,
		}})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

// List returns the user's live sessions, newest first, the request's own
// marked Current; never a token.
func (m *Manager) List(ctx context.Context, userID int64) ([]DeviceSession, error) {
	ds, err := m.devices(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]DeviceSession, len(ds))
	for i, d := range ds {
		out[i] = d.DeviceSession
	}
	return out, nil
}

// revoke tombstones tokens in every store the mode uses.
func (m *Manager) revoke(ctx context.Context, userID int64, tokens []string) error {
	if len(tokens) == 0 {
		return nil
	}
	if err := m.st.revokeAll(ctx, tokens); err != nil {
		return err
	}
	if m.redis != nil {
		m.redis.forget(ctx, userID, tokens)
	}
	return nil
}

// RevokeByHandle ends the user's session with that handle and deletes the
// remember token it was signed in from; found is false when the user has no
// live session with that handle (another user's handle included). Ending the
// request's own session is a logout.
func (m *Manager) RevokeByHandle(ctx context.Context, userID int64, handle string) (found bool, err error) {
	ds, err := m.devices(ctx, userID)
	if err != nil {
		return false, err
	}
	for _, d := range ds {
		if d.Handle != handle {
			continue
		}
		if d.Current {
			err = m.Destroy(ctx)
		} else {
			err = m.revoke(ctx, userID, []string{d.token})
		}
		if err == nil && d.RememberSelector != "" && m.db != nil {
			err = m.db.RevokeRememberToken(ctx, d.RememberSelector)
		}
		return true, err
	}
	return false, nil
}

// RevokeOthers ends every session of the user but the request's own, and
// deletes every remember token of the user but the one the request's
// session came from; it returns how many sessions it ended.
func (m *Manager) RevokeOthers(ctx context.Context, userID int64) (int, error) {
	ds, err := m.devices(ctx, userID)
	if err != nil {
		return 0, err
	}
	var tokens []string
	for _, d := range ds {
		if !d.Current {
			tokens = append(tokens, d.token)
		}
	}
	if err := m.revoke(ctx, userID, tokens); err != nil {
		return 0, err
	}
	if m.db != nil {
		keep := ""
		if m.UserID(ctx) == userID {
			keep = m.recordOf(ctx).rememberSelector
		}
		if err := m.db.RevokeRememberTokensExcept(ctx, userID, keep); err != nil {
			return 0, err
		}
	}
	return len(tokens), nil
}

// RevokeUser ends every session of the user, in every store the mode uses,
// including copies of sessions PostgreSQL already tombstoned, and deletes the
// user's remember tokens.
func (m *Manager) RevokeUser(ctx context.Context, userID int64) error {
	if m.st == nil {
		return ErrNoStore
	}
	tokens, err := m.st.userTokens(ctx, userID)
	if err != nil {
		return err
	}
	for len(tokens) > 0 {
		n := min(len(tokens), replayBatch)
		if err := m.revoke(ctx, userID, tokens[:n]); err != nil {
			return err
		}
		tokens = tokens[n:]
	}
	if m.db != nil {
		return m.db.RevokeRememberTokensExcept(ctx, userID, "")
	}
	return nil
}

// EndTheft answers a replayed remember token (postgres.RememberResult.Theft,
// whose tokens UseRememberToken already deleted): it ends every session of
// the user bound to any remember token (signed in from one, or whose
// password sign-in created one), records auth.token_theft against the user,
// and logs a warning with the user's id.
func (m *Manager) EndTheft(ctx context.Context, a deal.Actor, userID int64) error {
	ds, err := m.devices(ctx, userID)
	if err != nil {
		return err
	}
	var tokens []string
	for _, d := range ds {
		if d.RememberSelector != "" {
			tokens = append(tokens, d.token)
		}
	}
	if err := m.revoke(ctx, userID, tokens); err != nil {
		return err
	}
	m.log.WarnContext(ctx, "remember token replayed after rotation: the user's remember tokens and remembered sessions ended",
		"user_id", userID, "sessions_ended", len(tokens))
	if m.db == nil {
		return nil
	}
	return m.db.RecordEvent(ctx, a, deal.ActionTokenTheft, 0, userID, map[string]any{"sessions_ended": len(tokens)})
}

// CreateSignedIn stores a new session signed in as userID (with dealID
// selected unless 0) outside any request, and returns its token: for
// fixtures and tools that need sessions without HTTP.
func (m *Manager) CreateSignedIn(ctx context.Context, userID, dealID int64) (string, error) {
	sctx, err := m.load(ctx, "")
	if err != nil {
		return "", err
	}
	if err := m.SignIn(sctx, userID); err != nil {
		return "", err
	}
	if dealID != 0 {
		m.SetDeal(sctx, dealID)
	}
	tok, _, err := m.sm.Commit(sctx)
	return tok, err
}
