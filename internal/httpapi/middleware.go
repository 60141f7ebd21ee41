package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/dealctx/dealctx/internal/auth"
	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/logging"
	"github.com/dealctx/dealctx/internal/session"
	"github.com/go-chi/chi/v5"
)

var (
	errRouteNotFound    = deal.Errorf(deal.ENOTFOUND, "No such route.")
	errMethodNotAllowed = deal.Errorf(deal.EINVALID, "Method not allowed on this route.")
	errSignIn           = deal.Errorf(deal.EUNAUTHORIZED, "Sign in first.")
)

// requestID gives every request an id (a well-formed incoming X-Request-ID is
// kept), echoes it in the response, and puts it in the context for logs.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			b := make([]byte, 8)
			rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(logging.WithRequestID(r.Context(), id)))
	})
}

func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// recoverer turns a panic into a logged 500 in the contract's shape.
func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.ErrorContext(r.Context(), "panic", "value", v, "stack", string(debug.Stack()))
				s.errs.write(w, r, deal.Errorf(deal.EINTERNAL, "An internal error occurred."))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// defaultCSP is the policy of a response that sets none: load nothing, never
// be framed. HTML without a policy of its own gets pageCSP instead.
const defaultCSP = "default-src 'none'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries. At the moment
// the status is written it also makes sure that a response setting a cookie
// is never cached and that every response forbids framing, whatever CSP a
// handler chose.
func securityHeaders(hsts bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("X-Frame-Options", "DENY")
			if hsts {
				h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
			}
			// Private and unframeable by default; a handler that serves
			// something cacheable (a static asset) or needs its own CSP
			// replaces these.
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Security-Policy", defaultCSP)
			next.ServeHTTP(&headerGuard{ResponseWriter: w}, r)
		})
	}
}

// headerGuard applies the last header rules just before the status line.
type headerGuard struct {
	http.ResponseWriter
	done bool
}

func (g *headerGuard) guard() {
	if g.done {
		return
	}
	g.done = true
	h := g.ResponseWriter.Header()
	if len(h.Values("Set-Cookie")) > 0 {
		h.Set("Cache-Control", "no-store")
	}
	switch csp := h.Get("Content-Security-Policy"); {
	case csp == defaultCSP && strings.HasPrefix(h.Get("Content-Type"), "text/html"):
		h.Set("Content-Security-Policy", pageCSP)
	case csp == "":
		h.Set("Content-Security-Policy", defaultCSP)
	case !strings.Contains(csp, "frame-ancestors"):
		h.Set("Content-Security-Policy", csp+"; frame-ancestors 'none'")
	}
}

func (g *headerGuard) WriteHeader(status int) {
	g.guard()
	g.ResponseWriter.WriteHeader(status)
}

func (g *headerGuard) Write(p []byte) (int, error) {
	if !g.done && g.ResponseWriter.Header().Get("Content-Type") == "" {
		// What net/http would sniff anyway, decided here so the CSP fits.
		g.ResponseWriter.Header().Set("Content-Type", http.DetectContentType(p))
	}
	g.guard()
	return g.ResponseWriter.Write(p)
}

func (g *headerGuard) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// limitBody refuses declared bodies over 1 MiB before anything reads them;
// decode enforces the limit on bodies of unknown length.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBodyBytes {
			w.Header().Set("Connection", "close")
			writeJSONError(w, http.StatusRequestEntityTooLarge, deal.ETOOLARGE, "The body must be at most 1 MiB.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	var body errorBody
	body.Error.Code, body.Error.Message = code, msg
	writeJSON(w, status, body)
}

// crossOrigin refuses unsafe requests from other origins with 403
// cross_origin, using the standard library's CrossOriginProtection.
func (s *server) crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.errs.write(w, r, deal.Errorf(deal.ECROSSORIGIN, "Cross-origin requests are not allowed."))
	}))
	return cop.Handler(next)
}

// RememberCookieName is the remember-me cookie's name.
const RememberCookieName = "remember_token"

func (s *server) setRememberCookie(w http.ResponseWriter, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name: RememberCookieName, Value: value, Path: "/",
		HttpOnly: true, Secure: s.Config.CookieSecure, SameSite: http.SameSiteLaxMode,
	}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge.Seconds())
		c.Expires = time.Now().Add(maxAge)
	}
	http.SetCookie(w, c)
}

// remember signs in a request that has no signed-in session but a valid
// remember-me cookie, rotating the cookie's validator.
func (s *server) remember(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(RememberCookieName)
		if err != nil || s.Sessions.UserID(r.Context()) != 0 {
			next.ServeHTTP(w, r)
			return
		}
		tok, ok := auth.ParseRememberToken(c.Value)
		if !ok {
			s.setRememberCookie(w, "", 0)
			next.ServeHTTP(w, r)
			return
		}
		res, err := s.DB.UseRememberToken(r.Context(), tok, s.Config.RememberGraceWindow)
		if err != nil {
			// Not fatal: the request goes on signed out, the cookie kept.
			s.Logger.WarnContext(r.Context(), "remember token check failed", "err", err)
			next.ServeHTTP(w, r)
			return
		}
		switch {
		case res.Theft:
			if err := s.Sessions.EndTheft(r.Context(), s.actor(r), res.TheftUserID); err != nil {
				s.Logger.ErrorContext(r.Context(), "remember token theft: sessions not ended", "user_id", res.TheftUserID, "err", err)
			}
			s.setRememberCookie(w, "", 0)
		case res.UserID == 0:
			s.setRememberCookie(w, "", 0)
		default:
			if err := s.Sessions.SignInFrom(r.Context(), res.UserID, session.Origin{IP: clientIP(r), RememberSelector: tok.Selector}); err != nil {
				s.errs.sessionError(w, r, err)
				return
			}
			if res.NewValidator != "" {
				tok.Validator = res.NewValidator
				s.setRememberCookie(w, tok.String(), s.Config.RememberDuration)
			}
			s.Logger.InfoContext(r.Context(), "signed in from remember token", "user_id", res.UserID)
		}
		next.ServeHTTP(w, r)
	})
}

// requireUser answers 401 unless the session is signed in. It does no I/O.
func (s *server) requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Sessions.UserID(r.Context()) == 0 {
			s.errs.write(w, r, errSignIn)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type restoredKey struct{}

// restoredDeal returns the deal autoRestore put in the session during this
// request, if any.
func restoredDeal(ctx context.Context) (deal.Deal, bool) {
	d, ok := ctx.Value(restoredKey{}).(deal.Deal)
	return d, ok
}

// autoRestore brings a signed-in session's deal back from the database when
// the session lacks it. When the session has a deal it does no I/O at all.
// Failures are logged and the request goes on.
func (s *server) autoRestore(next http.Handler) http.Handler {
	if !s.Config.AutoRestoreDeal {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Sessions.DealID(r.Context()) != 0 {
			next.ServeHTTP(w, r)
			return
		}
		if d, ok := s.restorer.restore(r.Context(), s.actor(r)); ok {
			r = r.WithContext(context.WithValue(r.Context(), restoredKey{}, d))
		}
		next.ServeHTTP(w, r)
	})
}

// instrument records each request's latency by route pattern and writes one
// access-log line (method, route pattern, status, duration; the request id
// comes from the context). Paths, query strings, headers and cookies are
// never logged: they can carry secrets. Probes and scrapes log at debug.
func (s *server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		d := time.Since(start)
		method, route := boundedMethod(r.Method), routePattern(r)
		s.metrics.observeRequest(method, route, sw.status, d)
		level := slog.LevelInfo
		if quietRoutes[route] {
			level = slog.LevelDebug
		}
		s.Logger.LogAttrs(r.Context(), level, "request",
			slog.String("method", method),
			slog.String("route", route),
			slog.Int("status", sw.status),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			slog.Int64("bytes", sw.bytes),
		)
	})
}

// quietRoutes are polled by machines; their access lines are debug-level.
var quietRoutes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// routePattern is the chi pattern that served r, or unmatchedRoute: never
// the raw path, so metric labels and logs stay bounded and free of ids.
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	return unmatchedRoute
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
