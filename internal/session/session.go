// Package session provides the scs session manager, the session stores
// (PostgreSQL, Redis, tiered) and the session health check.
package session

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/postgres"
)

// Keys stored in a session (the device record's keys are in record.go).
const (
	keyUserID = "user_id"
	keyDealID = "deal_id"
	// keyDealGone marks that the user's last deal could not be restored
	// (revoked or deleted), so a page can say so once.
	keyDealGone = "deal_gone"
)

// CookieName is the session cookie's name.
const CookieName = "session"

// StoreMode names a session store: tiered, redis or postgres (the values of
// SESSION_STORE's config constants).
type StoreMode string

// The store modes.
const (
	ModeTiered   StoreMode = config.StoreTiered
	ModeRedis    StoreMode = config.StoreRedis
	ModePostgres StoreMode = config.StorePostgres
)

// store is what the Manager needs of a session store beyond scs's: the
// user's sessions and a revocation of many at once, tombstoned exactly as
// a logout tombstones one.
type store interface {
	scs.CtxStore
	// userTokens lists every token the user may still hold anywhere,
	// revoked ones included.
	userTokens(ctx context.Context, userID int64) ([]string, error)
	// userSessions lists the user's live sessions.
	userSessions(ctx context.Context, userID int64) ([]postgres.StoredSession, error)
	// revokeAll tombstones the tokens, as DeleteCtx does one.
	revokeAll(ctx context.Context, tokens []string) error
}

// Manager is the application's session layer: scs underneath (never exposed,
// so every write keeps the per-request cache true), the session keys, the
// device record, the idle timeout, and every way a session ends.
type Manager struct {
	sm *scs.SessionManager
	st store // nil when the scs store is not one of this package's
	// Mode names the store in use.
	Mode StoreMode
	// tiered is the store when Mode is tiered, for its breaker and loop.
	tiered *TieredStore
	// redis is the Redis store when it is the record (redis mode).
	redis *RedisStore
	db    *postgres.DB
	log   *slog.Logger
	opts  Options
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
	// IdleTimeout ends a session unused this long (0: never).
	IdleTimeout time.Duration
	// TouchEvery is how stale a session's last-seen time may get before a
	// request writes it again; zero is DefaultTouchEvery(IdleTimeout), and
	// it is never more than half the idle timeout.
	TouchEvery time.Duration
	// DB holds remember tokens and the audit trail, for the revocations
	// that end those too; nil disables that part.
	DB *postgres.DB
	// Logger receives the theft warning (slog.Default()).
	Logger *slog.Logger
	// Codec is the payload format written (both formats are always read).
	Codec Codec
	// Now is the clock (time.Now); tests move it.
	Now func() time.Time
}

// DefaultTouchEvery is how often a session read without change writes its
// last-seen time: every five minutes, or every sixteenth of the idle
// timeout when that is shorter. Each touch is a PostgreSQL write and a Redis
// write, so with a minute, ten thousand sessions in use cost 167 writes a
// second for the last-seen time alone; five minutes cut that fivefold. The
// idle timeout counts from the stored time, so a session can end at most
// TouchEvery early: five minutes of the 8 h default (about 1%), a sixteenth
// of a shorter timeout. The sessions page shows the last request to within
// TouchEvery.
func DefaultTouchEvery(idle time.Duration) time.Duration {
	every := 5 * time.Minute
	if idle > 0 && idle/16 < every {
		every = idle / 16
	}
	return every
}

// NewManager returns a Manager over st. Cookies are HttpOnly, SameSite=Lax,
// Path=/, persistent, and Secure unless opts.CookieSecure is false.
func NewManager(st scs.CtxStore, mode StoreMode, opts Options) *Manager {
	if opts.TouchEvery <= 0 {
		opts.TouchEvery = DefaultTouchEvery(opts.IdleTimeout)
	}
	if opts.IdleTimeout > 0 && opts.TouchEvery > opts.IdleTimeout/2 {
		// A session in use must be seen more often than it may idle.
		opts.TouchEvery = opts.IdleTimeout / 2
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	sm := scs.New()
	sm.Store = st
	sm.Codec = opts.Codec
	sm.Lifetime = opts.Lifetime
	sm.Cookie.Name = CookieName
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Path = "/"
	sm.Cookie.Persist = true
	sm.Cookie.Secure = opts.CookieSecure
	m := &Manager{sm: sm, Mode: mode, db: opts.DB, log: opts.Logger, opts: opts}
	m.st, _ = st.(store)
	switch s := st.(type) {
	case *TieredStore:
		m.tiered = s
	case *RedisStore:
		m.redis = s
	}
	return m
}

// ids is the per-request cache of the session's user and deal. Every request
// reads them several times (requireUser, auto-restore, the handler), and each
// read through scs allocates (it boxes its string-typed context key), so the
// first read fills the cache and later ones are free. The Manager's write
// methods below invalidate it; nothing else can write the session. It also
// holds what LoadAndSave saw of the request, for the device record.
type ids struct {
	loaded bool
	// sealed is set once LoadAndSave committed (or failed to commit): the
	// response has started, so the session may no longer change.
	sealed bool
	// writes counts the session's changes; committed is what InTx
	// committed, at which count.
	writes    uint64
	committed *committed
	// discard drops the request's session changes: InTx failed to commit
	// them with its transaction.
	discard        bool
	userID, dealID int64
	// gens are the access generation copies of gensUser and gensDeal read
	// with the session (RedisStore.find), nil when none were.
	gens               []any
	gensUser, gensDeal int64
	peer, ua           string
}

type idsKey struct{}

// load loads the session for token, as scs does, with an empty ids cache.
func (m *Manager) load(ctx context.Context, token string) (context.Context, error) {
	// In the context before the store reads: the Redis store leaves the
	// generation copies it read with the session there.
	ctx = context.WithValue(ctx, idsKey{}, &ids{})
	return m.sm.Load(ctx, token)
}

func (m *Manager) ids(ctx context.Context) (userID, dealID int64) {
	c, _ := ctx.Value(idsKey{}).(*ids)
	if c == nil {
		return 0, 0 // no session loaded (a context from outside a request)
	}
	if !c.loaded {
		c.userID, c.dealID, c.loaded = m.sm.GetInt64(ctx, keyUserID), m.sm.GetInt64(ctx, keyDealID), true
	}
	return c.userID, c.dealID
}

// loaded reports whether ctx carries a session (LoadAndSave's or load's).
func loaded(ctx context.Context) bool {
	c, _ := ctx.Value(idsKey{}).(*ids)
	return c != nil
}

// token is the request's session token, or "" when it has none.
func (m *Manager) token(ctx context.Context) string {
	if !loaded(ctx) {
		return ""
	}
	return m.sm.Token(ctx)
}

// forget invalidates the cache before a write; every write of the session
// goes through it, so it also refuses writes after the response started.
func forget(ctx context.Context) {
	if c, _ := ctx.Value(idsKey{}).(*ids); c != nil {
		if c.sealed {
			panic("session: changed after the response started; change the session before writing the response")
		}
		c.loaded = false
		c.writes++
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

// put stores a value in the session, keeping the cache true.
func (m *Manager) put(ctx context.Context, key string, val any) {
	forget(ctx)
	m.sm.Put(ctx, key, val)
}

// remove deletes a key from the session, keeping the cache true.
func (m *Manager) remove(ctx context.Context, key string) {
	forget(ctx)
	m.sm.Remove(ctx, key)
}

// Destroy ends the request's session (logout): a tombstone in every store
// the mode uses, queued for Redis when it cannot take it.
func (m *Manager) Destroy(ctx context.Context) error {
	forget(ctx)
	return m.sm.Destroy(ctx)
}

// Origin says where a sign-in came from, for the device record.
type Origin struct {
	// IP is the client's address as the caller derives it (httpapi's
	// clientIP); "" records the connection's peer address.
	IP string
	// RememberSelector is the remember token's selector when the sign-in
	// came from a remember-me cookie.
	RememberSelector string
}

// SignIn is SignInFrom with the connection's peer address and no remember
// token.
func (m *Manager) SignIn(ctx context.Context, userID int64) error {
	return m.SignInFrom(ctx, userID, Origin{})
}

// SignInFrom renews the session token (against fixation), stores the user
// and starts the session's device record: created and last seen now, the
// client IP, the request's User-Agent, and the remember token it came from.
func (m *Manager) SignInFrom(ctx context.Context, userID int64, o Origin) error {
	forget(ctx)
	if err := m.sm.RenewToken(ctx); err != nil {
		return err
	}
	now := m.opts.Now().Unix()
	c, _ := ctx.Value(idsKey{}).(*ids)
	ip, ua := o.IP, ""
	if c != nil {
		if ip == "" {
			ip = c.peer
		}
		ua = c.ua
	}
	m.remove(ctx, keyDealID)
	m.remove(ctx, keyChecked) // a decision was another sign-in's
	m.put(ctx, keyUserID, userID)
	m.put(ctx, keyCreatedAt, now)
	m.put(ctx, keySeenAt, now)
	m.put(ctx, keyIP, ip)
	m.put(ctx, keyUserAgent, ua)
	m.remove(ctx, keyRemember)
	m.remove(ctx, keyRemembered)
	if o.RememberSelector != "" {
		m.put(ctx, keyRemember, o.RememberSelector)
		m.put(ctx, keyRemembered, true)
	}
	return nil
}

// BindRememberToken records the remember token a password sign-in created
// for this device, so ending the session also deletes that token.
func (m *Manager) BindRememberToken(ctx context.Context, selector string) {
	m.put(ctx, keyRemember, selector)
}

// SetDeal stores the current deal, without a checked decision (SetChecked
// records one).
func (m *Manager) SetDeal(ctx context.Context, dealID int64) {
	m.remove(ctx, keyDealGone)
	m.remove(ctx, keyChecked)
	m.put(ctx, keyDealID, dealID)
}

// FlagDealGone records that the user's last deal was revoked or deleted.
func (m *Manager) FlagDealGone(ctx context.Context) { m.put(ctx, keyDealGone, true) }

// PopDealGone reports, once, whether FlagDealGone was called since the last
// selection.
func (m *Manager) PopDealGone(ctx context.Context) bool {
	forget(ctx)
	return m.sm.PopBool(ctx, keyDealGone)
}

// ClearDeal removes the current deal.
func (m *Manager) ClearDeal(ctx context.Context) { m.remove(ctx, keyDealID) }
