package pages

import (
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
)

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
