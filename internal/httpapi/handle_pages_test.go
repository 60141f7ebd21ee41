package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
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
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q): got %q, want %q", next, got, want)
			continue
		}
		if want == "" {
			continue
		}
		// The final Location is exactly what safeNext decided on.
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

// TestActivitySentence words audit events as a person reads them.
func TestActivitySentence(t *testing.T) {
	t.Parallel()
	const me, bob, alice = 1, 2, 3
	now := time.Now()
	for _, c := range []struct {
		e    postgres.ActivityEvent
		want string
	}{
		{postgres.ActivityEvent{Action: deal.ActionDealSelected, ActorID: me}, "You selected this deal"},
		{postgres.ActivityEvent{Action: deal.ActionMemberRemoved, ActorID: alice, ActorName: "Alice", TargetID: bob, TargetName: "Bob"}, "Bob was removed by Alice"},
		{postgres.ActivityEvent{Action: deal.ActionMemberAdded, ActorID: me, TargetID: bob, TargetEmail: "bob@example.com"}, "bob@example.com was added by you"},
		{postgres.ActivityEvent{Action: deal.ActionDealCreated, ActorID: 0}, "The system created this deal"},
	} {
		if got := activitySentence(c.e, me); got != c.want {
			t.Errorf("%s: got %q, want %q", c.e.Action, got, c.want)
		}
	}
	for d, want := range map[time.Duration]string{10 * time.Second: "just now", 2 * time.Minute: "2 minutes ago", 3 * time.Hour: "3 hours ago", 72 * time.Hour: "3 days ago"} {
		if got := activityViews([]postgres.ActivityEvent{{OccurredAt: now.Add(-d)}}, me, now)[0].Ago; got != want {
			t.Errorf("ago(%v): got %q, want %q", d, got, want)
		}
	}
}
