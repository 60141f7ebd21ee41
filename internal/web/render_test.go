package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// TestSafeNext decides on the value http.Redirect finally sends: whatever
// a browser would resolve off-site falls back to the default ("").
func TestSafeNext(t *testing.T) {
	t.Parallel()
	for next, want := range map[string]string{
		"/deals/7":            "/deals/7",
		"/deals?x=1":          "/deals?x=1",
		"/a/./b/../c/":        "/a/c/",
		"/":                   "",
		"":                    "",
		"deals":               "",
		"//evil.com":          "",
		"/./\\evil.com":       "",
		"/.//evil.com":        "/evil.com",
		"/a/..//evil.com":     "/evil.com",
		"/\\evil.com":         "",
		"https://evil.com/":   "",
		"javascript:alert(1)": "",
		"/\t/evil.com":        "",
		"/x\r\nSet-Cookie: a": "",
		"/x\x7f":              "",
	} {
		if got := SafeNext(next); got != want {
			t.Errorf("safeNext(%q): got %q, want %q", next, got, want)
			continue
		}
		if want == "" {
			continue
		}
		// The final Location is exactly what SafeNext decided on.
		w := httptest.NewRecorder()
		http.Redirect(w, httptest.NewRequest("GET", "/login", nil), want, http.StatusSeeOther)
		if loc := w.Header().Get("Location"); loc != want {
			t.Errorf("http.Redirect(%q): got Location %q, want it unchanged", want, loc)
		}
		base, _ := url.Parse("https://dealctx.example/login")
		if u, err := base.Parse(want); err != nil || u.Host != base.Host {
			t.Errorf("safeNext(%q) = %q resolves to %v, want this site", next, want, u)
		}
	}
}
