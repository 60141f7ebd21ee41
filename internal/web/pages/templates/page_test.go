package templates

import (
	"strings"
	"testing"

	"github.com/dealctx/dealctx/internal/deal"
)

// TestEveryPageRendersItsOwnStruct executes each page's template with its
// own struct, so a template that names a field its page does not have (or
// a page with no template) fails here rather than on a user's screen.
func TestEveryPageRendersItsOwnStruct(t *testing.T) {
	t.Parallel()
	set := New()
	user := &deal.User{ID: 1, Email: "ada@example.com", Name: "Ada", IsAdmin: true}
	layout := Layout{User: user}
	for _, p := range []Page{
		&LoginPage{Layout: layout, Error: "Wrong email or password."},
		&SelectorPage{Layout: layout, Deals: []deal.Deal{{ID: 1, Name: "Acme", Role: deal.RoleOwner}}, CurrentID: 1},
		&DealPage{Layout: layout, Deal: deal.Deal{ID: 1, Name: "Acme"}, Manage: true, Events: []Activity{{Text: "You created this deal"}}},
		&DealDeletePage{Layout: layout, Deal: deal.Deal{ID: 1, Name: "Acme"}},
		&AccountPage{Layout: layout, PasswordError: "Too short."},
		&SessionsPage{Layout: layout, Devices: []Device{{ID: "d1", Name: "Firefox on Linux", Current: true}}},
		&ErrorPage{Title: "Page not found", Status: 404},
		&AdminPage{Layout: layout, Windows: []Window{{Title: "Last 24 hours", Figures: []Figure{{Name: "Sign-ins", Value: "3"}}}},
			Charts:   []Chart{{Title: "Sign-ins by day", Bars: []Bar{{Day: "Mon 1 Dec", Value: "3"}}}},
			Schedule: []ScheduledJob{{Name: "audit-flush", Spec: "@every 15s", Next: []Run{{ISO: "2026-12-01T00:00:15Z", Text: "Tue 1 Dec 00:00:15 UTC"}}}}},
	} {
		b, err := set.Render(p)
		if err != nil {
			t.Errorf("%T: %v", p, err)
			continue
		}
		if html := string(b); !strings.HasPrefix(html, "<!doctype html>") || !strings.Contains(html, "?v="+set.Asset) || !strings.Contains(html, "</html>") {
			t.Errorf("%T: got %q, want a whole page with the assets' version %s", p, html, set.Asset)
		}
	}
}
