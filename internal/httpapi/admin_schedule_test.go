package httpapi

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/jobs"
)

// TestAdminPageShowsTheSchedule signs an admin in over a real database and
// checks that /admin lists every job of jobs.Jobs() with its spec, where the
// spec comes from, and its next three runs as the worker computes them:
// what `asynq cron ls` cannot show.
func TestAdminPageShowsTheSchedule(t *testing.T) {
	t.Parallel()
	h, cookie, cfg := newTestServer(t, map[string]string{
		"SESSION_CLEANUP_CRON": "CRON_TZ=UTC 30 3 * * 1", // Mondays at 03:30 UTC
		"AUDIT_SWEEP_CRON":     "@every 1m",
		// PRUNE_STALE_DEALS_CRON unset: the default.
	}, testUser{"ada@example.com", "Ada", "admin-password", true})

	before := time.Now()
	req := httptest.NewRequest("GET", "/admin", nil)
	req.AddCookie(cookie)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	after := time.Now()
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /admin as admin: got %d %s, want 200", rec.Code, rec.Body)
	}
	page := rec.Body.String()

	entries, err := jobs.Schedule(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(jobs.Jobs()) {
		t.Fatalf("jobs.Schedule: got %d entries, want one per job (%d)", len(entries), len(jobs.Jobs()))
	}
	from := map[string]string{
		jobs.JobSessionCleanup:  "(SESSION_CLEANUP_CRON)",
		jobs.JobPruneStaleDeals: "(PRUNE_STALE_DEALS_CRON, the default)",
		jobs.JobAuditFlush:      "(AUDIT_SWEEP_CRON)",
	}
	spec := map[string]string{
		jobs.JobSessionCleanup:  "CRON_TZ=UTC 30 3 * * 1",
		jobs.JobPruneStaleDeals: "0 * * * *",
		jobs.JobAuditFlush:      "@every 1m",
	}
	timeRE := regexp.MustCompile(`<time datetime="([^"]+)">[^<]+</time>`)
	for _, e := range entries {
		head := "<strong>" + e.Name + "</strong> <code>" + spec[e.Name] + "</code> " + from[e.Name] + "; next "
		i := strings.Index(page, head)
		if i < 0 {
			t.Errorf("/admin: missing %q in\n%s", head, page)
			continue
		}
		line := page[i:]
		line = line[:strings.Index(line, "</li>")]
		var got []string
		for _, m := range timeRE.FindAllStringSubmatch(line, -1) {
			got = append(got, m[1])
		}
		// The worker's own computation, from a moment before or after the
		// request.
		want := func(now time.Time) string {
			var out []string
			for _, t := range e.Next(now, 3) {
				out = append(out, t.UTC().Format(time.RFC3339))
			}
			return strings.Join(out, " ")
		}
		if g := strings.Join(got, " "); g != want(before) && g != want(after) {
			t.Errorf("%s: got next runs %q, want %q (as the worker computes them)", e.Name, g, want(before))
			continue
		}
		// And what a reader checks by hand.
		first, _ := time.Parse(time.RFC3339, got[0])
		switch e.Name {
		case jobs.JobSessionCleanup:
			if first.Weekday() != time.Monday || first.Hour() != 3 || first.Minute() != 30 || first.Sub(before) > 7*24*time.Hour {
				t.Errorf("%s: first run %v, want the next Monday 03:30 UTC", e.Name, first)
			}
		case jobs.JobPruneStaleDeals:
			if first.Minute() != 0 || first.Sub(before) > time.Hour {
				t.Errorf("%s: first run %v, want the next whole hour", e.Name, first)
			}
		case jobs.JobAuditFlush:
			if first.Second() != 0 || first.Sub(before) > time.Minute {
				t.Errorf("%s: first run %v, want the next whole minute (aligned @every)", e.Name, first)
			}
		}
	}
}
