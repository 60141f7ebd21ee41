package web

import (
	"net/http"
	"strings"
)

// defaultCSP is the policy of a response that sets none: load nothing, never
// be framed. HTML without a policy of its own gets pageCSP instead.
const defaultCSP = "default-src 'none'; frame-ancestors 'none'"

// pageCSP allows only the api's own scripts, styles and images: no inline
// script, no framing, forms only to this site.
const pageCSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// SecurityHeaders sets the headers every response carries. At the moment
// the status is written it also makes sure that a response setting a cookie
// is never cached and that every response forbids framing, whatever CSP a
// handler chose.
func SecurityHeaders(hsts bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The values are shared, immutable one-element slices assigned
			// under their canonical keys: no canonicalization and no
			// allocation per request. A later Set replaces a slice and an
			// Add copies it (len == cap), so none is ever written through.
			h := w.Header()
			h["X-Content-Type-Options"] = nosniff
			h["Referrer-Policy"] = sameOrigin
			h["X-Frame-Options"] = deny
			if hsts {
				h["Strict-Transport-Security"] = hstsValue
			}
			// Private and unframeable by default; a handler that serves
			// something cacheable (a static asset) or needs its own CSP
			// replaces these.
			h["Cache-Control"] = noStore
			h["Content-Security-Policy"] = defaultCSPValue
			next.ServeHTTP(&headerGuard{ResponseWriter: w}, r)
		})
	}
}

// The header values SecurityHeaders assigns, each a full slice (len == cap).
var (
	nosniff         = []string{"nosniff"}
	sameOrigin      = []string{"same-origin"}
	deny            = []string{"DENY"}
	hstsValue       = []string{"max-age=31536000; includeSubDomains"}
	noStore         = []string{"no-store"}
	defaultCSPValue = []string{defaultCSP}
	pageCSPValue    = []string{pageCSP}
)

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
	h := g.Header()
	if len(h["Set-Cookie"]) > 0 {
		h["Cache-Control"] = noStore
	}
	switch csp := h.Get("Content-Security-Policy"); {
	case csp == defaultCSP && strings.HasPrefix(h.Get("Content-Type"), "text/html"):
		h["Content-Security-Policy"] = pageCSPValue
	case csp == "":
		h["Content-Security-Policy"] = defaultCSPValue
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

// PageHeaders marks page responses uncacheable and confines what they load.
func PageHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", pageCSP)
		next.ServeHTTP(w, r)
	})
}
