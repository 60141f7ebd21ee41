package main

import (
	"net/http"
	"strings"
	"testing"
)

type currentDeal struct {
	CurrentDeal *struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
		Role string `json:"role"`
	} `json:"current_deal"`
}

type me struct {
	currentDeal
	Restored bool `json:"restored"`
}

// world is a running api with an owner (who owns "Atlas"), a member of
// Atlas and an outsider, each signed in in their own browser.
type world struct {
	env                      map[string]string
	api                      *api
	owner, member, outsider  *client
	ownerID, memberID, admin int64
	atlas                    int64
}

func newWorld(t *testing.T, extraEnv map[string]string) *world {
	t.Helper()
	env := testEnv(t)
	for k, v := range extraEnv {
		env[k] = v
	}
	w := &world{env: env}
	w.ownerID = createUser(t, env, "owner@example.com", false)
	w.memberID = createUser(t, env, "member@example.com", false)
	createUser(t, env, "outsider@example.com", false)
	w.admin = createUser(t, env, "admin@example.com", true)
	w.api = startAPI(t, env)
	w.owner, w.member, w.outsider = newClient(t, w.api), newClient(t, w.api), newClient(t, w.api)
	w.owner.login("owner@example.com", false)
	w.atlas = w.owner.createDeal("Atlas")
	if r := w.owner.do("POST", "/api/deals/"+itoa(w.atlas)+"/members", map[string]string{"email": "member@example.com", "role": "member"}); r.Status != http.StatusCreated {
		t.Fatalf("add member: got %d %s, want 201", r.Status, r.Body)
	}
	w.member.login("member@example.com", false)
	w.outsider.login("outsider@example.com", false)
	return w
}

func (w *world) lastDeal(t *testing.T, userID int64) int64 {
	return sqlInt(t, w.env, `SELECT last_deal_id FROM users WHERE id = $1`, userID)
}

func (w *world) auditCount(t *testing.T, action string, dealID int64) int64 {
	return sqlInt(t, w.env, `SELECT count(*) FROM audit_outbox WHERE action = $1 AND deal_id = $2`, action, dealID)
}

// Selection API.

func TestSelectWritesDatabaseAndSession(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	r := w.member.do("POST", "/api/deals/"+itoa(w.atlas)+"/select", nil)
	var got currentDeal
	r.JSON(t, &got)
	if r.Status != http.StatusOK || got.CurrentDeal == nil || got.CurrentDeal.ID != w.atlas || got.CurrentDeal.Role != "member" {
		t.Fatalf("select: got %d %s, want 200 with Atlas as member", r.Status, r.Body)
	}
	if id := w.lastDeal(t, w.memberID); id != w.atlas {
		t.Fatalf("users.last_deal_id: got %d, want %d", id, w.atlas)
	}
	if at := sqlInt(t, w.env, `SELECT count(*) FROM users WHERE id = $1 AND last_deal_accessed_at > now() - interval '1 minute'`, w.memberID); at != 1 {
		t.Fatalf("last_deal_accessed_at not set to now")
	}
	r = w.member.do("GET", "/api/deals/current", nil)
	r.JSON(t, &got)
	if r.Status != http.StatusOK || got.CurrentDeal.ID != w.atlas {
		t.Fatalf("current: got %d %s, want Atlas", r.Status, r.Body)
	}
}

func TestSelectWithoutAccessIsNotFoundAndWritesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	r := w.outsider.do("POST", "/api/deals/"+itoa(w.atlas)+"/select", nil)
	if r.Status != http.StatusNotFound || r.ErrorCode() != "not_found" {
		t.Fatalf("outsider select: got %d %s, want 404 not_found", r.Status, r.Body)
	}
	if r := w.outsider.do("GET", "/api/deals/current", nil); r.Status != http.StatusConflict || r.ErrorCode() != "deal_not_selected" {
		t.Fatalf("outsider current: got %d %s, want 409 deal_not_selected", r.Status, r.Body)
	}
	if n := sqlInt(t, w.env, `SELECT count(*) FROM users WHERE email = 'outsider@example.com' AND last_deal_id IS NOT NULL`); n != 0 {
		t.Fatalf("outsider last_deal_id written")
	}
	if n := w.auditCount(t, "deal.selected", w.atlas); n != 0 {
		t.Fatalf("deal.selected events: got %d, want 0", n)
	}
}

func TestSelectDeletedOrMissingDealIsNotFoundAlike(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	gone := w.owner.createDeal("Gone")
	if r := w.owner.do("DELETE", "/api/deals/"+itoa(gone), nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: got %d %s, want 204", r.Status, r.Body)
	}
	deleted := w.owner.do("POST", "/api/deals/"+itoa(gone)+"/select", nil)
	missing := w.owner.do("POST", "/api/deals/999999/select", nil)
	if deleted.Status != 404 || missing.Status != 404 || string(deleted.Body) != string(missing.Body) {
		t.Fatalf("deleted vs missing: got %d %s and %d %s, want identical 404s", deleted.Status, deleted.Body, missing.Status, missing.Body)
	}
}

func TestSelectBadIDsAreClientErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	for _, id := range []string{"abc", "0", "-1", "9223372036854775808", "1.5", strings.Repeat("9", 400)} {
		r := w.owner.do("POST", "/api/deals/"+id+"/select", nil)
		if r.Status != 400 && r.Status != 404 {
			t.Errorf("select %q: got %d %s, want 400 or 404", id, r.Status, r.Body)
		}
		if c := r.ErrorCode(); c != "invalid_request" && c != "not_found" {
			t.Errorf("select %q: got code %q, want invalid_request or not_found", id, c)
		}
	}
}

func TestSelectRequiresSignIn(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	anon := newClient(t, w.api)
	if r := anon.do("POST", "/api/deals/"+itoa(w.atlas)+"/select", nil); r.Status != 401 || r.ErrorCode() != "unauthenticated" {
		t.Fatalf("anonymous select: got %d %s, want 401 unauthenticated", r.Status, r.Body)
	}
}

func TestSelectIsAudited(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	w.member.do("POST", "/api/deals/"+itoa(w.atlas)+"/select", nil)
	n := sqlInt(t, w.env, `SELECT count(*) FROM audit_outbox WHERE action = 'deal.selected' AND deal_id = $1 AND actor_user_id = $2 AND request_id <> ''`, w.atlas, w.memberID)
	if n != 1 {
		t.Fatalf("deal.selected events: got %d, want 1", n)
	}
}

func TestSelectWithRememberingOffKeepsDatabaseClear(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	r := w.member.do("PATCH", "/api/me/preferences", map[string]bool{"remember_last_deal": false})
	if r.Status != 200 || !strings.Contains(string(r.Body), `"remember_last_deal":false`) {
		t.Fatalf("preferences: got %d %s, want 200 with remember_last_deal false", r.Status, r.Body)
	}
	if r := w.member.do("POST", "/api/deals/"+itoa(w.atlas)+"/select", nil); r.Status != 200 {
		t.Fatalf("select: got %d %s, want 200", r.Status, r.Body)
	}
	if id := w.lastDeal(t, w.memberID); id != -1 {
		t.Fatalf("last_deal_id: got %d, want NULL", id)
	}
	if r := w.member.do("GET", "/api/deals/current", nil); r.Status != 200 {
		t.Fatalf("current (session still has it): got %d %s, want 200", r.Status, r.Body)
	}
}

func TestClearCurrentDealClearsSessionAndDatabase(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	w.member.do("POST", "/api/deals/"+itoa(w.atlas)+"/select", nil)
	if r := w.member.do("DELETE", "/api/deals/current", nil); r.Status != 204 {
		t.Fatalf("clear: got %d %s, want 204", r.Status, r.Body)
	}
	if id := w.lastDeal(t, w.memberID); id != -1 {
		t.Fatalf("last_deal_id: got %d, want NULL", id)
	}
	if n := w.auditCount(t, "deal.cleared", w.atlas); n != 1 {
		t.Fatalf("deal.cleared events: got %d, want 1", n)
	}
}

// Auto-restore.

func TestAutoRestoreBringsTheDealIntoANewSession(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]string{"LOG_LEVEL": "info"})
	w.owner.createDeal("Second") // two deals: no single-deal auto-select
	sqlExec(t, w.env, `UPDATE users SET last_deal_id = NULL WHERE id = $1`, w.ownerID)
	// A second device signs in before any deal was ever selected.
	other := newClient(t, w.api)
	var login currentDeal
	other.login("owner@example.com", false).JSON(t, &login)
	if login.CurrentDeal != nil {
		t.Fatalf("login: got deal %+v, want none yet", login.CurrentDeal)
	}
	// The first device selects; the second device's session lacks the deal.
	w.owner.do("POST", "/api/deals/"+itoa(w.atlas)+"/select", nil)

	restoredBefore := w.auditCount(t, "deal.restored", w.atlas)
	var got me
	r := other.do("GET", "/api/me", nil)
	r.JSON(t, &got)
	if got.CurrentDeal == nil || got.CurrentDeal.ID != w.atlas || !got.Restored {
		t.Fatalf("/api/me: got %s, want Atlas with restored true", r.Body)
	}
	other.do("GET", "/api/me", nil).JSON(t, &got)
	if got.Restored || got.CurrentDeal == nil {
		t.Fatalf("second /api/me: got restored=%v deal=%v, want the deal, not restored again", got.Restored, got.CurrentDeal)
	}
	if n := w.auditCount(t, "deal.restored", w.atlas) - restoredBefore; n != 1 {
		t.Fatalf("new deal.restored events: got %d, want 1", n)
	}
	if logs := w.api.stderr.String(); !strings.Contains(logs, "auto-restored deal") || !strings.Contains(logs, `"deal_id":`+itoa(w.atlas)) {
		t.Fatalf("log: want an \"auto-restored deal\" line with the deal id, got:\n%s", logs)
	}
}

func TestAutoRestoreDoesNothingWhenSessionHasTheDeal(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	w.member.do("POST", "/api/deals/"+itoa(w.atlas)+"/select", nil)
	before := restoreAttempts(t, w)
	for i := 0; i < 5; i++ {
		if r := w.member.do("GET", "/api/deals/current", nil); r.Status != 200 {
			t.Fatalf("current: got %d %s, want 200", r.Status, r.Body)
		}
	}
	if after := restoreAttempts(t, w); after != before {
		t.Fatalf("restore attempts: got %v after hot requests, want %v (no restore work)", after, before)
	}
}

// restoreAttempts sums dealctx_deal_auto_restore_total over outcomes.
func restoreAttempts(t *testing.T, w *world) float64 {
	t.Helper()
	r := newClient(t, w.api).do("GET", "/metrics", nil)
	var sum float64
	for _, line := range strings.Split(string(r.Body), "\n") {
		if strings.HasPrefix(line, "dealctx_deal_auto_restore_total{") {
			var v float64
			fields := strings.Fields(line)
			if _, err := fmtSscan(fields[len(fields)-1], &v); err == nil {
				sum += v
			}
		}
	}
	return sum
}

func TestAutoRestoreDeniedAfterRevocationClearsLastDeal(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	w.member.do("POST", "/api/deals/"+itoa(w.atlas)+"/select", nil)
	// The owner revokes access; the member's session still holds the deal.
	if r := w.owner.do("DELETE", "/api/deals/"+itoa(w.atlas)+"/members/"+itoa(w.memberID), nil); r.Status != 204 {
		t.Fatalf("remove member: got %d %s, want 204", r.Status, r.Body)
	}
	if id := w.lastDeal(t, w.memberID); id != -1 {
		t.Fatalf("last_deal_id after revocation: got %d, want NULL (cleared in the same transaction)", id)
	}
	r := w.member.do("GET", "/api/deals/current", nil)
	if r.Status != 404 || strings.Contains(string(r.Body), "Atlas") {
		t.Fatalf("current after revocation: got %d %s, want 404 without the deal's data", r.Status, r.Body)
	}
	if r := w.member.do("GET", "/api/deals/current", nil); r.Status != 409 {
		t.Fatalf("current again: got %d %s, want 409 (the key was cleared)", r.Status, r.Body)
	}

	// A stale last_deal_id (revoked behind the api's back) is denied and cleared.
	sqlExec(t, w.env, `UPDATE users SET last_deal_id = $1 WHERE id = $2`, w.atlas, w.memberID)
	fresh := newClient(t, w.api)
	var got currentDeal
	fresh.login("member@example.com", false).JSON(t, &got)
	if got.CurrentDeal != nil {
		t.Fatalf("login after revocation: restored %+v, want none", got.CurrentDeal)
	}
	if id := w.lastDeal(t, w.memberID); id != -1 {
		t.Fatalf("stale last_deal_id: got %d, want cleared", id)
	}
	if n := w.auditCount(t, "deal.restore_denied", w.atlas); n != 1 {
		t.Fatalf("deal.restore_denied events: got %d, want 1", n)
	}
}

func TestAutoRestoreSkipsDeletedDeal(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	w.owner.createDeal("Second") // two deals: no single-deal auto-select
	w.owner.do("POST", "/api/deals/"+itoa(w.atlas)+"/select", nil)
	if r := w.owner.do("DELETE", "/api/deals/"+itoa(w.atlas), nil); r.Status != 204 {
		t.Fatalf("delete: got %d %s, want 204", r.Status, r.Body)
	}
	if id := w.lastDeal(t, w.ownerID); id != -1 {
		t.Fatalf("last_deal_id after delete: got %d, want NULL", id)
	}
	sqlExec(t, w.env, `UPDATE users SET last_deal_id = $1 WHERE id = $2`, w.atlas, w.ownerID)
	fresh := newClient(t, w.api)
	var got currentDeal
	fresh.login("owner@example.com", false).JSON(t, &got)
	if got.CurrentDeal != nil {
		t.Fatalf("login after delete: restored %+v, want none", got.CurrentDeal)
	}
	if r := fresh.do("GET", "/api/deals/"+itoa(w.atlas), nil); r.Status != 404 {
		t.Fatalf("get deleted deal: got %d, want 404", r.Status)
	}
}

func TestAutoRestoreCanBeSwitchedOff(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]string{"AUTO_RESTORE_DEAL": "false"})
	w.member.do("POST", "/api/deals/"+itoa(w.atlas)+"/select", nil)
	fresh := newClient(t, w.api)
	var got currentDeal
	fresh.login("member@example.com", false).JSON(t, &got)
	if got.CurrentDeal != nil {
		t.Fatalf("login with AUTO_RESTORE_DEAL=false: got %+v, want no deal", got.CurrentDeal)
	}
	if r := fresh.do("GET", "/api/deals/current", nil); r.Status != 409 {
		t.Fatalf("current: got %d %s, want 409", r.Status, r.Body)
	}
	if id := w.lastDeal(t, w.memberID); id != w.atlas {
		t.Fatalf("last_deal_id: got %d, want %d kept", id, w.atlas)
	}
}

func TestOnlyAccessibleDealIsSelectedAutomatically(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	// The member has exactly one deal and has never selected it.
	var got me
	w.member.do("GET", "/api/me", nil).JSON(t, &got)
	if got.CurrentDeal == nil || got.CurrentDeal.ID != w.atlas {
		t.Fatalf("/api/me: got %+v, want Atlas selected automatically", got.CurrentDeal)
	}
}

// Integration scenarios.

func TestScenarioSessionExpiryWithRememberMeRestoresTheDeal(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	w.owner.createDeal("Second")
	c := newClient(t, w.api)
	c.login("owner@example.com", true)
	c.do("POST", "/api/deals/"+itoa(w.atlas)+"/select", nil)
	remember := c.cookie("remember_token")
	if remember == "" {
		t.Fatalf("login with remember: no remember_token cookie")
	}
	// The session expires server-side and the browser drops its cookie.
	sqlExec(t, w.env, `UPDATE sessions SET expiry = now() - interval '1 second' WHERE user_id = $1`, w.ownerID)
	c.setCookies(map[string]string{"remember_token": remember})

	var got me
	r := c.do("GET", "/api/me", nil)
	r.JSON(t, &got)
	if r.Status != 200 || got.CurrentDeal == nil || got.CurrentDeal.ID != w.atlas || !got.Restored {
		t.Fatalf("/api/me with only a remember cookie: got %d %s, want Atlas restored", r.Status, r.Body)
	}
	if c.cookie("remember_token") == remember {
		t.Fatalf("remember cookie was not rotated on use")
	}
}

func TestListAndMembersAndDeleteRules(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	var list struct {
		Deals []struct {
			ID   int64
			Role string
		}
		CurrentDealID *int64 `json:"current_deal_id"`
	}
	w.member.do("GET", "/api/deals/list", nil).JSON(t, &list)
	if len(list.Deals) != 1 || list.Deals[0].Role != "member" {
		t.Fatalf("member list: got %+v, want Atlas as member", list.Deals)
	}
	w.outsider.do("GET", "/api/deals", nil).JSON(t, &list)
	if len(list.Deals) != 0 {
		t.Fatalf("outsider list: got %+v, want none", list.Deals)
	}
	if r := w.member.do("DELETE", "/api/deals/"+itoa(w.atlas), nil); r.Status != 403 || r.ErrorCode() != "forbidden" {
		t.Fatalf("member delete: got %d %s, want 403 forbidden", r.Status, r.Body)
	}
	if r := w.member.do("POST", "/api/deals/"+itoa(w.atlas)+"/members", map[string]string{"email": "outsider@example.com"}); r.Status != 403 {
		t.Fatalf("member adds member: got %d %s, want 403", r.Status, r.Body)
	}
	r := w.member.do("GET", "/api/deals/"+itoa(w.atlas)+"/members", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), "owner@example.com") || !strings.Contains(string(r.Body), "member@example.com") {
		t.Fatalf("members: got %d %s, want owner and member", r.Status, r.Body)
	}
	admin := newClient(t, w.api)
	admin.login("admin@example.com", false)
	var d struct{ Deal struct{ Role string } }
	admin.do("GET", "/api/deals/"+itoa(w.atlas), nil).JSON(t, &d)
	if d.Deal.Role != "admin" {
		t.Fatalf("admin role: got %q, want admin", d.Deal.Role)
	}
	if r := admin.do("DELETE", "/api/deals/"+itoa(w.atlas), nil); r.Status != 204 {
		t.Fatalf("admin delete: got %d %s, want 204", r.Status, r.Body)
	}
}
