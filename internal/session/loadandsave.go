// LoadAndSave, the middleware every request goes through: it loads the
// session, ends it when idle, runs the handler, commits before the response
// starts, and keeps the last-seen time fresh.

package session

import (
	"context"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
)

// validToken reports whether s looks like an scs token (32 random bytes,
// base64url), so garbage cookies never reach a store.
func validToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// LoadAndSave replaces scs's middleware of the same name. It loads the
// session, runs next, and commits the session before the first byte of the
// response goes out (at the handler's first WriteHeader or Write, or when it
// returns having written nothing), so that a store failure yields onError's
// response alone: the handler never runs on a session that failed to load,
// and a failed commit never produces "500 plus the handler's output". The
// body is not buffered: it streams once the session is committed. Changing
// the session after the response started is a programming error and panics
// (the commit could no longer precede the output).
func (m *Manager) LoadAndSave(onError func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			addVaryCookie(w.Header())
			var token string
			if c, err := r.Cookie(CookieName); err == nil && validToken(c.Value) {
				token = c.Value
			}
			ctx, err := m.load(r.Context(), token)
			if err != nil {
				onError(w, r, err)
				return
			}
			c := ctx.Value(idsKey{}).(*ids)
			c.peer, c.ua = peerAddr(r), truncateUA(r.UserAgent())
			if err := m.endIfIdle(ctx); err != nil {
				onError(w, r, err)
				return
			}
			r = r.WithContext(ctx)
			cw := &commitWriter{w: w, header: make(http.Header), m: m, r: r, c: c, onError: onError}
			next.ServeHTTP(cw, r)
			if !cw.start() {
				return
			}
			if !cw.wroteHeader {
				w.WriteHeader(http.StatusOK)
			}
			if cw.stale {
				// After the response: the client does not wait for it.
				if f, ok := w.(http.Flusher); ok {
					f.Flush()
				}
				m.touchStored(ctx)
			}
		})
	}
}

// commitWriter holds a handler's headers until the session is committed,
// which it does at the first sign of a response; from then on it writes
// straight through, or, when the commit failed, discards the handler's
// output after onError's.
type commitWriter struct {
	w       http.ResponseWriter
	header  http.Header
	m       *Manager
	r       *http.Request
	c       *ids
	onError func(http.ResponseWriter, *http.Request, error)

	started, failed, wroteHeader bool
	// stale reports that the stored last-seen time needs touchStored.
	stale bool
}

func (cw *commitWriter) Header() http.Header { return cw.header }

// start commits the session once, then passes the handler's headers on;
// it reports whether the handler's output may be written.
func (cw *commitWriter) start() bool {
	if cw.started {
		return !cw.failed
	}
	cw.started = true
	ctx := cw.r.Context()
	if cw.c.discard {
		cw.c.sealed = true
		cw.passHeaders()
		return true
	}
	if done := cw.c.committed; done != nil && done.writes == cw.c.writes {
		// InTx committed the session with the handler's statements.
		cw.m.sm.WriteSessionCookie(ctx, cw.w, done.token, done.expiry)
		cw.c.sealed = true
		cw.passHeaders()
		return true
	}
	cw.stale = cw.m.touch(ctx)
	switch cw.m.sm.Status(ctx) {
	case scs.Modified:
		token, expiry, err := cw.m.sm.Commit(ctx)
		if err != nil {
			cw.failed = true
			cw.c.sealed = true
			cw.onError(cw.w, cw.r, err)
			return false
		}
		cw.m.sm.WriteSessionCookie(ctx, cw.w, token, expiry)
	case scs.Destroyed:
		cw.m.sm.WriteSessionCookie(ctx, cw.w, "", time.Time{})
	}
	cw.c.sealed = true
	cw.passHeaders()
	return true
}

// passHeaders moves the handler's headers to the response, after the
// session cookie.
func (cw *commitWriter) passHeaders() {
	h := cw.w.Header()
	for k, v := range cw.header {
		if k == "Set-Cookie" {
			h[k] = append(h[k], v...)
			continue
		}
		h[k] = v
	}
}

func (cw *commitWriter) WriteHeader(status int) {
	if cw.start() && !cw.wroteHeader {
		cw.wroteHeader = true
		cw.w.WriteHeader(status)
	}
}

func (cw *commitWriter) Write(p []byte) (int, error) {
	if !cw.start() {
		return len(p), nil
	}
	cw.wroteHeader = true
	return cw.w.Write(p)
}

// Flush commits the session if the handler has not written yet, then
// flushes what was written.
func (cw *commitWriter) Flush() {
	if !cw.start() {
		return
	}
	if !cw.wroteHeader {
		cw.WriteHeader(http.StatusOK)
	}
	if f, ok := cw.w.(http.Flusher); ok {
		f.Flush()
	}
}

// endIfIdle destroys a signed-in session unused longer than the idle
// timeout, so the request goes on signed out (and a remember-me cookie signs
// it straight back in). Only the last-seen time in the payload is read: the
// check costs nothing.
func (m *Manager) endIfIdle(ctx context.Context) error {
	if m.opts.IdleTimeout <= 0 || m.UserID(ctx) == 0 {
		return nil
	}
	if !m.recordOf(ctx).idle(m.opts.Now(), m.opts.IdleTimeout) {
		return nil
	}
	return m.Destroy(ctx)
}

// touch refreshes a signed-in session's last-seen time: for free when the
// session commits anyway, else (an unchanged session seen more than
// TouchEvery ago) it reports that the stored copy needs touchStored. So a
// session read without change is written at most once per TouchEvery.
func (m *Manager) touch(ctx context.Context) (stale bool) {
	if m.UserID(ctx) == 0 {
		return false
	}
	now := m.opts.Now()
	switch m.sm.Status(ctx) {
	case scs.Modified:
		m.sm.Put(ctx, keySeenAt, now.Unix())
	case scs.Unmodified:
		return now.Sub(m.recordOf(ctx).seenAt) >= m.opts.TouchEvery
	}
	return false
}

// touchStored writes the last-seen time into the session as stored now,
// not as this request loaded it, so a change another request committed
// meanwhile is kept. It is best effort: a failure only means the next
// request tries again.
func (m *Manager) touchStored(ctx context.Context) {
	token := m.token(ctx)
	if m.st == nil || token == "" {
		return
	}
	b, found, err := m.st.FindCtx(ctx, token)
	if err != nil || !found {
		return
	}
	deadline, values, err := Codec{}.Decode(b)
	if err != nil {
		return
	}
	values[keySeenAt] = m.opts.Now().Unix()
	if b, err = m.opts.Codec.Encode(deadline, values); err == nil {
		_ = m.st.CommitCtx(ctx, token, b, deadline)
	}
}

// recordOf reads the request's session's device record.
func (m *Manager) recordOf(ctx context.Context) record {
	var r record
	if !loaded(ctx) {
		return r
	}
	if s, ok := m.sm.Get(ctx, keySeenAt).(int64); ok {
		r.seenAt = time.Unix(s, 0)
	}
	r.rememberSelector = m.sm.GetString(ctx, keyRemember)
	return r
}

// peerAddr is the connection's peer address without its port.
func peerAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func truncateUA(ua string) string {
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	return strings.ToValidUTF8(ua, "")
}

// varyCookie is the Vary value every session response carries; it is a
// full slice (len == cap), so an Add after it copies rather than writes
// through.
var varyCookie = []string{"Cookie"}

// addVaryCookie adds "Vary: Cookie" without allocating when it is the first
// Vary value, which it is on every request.
func addVaryCookie(h http.Header) {
	if v := h["Vary"]; len(v) > 0 {
		h["Vary"] = append(v, "Cookie")
		return
	}
	h["Vary"] = varyCookie
}
