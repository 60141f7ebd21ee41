package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestManageAndAccountInBrowser walks every action of the deal page and
// the account page in a real Chromium with JavaScript off, with the mouse:
// the owner adds a member by email (a wrong one shows the message), removes
// them, deletes the deal through its confirmation page, toggles "remember
// my last deal" and changes the password, each form landing on a page that
// says what happened.
func TestManageAndAccountInBrowser(t *testing.T) {
	ch := startChromium(t)
	env := testEnv(t)
	a := startAPI(t, env)

	owner, guest := "manage-owner@example.com", "manage-guest@example.com"
	createUser(t, env, owner, false)
	guestID := createUser(t, env, guest, false)
	guestC := newClient(t, a)
	guestC.login(guest, false)
	c := newClient(t, a)
	c.login(owner, false)
	id := c.createDeal("Harbour")
	dealPath := fmt.Sprintf("/deals/%d", id)

	tb := ch.newTabJS(t, a.URL, "js-off-manage", false)
	tb.visit(dealPath)
	tb.signIn(owner, "password-"+owner, false)
	tb.waitH1("Harbour")
	if ran := eval[bool](tb, `document.documentElement.classList.contains("js")`); ran {
		t.Fatalf("the pages' script ran: got true, want JavaScript off")
	}
	members := func() string { return tb.text("ul.members") }
	addMember := func(email string) {
		tb.do("add "+email,
			chromedp.WaitVisible(chromedp.ID("member-email")),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("member-email").value = ""`),
			chromedp.SendKeys(chromedp.ID("member-email"), email),
			chromedp.Click(chromedp.CSS(`#add-member-form button[type="submit"]`)))
	}

	// A wrong email: the page again with the message.
	addMember("nobody@example.com")
	tb.waitFor("the member error", `document.getElementById("member-error") && !document.getElementById("member-error").hidden`)
	if got, want := tb.text("#member-error"), "No user with that email."; got != want {
		t.Errorf("unknown email: got %q, want %q", got, want)
	}

	// Add the guest.
	addMember(guest)
	tb.waitFor("the added notice", `document.querySelector(".notice") && document.querySelector(".notice").textContent.includes("The member is added.")`)
	tb.wantLocation(dealPath + "?done=member-added")
	if got := members(); !strings.Contains(got, guest) {
		t.Errorf("members after adding: got %q, want %s listed", got, guest)
	}
	guestC.wantStatus("the guest opens the deal", fmt.Sprintf("/api/deals/%d", id), http.StatusOK)

	// Remove the guest with the button on their row.
	tb.do("remove the guest", chromedp.Click(chromedp.CSS(fmt.Sprintf(`.member[data-user-id="%d"] [data-action="remove-member"]`, guestID))))
	tb.waitFor("the removed notice", `document.querySelector(".notice") && document.querySelector(".notice").textContent.includes("The member is removed.")`)
	tb.wantLocation(dealPath + "?done=member-removed")
	if got := members(); strings.Contains(got, guest) {
		t.Errorf("members after removing: got %q, want %s gone", got, guest)
	}
	guestC.wantStatus("the removed guest opens the deal", fmt.Sprintf("/api/deals/%d", id), http.StatusNotFound)

	// Delete: the link asks first; "Keep it" keeps it, the button deletes.
	tb.do("open the delete page", chromedp.Click(chromedp.CSS(`[data-action="delete-deal"]`)))
	tb.waitH1("Delete Harbour?")
	tb.wantLocation(dealPath + "/delete")
	tb.do("keep it", chromedp.Click(chromedp.CSS(`#delete-deal-form a`)))
	tb.waitH1("Harbour")
	c.wantStatus("the deal after keeping it", fmt.Sprintf("/api/deals/%d", id), http.StatusOK)
	tb.do("open the delete page again", chromedp.Click(chromedp.CSS(`[data-action="delete-deal"]`)))
	tb.waitH1("Delete Harbour?")
	tb.do("confirm the deletion", chromedp.Click(chromedp.CSS(`[data-action="confirm-delete"]`)))
	tb.waitFor("the deleted notice", `document.querySelector(".notice") && document.querySelector(".notice").textContent.includes("The deal is deleted.")`)
	tb.wantLocation("/deals?done=deleted")
	c.wantStatus("the deal after deleting it", fmt.Sprintf("/api/deals/%d", id), http.StatusNotFound)
	if n := tb.visitStatus(dealPath); n != http.StatusNotFound {
		t.Errorf("the deleted deal's page: got %d, want 404", n)
	}

	// The account page, from the header.
	tb.visit("/deals")
	tb.do("follow the header's Account link", chromedp.Click(chromedp.CSS(`nav.account a[href="/account"]`)))
	tb.waitH1("Your account")
	tb.do("turn remembering off", chromedp.Click(chromedp.CSS(`[data-action="remember-off"]`)))
	tb.waitFor("the remember-off notice", `document.querySelector(".notice") && document.querySelector(".notice").textContent.includes("no longer be remembered")`)
	tb.wantLocation("/account?done=remember-off")
	if got := tb.text("#remember-state"); !strings.Contains(got, "off") {
		t.Errorf("remember state after turning it off: got %q, want off", got)
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM users WHERE email = $1 AND NOT remember_last_deal`, owner); n != 1 {
		t.Errorf("users.remember_last_deal after turning it off: got true, want false")
	}
	tb.do("turn remembering on", chromedp.Click(chromedp.CSS(`[data-action="remember-on"]`)))
	tb.waitFor("the remember-on notice", `document.querySelector(".notice") && document.querySelector(".notice").textContent.includes("Your last deal will be remembered.")`)
	if n := sqlInt(t, env, `SELECT count(*) FROM users WHERE email = $1 AND remember_last_deal`, owner); n != 1 {
		t.Errorf("users.remember_last_deal after turning it on: got false, want true")
	}

	// The password: too short is refused with the message, then changed.
	changePassword := func(current, next string) {
		tb.do("change the password", chromedp.WaitVisible(chromedp.ID("current-password")),
			chromedp.SendKeys(chromedp.ID("current-password"), current),
			chromedp.SendKeys(chromedp.ID("new-password"), next),
			chromedp.Click(chromedp.CSS(`#password-form button[type="submit"]`)))
	}
	changePassword("password-"+owner, "too-short")
	tb.waitFor("the short-password error", `document.getElementById("password-error") && document.getElementById("password-error").textContent.includes("12 characters")`)
	c.wantStatus("the other device after a refused change", "/api/me", http.StatusOK)
	changePassword("password-"+owner, "a-much-longer-password")
	tb.waitFor("the changed notice", `document.querySelector(".notice") && document.querySelector(".notice").textContent.includes("Your password is changed")`)
	tb.wantLocation("/account?done=changed")
	c.wantStatus("the other device after the change", "/api/me", http.StatusUnauthorized)
	tb.do("follow the devices link", chromedp.Click(chromedp.CSS(`main a[href="/account/sessions"]`)))
	tb.waitH1("Your devices")
}
