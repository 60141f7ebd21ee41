package pages

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/jobs"
	"github.com/dealctx/dealctx/internal/session"
	"github.com/dealctx/dealctx/internal/web"
	"github.com/dealctx/dealctx/internal/web/pages/templates"
)

// The /admin page: the success figures (web.FindAdminStats, as GET
// /api/admin/stats reports them), their charts, and the jobs' schedule.

// errAdminPage is what /admin answers others: the 404 page, so the
// page's existence is not advertised.
var errAdminPage = deal.Errorf(deal.ENOTFOUND, "Page not found.")

// scheduleRuns is how many next runs the page shows per job, as many as
// `worker schedule` prints.
const scheduleRuns = 3

// schedule computes the worker's schedule from cfg the way the worker does
// (jobs.Schedule, each entry's aligned Schedule.Next from now in the
// process's time zone), shown in UTC. asynq's own tools (asynq cron ls,
// asynqmon) cannot list it: it is the worker's loop, not asynq's
// Scheduler.
func schedule(cfg config.Config, now time.Time) ([]templates.ScheduledJob, error) {
	entries, err := jobs.Schedule(cfg)
	if err != nil {
		return nil, err
	}
	out := make([]templates.ScheduledJob, 0, len(entries))
	for _, e := range entries {
		v := templates.ScheduledJob{Name: e.Name, Spec: e.Spec, From: e.Env}
		if e.Spec == e.DefaultSpec() {
			v.From += ", the default"
		}
		for _, t := range e.Next(now, scheduleRuns) {
			t = t.UTC()
			v.Next = append(v.Next, templates.Run{ISO: t.Format(time.RFC3339), Text: t.Format("Mon 2 Jan 15:04:05 MST")})
		}
		out = append(out, v)
	}
	return out, nil
}

// chartHeight is the charts' height in their own coordinates (templates.Bar).
const chartHeight, barWidth, barGap = 60, 28, 8

// Admin shows the figures for 24 h and 7 d with their targets,
// the session store's health, the last seven days as bars, and the
// worker's schedule.
func (s *Handlers) Admin() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u, ok := s.pageUser(w, r)
		if !ok {
			return
		}
		if !u.IsAdmin {
			s.WriteError(w, r, errAdminPage)
			return
		}
		h := s.SessionHealth(ctx)
		view := &templates.AdminPage{Layout: templates.Layout{User: &u}, Status: h.Status, Store: h.Store, Breaker: h.Redis.Breaker, Topology: h.Redis.Topology, Node: h.Redis.Node}
		switch {
		case !h.Redis.Configured:
			view.Redis = "not configured"
		case h.Redis.Healthy:
			view.Redis = "healthy"
		default:
			view.Redis = "unhealthy"
		}
		var week web.AdminStats
		for _, win := range []struct{ key, title string }{{"24h", "Last 24 hours"}, {"7d", "Last 7 days"}} {
			st, err := s.FindAdminStats(ctx, win.key, func(context.Context) session.HealthReport { return h })
			if err != nil {
				s.WriteError(w, r, err)
				return
			}
			view.Windows = append(view.Windows, templates.Window{Title: win.title, Figures: figures(st)})
			week = st
		}
		view.Charts = charts(week.Usage.Days)
		sched, err := schedule(s.Config, time.Now())
		if err != nil {
			view.ScheduleError = err.Error()
		}
		view.Schedule = sched
		s.Render(w, r, http.StatusOK, view)
	}
}

// figures words one window's figures with the seed's targets beside them.
func figures(st web.AdminStats) []templates.Figure {
	u := st.Usage
	success := templates.Figure{Name: "Auto-restore success", Value: "no restore attempts", Target: percent(deal.TargetRestoreSuccess)}
	if r := u.RestoreSuccessRate(); r != nil {
		success.Value = percent(*r)
		success.Verdict = verdict(*r >= deal.TargetRestoreSuccess)
	}
	prompts := templates.Figure{Name: "Selector prompts", Value: fmt.Sprintf("%d (no page loads)", u.SelectorPrompts), Target: "< " + percent(deal.TargetPromptRate) + " of page loads"}
	if r := u.PromptRate(); r != nil {
		prompts.Value = fmt.Sprintf("%s of page loads (%d of %d)", percent(*r), u.SelectorPrompts, u.PageLoads)
		prompts.Verdict = verdict(*r < deal.TargetPromptRate)
	}
	return []templates.Figure{
		success,
		{Name: "Restores", Value: fmt.Sprintf("%d restored, %d denied, %d deleted, %d failed", u.Restored, u.Denied, u.Deleted, u.Failed)},
		prompts,
		{Name: "Sign-ins", Value: fmt.Sprintf("%d, %d of them back with a deal", u.SignIns, u.SignInsRestored)},
		{Name: "Active sessions", Value: fmt.Sprint(u.ActiveSessions)},
	}
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "missed"
}

// percent writes a rate as a percentage with one decimal where it matters:
// "95%", "98.7%", "0.4%".
func percent(r float64) string {
	p := fmt.Sprintf("%.1f", r*100)
	if len(p) > 2 && p[len(p)-2:] == ".0" {
		p = p[:len(p)-2]
	}
	return p + "%"
}

// charts draws the last seven days: restore success, selector prompts and
// sign-ins.
func charts(days []deal.UsageDay) []templates.Chart {
	bars := func(value func(deal.UsageCounts) (float64, string), max float64) []templates.Bar {
		out := make([]templates.Bar, 0, len(days))
		for i, d := range days {
			v, label := value(d.UsageCounts)
			h := 0
			if max > 0 {
				h = int(v / max * chartHeight)
			}
			if v > 0 && h < 1 {
				h = 1
			}
			out = append(out, templates.Bar{X: i * (barWidth + barGap), Y: chartHeight - h, Width: barWidth, Height: h, Day: d.Day.UTC().Format("Mon 2 Jan"), Value: label})
		}
		return out
	}
	maxOf := func(f func(deal.UsageCounts) int64) float64 {
		m := int64(0)
		for _, d := range days {
			m = max(m, f(d.UsageCounts))
		}
		return float64(m)
	}
	success := func(c deal.UsageCounts) (float64, string) {
		if r := c.RestoreSuccessRate(); r != nil {
			return *r, percent(*r)
		}
		return 0, "no attempts"
	}
	prompts := func(c deal.UsageCounts) int64 { return c.SelectorPrompts }
	signIns := func(c deal.UsageCounts) int64 { return c.SignIns }
	count := func(f func(deal.UsageCounts) int64) func(deal.UsageCounts) (float64, string) {
		return func(c deal.UsageCounts) (float64, string) { return float64(f(c)), fmt.Sprint(f(c)) }
	}
	return []templates.Chart{
		{Title: "Auto-restore success by day", Label: "restore success", Bars: bars(success, 1),
			TargetY: chartHeight - int(deal.TargetRestoreSuccess*chartHeight), TargetLabel: "target " + percent(deal.TargetRestoreSuccess)},
		{Title: "Selector prompts by day", Label: "selector prompts", Bars: bars(count(prompts), maxOf(prompts))},
		{Title: "Sign-ins by day", Label: "sign-ins", Bars: bars(count(signIns), maxOf(signIns))},
	}
}
