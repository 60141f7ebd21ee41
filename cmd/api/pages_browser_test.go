package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/dealctx/dealctx/internal/postgres"
)

// TestPagesInBrowser walks the pages in a real Chromium as people would:
// signing in, choosing a deal, coming back in a new browser, coming back
// with remember-me after the session expired, and losing access to a deal.
// Every tab fails the test if any page logs a script error.
func TestPagesInBrowser(t *testing.T) {
	ch := startChromium(t)

	env := testEnv(t)
	a := startAPI(t, env)
	ch.selfCheck(t, a.URL)
	db, err := postgres.Open(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)

	t.Run("choose a deal, then sign in again in a new browser", func(t *testing.T) {
		t.Parallel()
		owner, helper := "pat@example.com", "hal@example.com"
		createUser(t, env, owner, false)
		createUser(t, env, helper, false)
		c := newClient(t, a)
		c.login(owner, false)
		alpha := c.createDeal("Alpha Deal")
		// A name with markup shows that pages escape what users type.
		betaName := `Beta <b>Deal</b> & "Co"`
		beta := c.createDeal(betaName)
		if r := c.do("POST", fmt.Sprintf("/api/deals/%d/members", beta), map[string]string{"email": helper}); r.Status != http.StatusCreated {
			t.Fatalf("add member: got %d %s, want 201", r.Status, r.Body)
		}
		// The api chose the first deal as the only one; forget that choice.
		if r := c.do("DELETE", "/api/deals/current", nil); r.Status != http.StatusNoContent {
			t.Fatalf("clear current deal: got %d %s, want 204", r.Status, r.Body)
		}
		moveAudit(t, db)

		tb := ch.newTab(t, a.URL, "select")
		tb.visit("/deal")
		tb.wantLocation("/login?next=%2Fdeal")
		tb.screenshot("login")

		tb.signIn(owner, "not-the-password", false)
		tb.waitFor("the sign-in error", "document.getElementById('login-error').hidden === false")
		if got, want := tb.text("#login-error"), "Email or password is incorrect."; got != want {
			t.Errorf("sign-in error: got %q, want %q", got, want)
		}
		tb.wantLocation("/login?next=%2Fdeal")
		tb.screenshot("login-error")

		// Two deals and none chosen yet: /deal is the selector with a prompt.
		tb.signIn(owner, "password-"+owner, false)
		tb.waitFor("the selector on /deal", "location.pathname === '/deal' && document.querySelector('.prompt')")
		if got := tb.h1(); got != "Choose a deal" {
			t.Errorf("h1 with no deal: got %q, want %q", got, "Choose a deal")
		}
		names := tb.buttonNames()
		for _, want := range []string{"Alpha Deal", betaName} {
			if !slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, want) }) {
				t.Errorf("button names: got %q, want one that includes %q", names, want)
			}
		}
		tb.screenshot("no-deal-prompt")

		tb.do("choose "+betaName, chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-select-deal="%d"]`, beta))))
		tb.waitH1(betaName)
		tb.wantLocation("/deal")
		members := tb.text(".members")
		for _, want := range []string{owner, helper} {
			if !strings.Contains(members, want) {
				t.Errorf("members: got %q, want it to include %s", members, want)
			}
		}
		if got := tb.text(".events"); !strings.Contains(got, "deal.created") || !strings.Contains(got, "member.added") {
			t.Errorf("recent activity for the owner: got %q, want deal.created and member.added", got)
		}
		tb.screenshot("deal")

		tb.visit("/")
		current := eval[[]string](tb, `[...document.querySelectorAll('button[aria-current="true"]')].map(b => b.dataset.selectDeal)`)
		if want := []string{fmt.Sprint(beta)}; !slices.Equal(current, want) {
			t.Errorf("deals marked current on /: got %v, want %v (alpha is %d)", current, want, alpha)
		}
		tb.screenshot("selector")
		tb.close()

		// A new browser has no cookies. Signing in, by keyboard alone, lands
		// on the deal with no selection step.
		tb = ch.newTab(t, a.URL, "new-browser")
		tb.visit("/deal")
		tb.wantLocation("/login?next=%2Fdeal")
		tb.do("focus the email field", chromedp.Focus(chromedp.ID("email")))
		tb.do("type the email", chromedp.KeyEvent(owner))
		tb.tabTo("#password")
		tb.do("type the password", chromedp.KeyEvent("password-"+owner))
		tb.tabTo("#remember")
		tb.wantVisibleFocus()
		tb.tabTo(`#login-form button[type="submit"]`)
		tb.wantVisibleFocus()
		tb.do("press Enter", chromedp.KeyEvent("\r"))
		tb.waitH1(betaName)
		tb.wantLocation("/deal")
		tb.screenshot("deal-restored")

		tb.do("sign out", chromedp.Click(chromedp.CSS(`[data-action="logout"]`)))
		tb.waitFor("the sign-in page", "location.pathname === '/login' && document.getElementById('login-form')")
		tb.visit("/")
		tb.wantLocation("/login")
	})

	t.Run("a revoked deal shows the selector with a notice", func(t *testing.T) {
		t.Parallel()
		owner, member := "olga@example.com", "mo@example.com"
		createUser(t, env, owner, false)
		memberID := createUser(t, env, member, false)
		c := newClient(t, a)
		c.login(owner, false)
		delta := c.createDeal("Delta Deal")
		epsilon := c.createDeal("Epsilon Deal")
		for _, id := range []int64{delta, epsilon} {
			if r := c.do("POST", fmt.Sprintf("/api/deals/%d/members", id), map[string]string{"email": member}); r.Status != http.StatusCreated {
				t.Fatalf("add member: got %d %s, want 201", r.Status, r.Body)
			}
		}

		tb := ch.newTab(t, a.URL, "revoked")
		tb.visit("/")
		tb.wantLocation("/login")
		tb.signIn(member, "password-"+member, false)
		tb.waitFor("the selector", "location.pathname === '/' && document.querySelector('button[data-select-deal]')")
		// Choose by keyboard: Tab to the deal, with a visible focus, and Enter.
		tb.tabTo(fmt.Sprintf(`button[data-select-deal="%d"]`, delta))
		tb.wantVisibleFocus()
		tb.do("press Enter", chromedp.KeyEvent("\r"))
		tb.waitH1("Delta Deal")
		if got := tb.text("#audit-heading"); got != "" {
			t.Errorf("a member sees the audit section: got %q, want none", got)
		}

		if r := c.do("DELETE", fmt.Sprintf("/api/deals/%d/members/%d", delta, memberID), nil); r.Status != http.StatusNoContent {
			t.Fatalf("remove member: got %d %s, want 204", r.Status, r.Body)
		}
		tb.visit("/deal") // fails unless the page is a 2xx
		tb.wantLocation("/deal")
		if got := tb.h1(); got != "Choose a deal" {
			t.Errorf("h1 after the deal was revoked: got %q, want %q", got, "Choose a deal")
		}
		if got := tb.text(".notice"); !strings.Contains(got, "no longer available") {
			t.Errorf("notice after the deal was revoked: got %q, want one saying it is no longer available", got)
		}
		if ids := eval[[]string](tb, `[...document.querySelectorAll('button[data-select-deal]')].map(b => b.dataset.selectDeal)`); !slices.Equal(ids, []string{fmt.Sprint(epsilon)}) {
			t.Errorf("deals offered after the revoke: got %v, want only epsilon %d", ids, epsilon)
		}
		tb.screenshot("notice")

		// A deal deleted while the selector is open: choosing it says so
		// in the page.
		if r := c.do("DELETE", fmt.Sprintf("/api/deals/%d", epsilon), nil); r.Status != http.StatusNoContent {
			t.Fatalf("delete deal: got %d %s, want 204", r.Status, r.Body)
		}
		tb.do("choose the deleted deal", chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-select-deal="%d"]`, epsilon))))
		tb.waitFor("the page error", "document.getElementById('page-error').hidden === false")
		if got := tb.text("#page-error"); !strings.Contains(got, "no longer available") {
			t.Errorf("choosing a deleted deal: got %q, want a message that it is no longer available", got)
		}

		// Creating a deal from the selector goes straight to it; an empty
		// name is refused in the page.
		tb.do("submit an empty name", chromedp.Click(chromedp.CSS(`#create-deal-form button[type="submit"]`)))
		tb.waitFor("the create error", "document.getElementById('create-error').hidden === false")
		tb.do("name the deal", chromedp.SendKeys(chromedp.ID("deal-name"), "Zeta Deal\n"))
		tb.waitH1("Zeta Deal")
		if got := tb.text(".meta"); !strings.Contains(got, "owner") {
			t.Errorf("role on a created deal: got %q, want owner", got)
		}
	})

	t.Run("remember me outlives an expired session", func(t *testing.T) {
		t.Parallel()
		// A separate api whose sessions last 2 s: the session cookie and
		// the stored session both expire, whatever the session store is.
		env := testEnv(t)
		env["PERMANENT_SESSION_LIFETIME"] = "2"
		a := startAPI(t, env)
		kept, forgot := "rita@example.com", "cody@example.com"
		for _, u := range []string{kept, forgot} {
			createUser(t, env, u, false)
			c := newClient(t, a)
			c.login(u, false)
			c.createDeal("Gamma Deal of " + u)
		}

		tb := ch.newTab(t, a.URL, "remember")
		tb.visit("/login")
		tb.signIn(kept, "password-"+kept, true)
		tb.waitFor("the selector", "location.pathname === '/' && document.querySelector('button[data-select-deal]')")
		if tb.cookie("remember_token") == "" {
			t.Fatal("remember_token cookie: got none after signing in with remember me, want one")
		}
		control := ch.newTab(t, a.URL, "forgot")
		control.visit("/login")
		control.signIn(forgot, "password-"+forgot, false)
		control.waitFor("the selector", "location.pathname === '/' && document.querySelector('button[data-select-deal]')")

		tb.waitForSessionExpiry()
		control.waitForSessionExpiry()

		// With remember-me, /deal signs in and restores the deal: no form,
		// no selection step.
		tb.visit("/deal")
		tb.wantLocation("/deal")
		if got, want := tb.h1(), "Gamma Deal of "+kept; got != want {
			t.Errorf("h1 after the session expired: got %q, want %q", got, want)
		}
		tb.screenshot("restored")
		// Without it, the visitor must sign in again.
		control.visit("/deal")
		control.wantLocation("/login?next=%2Fdeal")
	})
}

// waitForSessionExpiry waits until the browser has dropped the expired
// session cookie.
func (tb *tab) waitForSessionExpiry() {
	tb.t.Helper()
	for range 100 {
		if tb.cookie("session") == "" {
			return
		}
		tb.do("wait", chromedp.Sleep(100*time.Millisecond))
	}
	tb.t.Fatalf("%s: the session cookie did not expire within 10s", tb.flow)
}

// moveAudit does the worker's job: it moves recorded events into audit_log,
// where the deal page reads them.
func moveAudit(t *testing.T, db *postgres.DB) {
	t.Helper()
	if _, err := db.MoveAuditEvents(context.Background(), 1000); err != nil {
		t.Fatalf("move audit events: %v", err)
	}
}

// selfCheck proves the error listener works, so "no script errors" means
// something: on the sign-in page, a console.error, an exception in an event
// handler and an inline script (which the pages' CSP must refuse) must all be seen.
func (c *chromium) selfCheck(t *testing.T, base string) {
	t.Helper()
	tb := &tab{t: t, flow: "self-check"}
	ctx, cancel := chromedp.NewContext(c.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(tb.listen))
	defer cancel()
	if err := chromedp.Do(ctx); err != nil { // ties the tab to ctx, not to a step's timeout
		t.Fatalf("open a browser context: %v", err)
	}
	tb.ctx = ctx
	tb.do("raise errors",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitReady(chromedp.CSS("body")),
		chromedp.Evaluate[chromedp.Void](`console.error("self-check");
			document.querySelector("h1").addEventListener("click", () => { throw new Error("self-check") });
			const s = document.createElement("script");
			s.textContent = "document.title = 'inline script ran'";
			document.body.append(s);`),
		chromedp.Click(chromedp.CSS("h1")),
	)
	deadline := time.Now().Add(stepTimeout)
	for {
		p := strings.Join(tb.scriptProblems(), "\n")
		if strings.Contains(p, "console.error") && strings.Contains(p, "Error: self-check") && strings.Contains(p, "Content Security Policy") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("browser error listener: got %q, want a console error, an exception and a CSP violation", tb.scriptProblems())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if title := eval[string](tb, "document.title"); title == "inline script ran" {
		t.Errorf("an inline script ran on /login: want the CSP to refuse it")
	}
}
