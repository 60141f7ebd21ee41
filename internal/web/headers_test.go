package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestSecurityHeadersFitWhatTheHandlerWrote(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		handler      http.HandlerFunc
		wantCSP      string
		wantCache    string
		wantHSTS     bool
		secureCookie bool
	}{
		{
			name: "page without its own CSP",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				write(t, w, "<!doctype html><h1>Deals</h1>")
			},
			wantCSP: pageCSP, wantCache: "no-store",
		},
		{
			name: "page that only writes, content type sniffed",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Del("Content-Type")
				write(t, w, "<!doctype html><h1>Deals</h1>")
			},
			wantCSP: pageCSP, wantCache: "no-store",
		},
		{
			name: "page with a CSP that forgets framing",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("Content-Security-Policy", "default-src 'self'")
				w.WriteHeader(http.StatusOK)
			},
			wantCSP: "default-src 'self'; frame-ancestors 'none'", wantCache: "no-store",
		},
		{
			name: "cacheable asset",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/css")
				w.Header().Set("Cache-Control", "public, max-age=3600")
				write(t, w, "h1{}")
			},
			wantCSP: defaultCSP, wantCache: "public, max-age=3600",
		},
		{
			name: "a cookie overrides a handler's caching",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "public, max-age=3600")
				http.SetCookie(w, &http.Cookie{Name: "session", Value: "x"})
				w.Header().Set("Content-Type", "text/html")
				write(t, w, "<p>hi")
			},
			wantCSP: pageCSP, wantCache: "no-store",
		},
		{
			name: "JSON with secure cookies",
			handler: func(w http.ResponseWriter, r *http.Request) {
				WriteJSON(w, http.StatusOK, map[string]int{"a": 1})
			},
			wantCSP: defaultCSP, wantCache: "no-store", wantHSTS: true, secureCookie: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			SecurityHeaders(tc.secureCookie)(tc.handler).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			h := rec.Result().Header
			if got := h.Get("Content-Security-Policy"); got != tc.wantCSP {
				t.Errorf("Content-Security-Policy: got %q, want %q", got, tc.wantCSP)
			}
			if got := h.Get("Cache-Control"); got != tc.wantCache {
				t.Errorf("Cache-Control: got %q, want %q", got, tc.wantCache)
			}
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options: got %q, want nosniff", got)
			}
			if got := h.Get("Referrer-Policy"); got != "same-origin" {
				t.Errorf("Referrer-Policy: got %q, want same-origin", got)
			}
			if got := h.Get("Strict-Transport-Security") != ""; got != tc.wantHSTS {
				t.Errorf("Strict-Transport-Security present: got %v, want %v", got, tc.wantHSTS)
			}
		})
	}
}

// write writes s as a case's response body.
func write(t *testing.T, w http.ResponseWriter, s string) {
	t.Helper()
	if _, err := io.WriteString(w, s); err != nil {
		t.Errorf("write %q: %v", s, err)
	}
}
