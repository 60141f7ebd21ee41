//go:build bench

package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// BenchmarkCurrentDealFromCheckedState is the hot request as issue #24
// serves it: GET /api/deals/current on a process other than the one that
// selected, the decision served from the session while its generations'
// Redis copies match (a session GET and one MGET, no PostgreSQL). Profile it
// with -cpuprofile to see what the api's own code costs.
func BenchmarkCurrentDealFromCheckedState(b *testing.B) {
	f := setupAccess(b)
	m := f.signIn(b, "member@example.com")
	m.selectDeal(f.a, f.dealID)
	u, _ := url.Parse(f.b.URL)
	var cookie string
	for _, c := range m.c.Jar.Cookies(u) {
		if c.Name == "session" {
			cookie = c.Value
		}
	}
	h := f.apps[1].Handler
	req := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/api/deals/current", nil)
		r.Header.Set("Cookie", "session="+cookie)
		return r
	}
	// The first request re-checks (this process has not seen the session);
	// the rest are the steady state.
	h.ServeHTTP(httptest.NewRecorder(), req())
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req())
		if rec.Code != http.StatusOK {
			b.Fatalf("got %d, want 200", rec.Code)
		}
	}
}
