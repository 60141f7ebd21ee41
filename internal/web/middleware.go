package web

import (
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/logging"
	"github.com/go-chi/chi/v5"
)

var errSignIn = deal.Errorf(deal.EUNAUTHORIZED, "Sign in first.")

// RequestID gives every request an id (a well-formed incoming X-Request-ID is
// kept), echoes it in the response, and puts it in the context for logs.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		// Assigned under the canonical key: Set would canonicalize
		// "X-Request-ID" into a new string on every request.
		w.Header()[requestIDHeader] = []string{id}
		next.ServeHTTP(w, r.WithContext(logging.WithRequestID(r.Context(), id)))
	})
}

// requestIDHeader is X-Request-ID in net/http's canonical form.
const requestIDHeader = "X-Request-Id"

// newRequestID is 16 hex digits from the runtime's per-thread ChaCha8
// generator (math/rand/v2, seeded by the OS): unique enough to correlate
// logs, which is all an id is for, and several times cheaper than a
// crypto/rand system call on every request.
func newRequestID() string {
	var b [16]byte
	return string(strconv.AppendUint(b[:0], rand.Uint64()|1<<63, 16)[:16])
}

func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// Recoverer turns a panic into a logged 500 in the contract's shape.
func (s *Server) Recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.ErrorContext(r.Context(), "panic", "value", v, "stack", string(debug.Stack()))
				s.WriteError(w, r, deal.Errorf(deal.EINTERNAL, msgInternal))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// LimitBody refuses declared bodies over 1 MiB before anything reads them;
// decode and the form handlers enforce the limit on bodies of unknown length.
func (s *Server) LimitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBodyBytes {
			w.Header().Set("Connection", "close")
			s.WriteError(w, r, deal.Errorf(deal.ETOOLARGE, "The body must be at most 1 MiB."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CheckURL refuses, with 400, a request whose path or query parameters are
// not UTF-8 text or hold a NUL, before any handler reads them (the filters
// of /api/audit, next, path parameters).
func (s *Server) CheckURL(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := checkText("The address", r.URL.Path)
		if err == nil && r.URL.RawQuery != "" { // most requests have none: no map to parse it into
			err = checkValues("Query parameter", r.URL.Query())
		}
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CrossOrigin refuses unsafe requests from other origins with 403
// cross_origin, using the standard library's CrossOriginProtection: for the
// API and the pages' forms alike.
func (s *Server) CrossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.WriteError(w, r, deal.Errorf(deal.ECROSSORIGIN, "Cross-origin requests are not allowed."))
	}))
	return cop.Handler(next)
}

// RequireUser answers 401 unless the session is signed in. It does no I/O.
func (s *Server) RequireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Sessions.UserID(r.Context()) == 0 {
			s.WriteError(w, r, errSignIn)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequirePageUser sends a signed-out visitor to /login, remembering where
// they were going. It does no I/O.
func (s *Server) RequirePageUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Sessions.UserID(r.Context()) == 0 {
			http.Redirect(w, r, LoginURL(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Instrument records each request's latency by route pattern and writes one
// access-log line (method, route pattern, status, duration; the request id
// comes from the context). Paths, query strings, headers and cookies are
// never logged: they can carry secrets. Probes and scrapes log at debug.
func (s *Server) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		d := time.Since(start)
		method, route := boundedMethod(r.Method), s.routeOf(r)
		s.Metrics.observeRequest(method, route, sw.status, d)
		level := slog.LevelInfo
		if quietRoutes[route] {
			level = slog.LevelDebug
		}
		s.accessLog.Request(r.Context(), level, method, route, sw.status, d, sw.bytes)
	})
}

// quietRoutes are polled by machines; their access lines are debug-level.
var quietRoutes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// routePattern is the chi pattern that served r, or UnmatchedRoute: never
// the raw path, so metric labels and logs stay bounded and free of ids.
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	return UnmatchedRoute
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

// CloseWhenDraining asks the client to close its connection after each
// response once the process drains (App.Drain), so keep-alive clients and
// balancers reconnect to another process. The connection closes after a
// whole response, never under a request on its way: a server that closed
// idle connections itself would race a balancer reusing one.
func (s *Server) CloseWhenDraining(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Draining.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}
