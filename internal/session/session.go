// Package session provides the scs session manager, the session stores
// (PostgreSQL, Redis, tiered) and the session health check.
package session

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Keys stored in a session.
const (
	keyUserID = "user_id"
	keyDealID = "deal_id"
	// keyDealGone marks that the user's last deal could not be restored
	// (revoked or deleted), so a page can say so once.
	keyDealGone = "deal_gone"
)

// CookieName is the session cookie's name.
const CookieName = "session"

// Manager is an scs session manager with the application's session keys.
type Manager struct {
	*scs.SessionManager
	// Mode names the store in use: tiered, redis or postgres.
	Mode string
	// tiered is the store when Mode is tiered, for its breaker and loop.
	tiered *TieredStore
}

// BreakerState reports the tiered store's Redis circuit breaker ("closed",
// "half-open" or "open"), or "" when the store has none.
func (m *Manager) BreakerState() string {
	if m.tiered == nil {
		return ""
	}
	return m.tiered.BreakerState()
}

// Close stops the store's background work; the manager must not be used
// after.
func (m *Manager) Close() {
	if m.tiered != nil {
		m.tiered.Close()
	}
}

// Options configure a Manager.
type Options struct {
	Lifetime     time.Duration
	CookieSecure bool
}

// NewManager returns a Manager over store. Cookies are HttpOnly, SameSite=Lax,
// Path=/, persistent, and Secure unless opts.CookieSecure is false.
func NewManager(store scs.CtxStore, mode string, opts Options) *Manager {
	sm := scs.New()
	sm.Store = store
	sm.Lifetime = opts.Lifetime
	sm.Cookie.Name = CookieName
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Path = "/"
	sm.Cookie.Persist = true
	sm.Cookie.Secure = opts.CookieSecure
	return &Manager{SessionManager: sm, Mode: mode}
}

// ids is the per-request cache of the session's user and deal. Every request
// reads them several times (requireUser, auto-restore, the handler), and each
// read through scs allocates (it boxes its string-typed context key), so the
// first read fills the cache and later ones are free. The Manager's write
// methods below invalidate it; code that writes the session goes through them.
type ids struct {
	loaded         bool
	userID, dealID int64
}

type idsKey struct{}

// Load loads the session for token, as scs does, with an empty ids cache.
func (m *Manager) Load(ctx context.Context, token string) (context.Context, error) {
	ctx, err := m.SessionManager.Load(ctx, token)
	if err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, idsKey{}, &ids{}), nil
}

func (m *Manager) ids(ctx context.Context) (userID, dealID int64) {
	c, _ := ctx.Value(idsKey{}).(*ids)
	if c == nil {
		return m.GetInt64(ctx, keyUserID), m.GetInt64(ctx, keyDealID)
	}
	if !c.loaded {
		c.userID, c.dealID, c.loaded = m.GetInt64(ctx, keyUserID), m.GetInt64(ctx, keyDealID), true
	}
	return c.userID, c.dealID
}

func forget(ctx context.Context) {
	if c, _ := ctx.Value(idsKey{}).(*ids); c != nil {
		c.loaded = false
	}
}

// UserID returns the signed-in user's id, or 0.
func (m *Manager) UserID(ctx context.Context) int64 {
	id, _ := m.ids(ctx)
	return id
}

// DealID returns the session's current deal id, or 0.
func (m *Manager) DealID(ctx context.Context) int64 {
	_, id := m.ids(ctx)
	return id
}

// Put stores a value in the session (scs's Put, keeping the cache true).
func (m *Manager) Put(ctx context.Context, key string, val any) {
	forget(ctx)
	m.SessionManager.Put(ctx, key, val)
}

// Remove deletes a key from the session (scs's Remove, keeping the cache true).
func (m *Manager) Remove(ctx context.Context, key string) {
	forget(ctx)
	m.SessionManager.Remove(ctx, key)
}

// Destroy ends the session (scs's Destroy, keeping the cache true).
func (m *Manager) Destroy(ctx context.Context) error {
	forget(ctx)
	return m.SessionManager.Destroy(ctx)
}

// RenewToken gives the session a new token (scs's RenewToken, keeping the
// cache true).
func (m *Manager) RenewToken(ctx context.Context) error {
	forget(ctx)
	return m.SessionManager.RenewToken(ctx)
}

// SignIn renews the session token (against fixation) and stores the user.
func (m *Manager) SignIn(ctx context.Context, userID int64) error {
	if err := m.RenewToken(ctx); err != nil {
		return err
	}
	m.Remove(ctx, keyDealID)
	m.Put(ctx, keyUserID, userID)
	return nil
}

// SetDeal stores the current deal.
func (m *Manager) SetDeal(ctx context.Context, dealID int64) {
	m.Remove(ctx, keyDealGone)
	m.Put(ctx, keyDealID, dealID)
}

// FlagDealGone records that the user's last deal was revoked or deleted.
func (m *Manager) FlagDealGone(ctx context.Context) { m.Put(ctx, keyDealGone, true) }

// PopDealGone reports, once, whether FlagDealGone was called since the last
// selection.
func (m *Manager) PopDealGone(ctx context.Context) bool { return m.PopBool(ctx, keyDealGone) }

// ClearDeal removes the current deal.
func (m *Manager) ClearDeal(ctx context.Context) { m.Remove(ctx, keyDealID) }

// UserIDFromData decodes the user id from a stored session payload, for
// stores that index sessions by user. It returns 0 for anything else.
func UserIDFromData(b []byte) int64 {
	_, values, err := scs.GobCodec{}.Decode(b)
	if err != nil {
		return 0
	}
	id, _ := values[keyUserID].(int64)
	return id
}

// validToken reports whether s looks like an scs token (32 random bytes,
// base64url), so garbage cookies never reach a store.
func validToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// LoadAndSave replaces scs's middleware of the same name. It loads the
// session, runs next into a buffer, commits, and only then writes the
// response, so that a store failure yields onError's response alone: the
// handler never runs on a session that failed to load, and a failed commit
// never produces "500 plus the handler's output".
func (m *Manager) LoadAndSave(onError func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Vary", "Cookie")
			var token string
			if c, err := r.Cookie(m.Cookie.Name); err == nil && validToken(c.Value) {
				token = c.Value
			}
			ctx, err := m.Load(r.Context(), token)
			if err != nil {
				onError(w, r, err)
				return
			}
			r = r.WithContext(ctx)
			bw := &bufferedWriter{header: make(http.Header), status: http.StatusOK}
			next.ServeHTTP(bw, r)

			switch m.Status(ctx) {
			case scs.Modified:
				token, expiry, err := m.Commit(ctx)
				if err != nil {
					onError(w, r, err)
					return
				}
				m.WriteSessionCookie(ctx, w, token, expiry)
			case scs.Destroyed:
				m.WriteSessionCookie(ctx, w, "", time.Time{})
			}
			bw.flushTo(w)
		})
	}
}

// bufferedWriter holds a handler's response until the session is committed.
type bufferedWriter struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(status int) {
	if !b.wroteHeader {
		b.status, b.wroteHeader = status, true
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.wroteHeader = true
	return b.body.Write(p)
}

func (b *bufferedWriter) flushTo(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range b.header {
		if k == "Set-Cookie" {
			h[k] = append(h[k], v...)
			continue
		}
		h[k] = v
	}
	w.WriteHeader(b.status)
	w.Write(b.body.Bytes())
}
