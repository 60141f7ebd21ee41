package pages

import (
	"fmt"
	"strings"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/web/pages/templates"
)

// activityViews words events for the viewer: "You" for the viewer, names
// (or emails) for other people, "the system" for no one.
func activityViews(events []postgres.ActivityEvent, viewerID int64, now time.Time) []templates.Activity {
	views := make([]templates.Activity, 0, len(events))
	for _, e := range events {
		views = append(views, templates.Activity{At: e.OccurredAt, Text: activitySentence(e, viewerID), Ago: ago(now.Sub(e.OccurredAt))})
	}
	return views
}

func activitySentence(e postgres.ActivityEvent, viewerID int64) string {
	actor := person(e.ActorID, e.ActorName, e.ActorEmail, viewerID, "the system")
	target := person(e.TargetID, e.TargetName, e.TargetEmail, viewerID, "someone")
	var s string
	switch e.Action {
	case deal.ActionDealCreated:
		s = actor + " created this deal"
	case deal.ActionDealSelected:
		s = actor + " selected this deal"
	case deal.ActionDealRestored:
		s = "This deal was restored for " + objective(actor) + " from the last visit"
	case deal.ActionRestoreDenied:
		s = "This deal could no longer be restored for " + objective(actor)
	case deal.ActionDealCleared:
		s = actor + " stopped working in this deal"
	case deal.ActionDealDeleted:
		s = actor + " deleted this deal"
	case deal.ActionMemberAdded:
		s = target + " was added by " + objective(actor)
	case deal.ActionMemberRemoved:
		s = target + " was removed by " + objective(actor)
	default:
		s = actor + " did something (" + e.Action + ")"
	}
	return capitalize(s)
}

// person names a user for the viewer.
func person(id int64, name, email string, viewerID int64, nobody string) string {
	switch {
	case id == 0:
		return nobody
	case id == viewerID:
		return "You"
	case name != "":
		return name
	case email != "":
		return email
	}
	return fmt.Sprintf("user #%d", id)
}

func objective(p string) string {
	if p == "You" {
		return "you"
	}
	return p
}

// capitalize starts a sentence that begins with a placeholder with a
// capital; people's names are left as they wrote them.
func capitalize(s string) string {
	for _, p := range []string{"the system", "someone"} {
		if strings.HasPrefix(s, p) {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return s
}

// ago says how long ago d was, as people say it.
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < 2*time.Minute:
		return "1 minute ago"
	case d < time.Hour:
		return fmt.Sprintf("%d minutes ago", int(d/time.Minute))
	case d < 2*time.Hour:
		return "1 hour ago"
	case d < 24*time.Hour:
		return fmt.Sprintf("%d hours ago", int(d/time.Hour))
	case d < 48*time.Hour:
		return "yesterday"
	}
	return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
}
