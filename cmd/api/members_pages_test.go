package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// wantSeeOther fails the test unless r is a 303 to location.
func wantSeeOther(t *testing.T, what string, r response, location string) {
	t.Helper()
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != location {
		t.Errorf("%s: got %d to %q, want 303 to %s", what, r.Status, r.Header.Get("Location"), location)
	}
}

// TestDealManageForms: on the deal's page an owner adds a member by email,
// removes one and deletes the deal after its confirmation page, each form
// answering 303 to a page that says what happened; a refused email is the
// page again with the API's status (400, 404); a member who may not manage
// gets the 403 page, an outsider the same 404 page as a missing deal, and a
// form from another origin is refused.
func TestDealManageForms(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	newcomerID := createUser(t, w.env, "newcomer@example.com", false)
	newcomer := newClient(t, w.api)
	newcomer.login("newcomer@example.com", false)
	atlas := "/deals/" + itoa(w.atlas)

	page := w.owner.get(atlas)
	wantPage(t, "the owner's deal page", page, http.StatusOK, `action="/deals/`+itoa(w.atlas)+`/members"`)
	wantPage(t, "the owner's deal page", page, http.StatusOK, `href="/deals/`+itoa(w.atlas)+`/delete"`)
	wantPage(t, "the owner's deal page", page, http.StatusOK, `href="/account"`)
	if body := string(w.member.get(atlas).Body); strings.Contains(body, "add-member-form") || strings.Contains(body, "remove-member") {
		t.Errorf("a member's deal page: got the manage forms, want none")
	}

	r := w.owner.post(atlas+"/members", url.Values{"email": {"newcomer@example.com"}}, nil)
	wantSeeOther(t, "add a member", r, atlas+"?done=member-added")
	wantPage(t, "after adding", w.owner.get(atlas+"?done=member-added"), http.StatusOK, "The member is added.")
	newcomer.wantStatus("the new member opens the deal", "/api/deals/"+itoa(w.atlas), http.StatusOK)
	if n := w.auditCount(t, "member.added", w.atlas); n != 2 {
		t.Errorf("member.added events: got %d, want 2 (the API's and the form's)", n)
	}

	r = w.owner.post(atlas+"/members", url.Values{"email": {"not an email"}}, nil)
	wantPage(t, "a malformed email", r, http.StatusBadRequest, "Email must be a plain address")
	wantPage(t, "a malformed email keeps what was typed", r, http.StatusBadRequest, `value="not an email"`)
	r = w.owner.post(atlas+"/members", url.Values{"email": {"nobody@example.com"}}, nil)
	wantPage(t, "an unknown email", r, http.StatusNotFound, "No user with that email.")
	wantPage(t, "an unknown email", r, http.StatusNotFound, "<h1>Atlas</h1>")

	notHere := "There is nothing here for you"
	wantPage(t, "a member adds", w.member.post(atlas+"/members", url.Values{"email": {"outsider@example.com"}}, nil), http.StatusForbidden, "Only the deal")
	wantPage(t, "an outsider adds", w.outsider.post(atlas+"/members", url.Values{"email": {"outsider@example.com"}}, nil), http.StatusNotFound, notHere)
	wantPage(t, "a member removes", w.member.post(atlas+"/members/"+itoa(newcomerID)+"/remove", nil, nil), http.StatusForbidden, "Only the deal")
	wantPage(t, "an outsider removes", w.outsider.post(atlas+"/members/"+itoa(newcomerID)+"/remove", nil, nil), http.StatusNotFound, notHere)
	wantPage(t, "a member's delete page", w.member.get(atlas+"/delete"), http.StatusForbidden, "Only the deal")
	wantPage(t, "an outsider's delete page", w.outsider.get(atlas+"/delete"), http.StatusNotFound, notHere)
	wantPage(t, "a member deletes", w.member.post(atlas+"/delete", url.Values{"confirm": {"yes"}}, nil), http.StatusForbidden, "Only the deal")
	wantPage(t, "a malformed deal id", w.owner.post("/deals/99999999999999999999/members", url.Values{"email": {"member@example.com"}}, nil), http.StatusNotFound, notHere)
	wantPage(t, "a malformed user id", w.owner.post(atlas+"/members/x/remove", nil, nil), http.StatusNotFound, notHere)
	wantPage(t, "the owner removes the owner", w.owner.post(atlas+"/members/"+itoa(w.ownerID)+"/remove", nil, nil), http.StatusBadRequest, "owner cannot be removed")
	for _, h := range []map[string]string{{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}} {
		if r := w.owner.post(atlas+"/members/"+itoa(newcomerID)+"/remove", nil, h); r.Status != http.StatusForbidden {
			t.Errorf("a cross-origin removal with %v: got %d, want 403", h, r.Status)
		}
	}
	newcomer.wantStatus("the new member after refused removals", "/api/deals/"+itoa(w.atlas), http.StatusOK)

	r = w.owner.post(atlas+"/members/"+itoa(newcomerID)+"/remove", nil, nil)
	wantSeeOther(t, "remove a member", r, atlas+"?done=member-removed")
	wantPage(t, "after removing", w.owner.get(atlas+"?done=member-removed"), http.StatusOK, "The member is removed.")
	newcomer.wantStatus("the removed member opens the deal", "/api/deals/"+itoa(w.atlas), http.StatusNotFound)

	confirm := w.owner.get(atlas + "/delete")
	wantPage(t, "the delete confirmation", confirm, http.StatusOK, "<h1>Delete Atlas?</h1>")
	wantPage(t, "the delete confirmation", confirm, http.StatusOK, `name="confirm" value="yes"`)
	wantPage(t, "a delete without confirm", w.owner.post(atlas+"/delete", nil, nil), http.StatusBadRequest, "Confirm the deletion")
	w.member.wantStatus("the member before the delete", "/api/deals/"+itoa(w.atlas), http.StatusOK)
	r = w.owner.post(atlas+"/delete", url.Values{"confirm": {"yes"}}, nil)
	wantSeeOther(t, "delete the deal", r, "/deals?done=deleted")
	wantPage(t, "after deleting", w.owner.get("/deals?done=deleted"), http.StatusOK, "The deal is deleted.")
	wantPage(t, "the deleted deal's page", w.owner.get(atlas), http.StatusNotFound, notHere)
	w.member.wantStatus("the member after the delete", "/api/deals/"+itoa(w.atlas), http.StatusNotFound)
	if n := w.auditCount(t, "deal.deleted", w.atlas); n != 1 {
		t.Errorf("deal.deleted events: got %d, want 1", n)
	}
}

// TestAccountForms: /account (anonymous: to sign in) toggles "remember my
// last deal" and changes the password with 303s back to the page and its
// notice; a bad toggle value is the 400 page, a short new password the form
// again with 400, a wrong current one with 401.
func TestAccountForms(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	wantSeeOther(t, "anonymous /account", newClient(t, w.api).get("/account"), "/login?next=%2Faccount")

	page := w.owner.get("/account")
	wantPage(t, "the account page", page, http.StatusOK, "<h1>Your account</h1>")
	wantPage(t, "the account page", page, http.StatusOK, `href="/account/sessions"`)
	wantPage(t, "the account page", page, http.StatusOK, `name="remember_last_deal" value="false"`)

	if r := w.owner.do("POST", "/api/deals/"+itoa(w.atlas)+"/select", nil); r.Status != http.StatusOK {
		t.Fatalf("select: got %d, want 200", r.Status)
	}
	r := w.owner.post("/account/preferences", url.Values{"remember_last_deal": {"false"}}, nil)
	wantSeeOther(t, "remember off", r, "/account?done=remember-off")
	page = w.owner.get("/account?done=remember-off")
	wantPage(t, "after remember off", page, http.StatusOK, "Your last deal will no longer be remembered.")
	wantPage(t, "after remember off", page, http.StatusOK, `name="remember_last_deal" value="true"`)
	if n := sqlInt(t, w.env, `SELECT count(*) FROM users WHERE id = $1 AND last_deal_id IS NULL`, w.ownerID); n != 1 {
		t.Errorf("last_deal_id after remember off: got a deal, want NULL")
	}
	wantSeeOther(t, "remember on", w.owner.post("/account/preferences", url.Values{"remember_last_deal": {"true"}}, nil), "/account?done=remember-on")
	if got := sqlInt(t, w.env, `SELECT remember_last_deal::int FROM users WHERE id = $1`, w.ownerID); got != 1 {
		t.Errorf("remember_last_deal after remember on: got %d, want 1", got)
	}
	wantPage(t, "a bad toggle value", w.owner.post("/account/preferences", url.Values{"remember_last_deal": {"maybe"}}, nil), http.StatusBadRequest, "remember_last_deal must be true or false")

	other := newClient(t, w.api)
	other.login("owner@example.com", false)
	pw := "password-owner@example.com"
	r = w.owner.post("/account/password", url.Values{"current_password": {pw}, "new_password": {"short"}}, nil)
	wantPage(t, "a short new password", r, http.StatusBadRequest, "at least 12 characters")
	wantPage(t, "a short new password", r, http.StatusBadRequest, `id="password-form"`)
	r = w.owner.post("/account/password", url.Values{"current_password": {"wrong-password"}, "new_password": {"a-much-longer-password"}}, nil)
	wantPage(t, "a wrong current password", r, http.StatusUnauthorized, "The current password is incorrect.")
	other.wantStatus("the other device after refused changes", "/api/me", http.StatusOK)
	r = w.owner.post("/account/password", url.Values{"current_password": {pw}, "new_password": {"a-much-longer-password"}}, nil)
	wantSeeOther(t, "change the password", r, "/account?done=changed")
	wantPage(t, "after the change", w.owner.get("/account?done=changed"), http.StatusOK, "Your password is changed")
	other.wantStatus("the other device after the change", "/api/me", http.StatusUnauthorized)
}

// TestDealManageFormThrottlesUnknownEmails: the form shares the API's
// member-lookup limit: past it, an addition is the deal page again with 429,
// Retry-After and the message, known emails included.
func TestDealManageFormThrottlesUnknownEmails(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]string{"MEMBER_LOOKUP_LIMIT": "2"})
	atlas := "/deals/" + itoa(w.atlas)
	for i := range 2 {
		r := w.owner.post(atlas+"/members", url.Values{"email": {"nobody" + itoa(int64(i)) + "@example.com"}}, nil)
		wantPage(t, "an unknown email under the limit", r, http.StatusNotFound, "No user with that email.")
	}
	r := w.owner.post(atlas+"/members", url.Values{"email": {"outsider@example.com"}}, nil)
	wantPage(t, "an addition past the limit", r, http.StatusTooManyRequests, "try again later")
	wantPage(t, "an addition past the limit", r, http.StatusTooManyRequests, "<h1>Atlas</h1>")
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("an addition past the limit: got no Retry-After, want one")
	}
	w.outsider.wantStatus("the outsider after the refused addition", "/api/deals/"+itoa(w.atlas), http.StatusNotFound)
}
