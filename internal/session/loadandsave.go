// LoadAndSave, the middleware every request goes through: it loads the
// session, ends it when idle, runs the handler into a buffer, commits, and
// keeps the last-seen time fresh.

package session

import (
	"bytes"
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
			bw := &bufferedWriter{header: make(http.Header), status: http.StatusOK}
			next.ServeHTTP(bw, r)

			stale := m.touch(ctx)
			switch m.sm.Status(ctx) {
			case scs.Modified:
				token, expiry, err := m.sm.Commit(ctx)
				if err != nil {
					onError(w, r, err)
					return
				}
				m.sm.WriteSessionCookie(ctx, w, token, expiry)
			case scs.Destroyed:
				m.sm.WriteSessionCookie(ctx, w, "", time.Time{})
			}
			bw.flushTo(w)
			if stale {
				// After the response: the client does not wait for it.
				if f, ok := w.(http.Flusher); ok {
					f.Flush()
				}
				m.touchStored(ctx)
			}
		})
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
	if b, err = (Codec{}).Encode(deadline, values); err == nil {
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
