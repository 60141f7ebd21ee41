package deal

import "time"

// Usage counter names the api records with CountUsage: the events behind the
// success figures that the audit log does not hold. Restores that were
// restored, denied or deleted are audited (deal.restored, and
// deal.restore_denied with details.reason "denied" or "deleted") and are
// counted from audit_log, not from these counters.
const (
	UsageSignIn         = "sign_in"          // a completed sign-in, by password or remember-me
	UsageSignInRestored = "sign_in_restored" // a sign-in that came back with a deal
	UsageSelectorPrompt = "selector_prompt"  // a signed-in user sent to the selector, or answered deal_not_selected, for lack of a deal
	UsagePageLoad       = "page_load"        // a page a signed-in user loaded (the prompts' denominator)
	UsageRestoreFailed  = "restore_failed"   // an auto-restore that failed on an error (not audited)
)

// UsageNames lists every usage counter name the api records.
var UsageNames = []string{UsageSignIn, UsageSignInRestored, UsageSelectorPrompt, UsagePageLoad, UsageRestoreFailed}

// UsageCounts are the success figures' counts over some span of time.
type UsageCounts struct {
	SignIns         int64
	SignInsRestored int64
	SelectorPrompts int64
	PageLoads       int64
	Restored        int64
	Denied          int64
	Deleted         int64
	Failed          int64
}

// RestoreAttempts is every auto-restore that found a last deal to restore
// or failed trying.
func (c UsageCounts) RestoreAttempts() int64 { return c.Restored + c.Denied + c.Deleted + c.Failed }

// RestoreSuccessRate is restored / all restore attempts, or nil when there
// were none.
func (c UsageCounts) RestoreSuccessRate() *float64 {
	n := c.RestoreAttempts()
	if n == 0 {
		return nil
	}
	r := float64(c.Restored) / float64(n)
	return &r
}

// PromptRate is selector prompts / page loads, or nil when no page was
// loaded.
func (c UsageCounts) PromptRate() *float64 {
	if c.PageLoads == 0 {
		return nil
	}
	r := float64(c.SelectorPrompts) / float64(c.PageLoads)
	return &r
}

// UsageDay is one UTC day's counts.
type UsageDay struct {
	Day time.Time // midnight UTC starting the day
	UsageCounts
}

// UsageStats are the success figures since a moment, counted across every
// api process, with the last seven UTC days (oldest first, today last, days
// without events present with zero counts) for the charts.
type UsageStats struct {
	Since time.Time
	UsageCounts
	// ActiveSessions is the number of sessions not yet expired.
	ActiveSessions int64
	Days           []UsageDay
}

// Stats windows GET /api/admin/stats accepts, and the span each covers.
var StatsWindows = map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour}

// Targets the seed set for the figures.
const (
	TargetRestoreSuccess = 0.95 // auto-restore success above 95%
	TargetPromptRate     = 0.01 // selector prompts under 1% of page loads
)
