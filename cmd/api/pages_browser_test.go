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

// TestPagesInBrowser walks the pages in a real Chromium as people would,
// once with JavaScript on and once with it off: signing in from / lands in
// the last deal, a reopened browser (remember-me cookie only) is back in its
// deal, a deal the user may not open is the 404 page, two tabs keep their
// deals, and signing out works. Every tab fails the test if any page logs a
// script error or any request URL carries a password.
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

	for _, js := range []bool{true, false} {
		mode := "js-on"
		if !js {
			mode = "js-off"
		}
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			email := func(name string) string { return name + "-" + mode + "@example.com" }
			dealPath := func(id int64) string { return fmt.Sprintf("/deals/%d", id) }

			t.Run("sign in from / lands in the last deal", func(t *testing.T) {
				owner, helper := email("pat"), email("hal")
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
				moveAudit(t, db) // older events in audit_log, the selection still in the outbox
				if r := c.do("POST", fmt.Sprintf("/api/deals/%d/select", beta), nil); r.Status != http.StatusOK {
					t.Fatalf("select: got %d %s, want 200", r.Status, r.Body)
				}

				tb := ch.newTabJS(t, a.URL, mode+"-land", js)
				tb.visit("/")
				tb.wantLocation("/login")
				// The pages' script marks the page it ran in: proof of the mode.
				if ran := eval[bool](tb, `document.documentElement.classList.contains("js")`); ran != js {
					t.Fatalf("the pages' script ran: got %v, want %v", ran, js)
				}
				tb.screenshot("login")

				tb.signIn(owner, "not-the-password", false)
				tb.waitFor("the sign-in error", "document.getElementById('login-error') && document.getElementById('login-error').hidden === false")
				if got, want := tb.text("#login-error"), "Email or password is incorrect."; got != want {
					t.Errorf("sign-in error: got %q, want %q", got, want)
				}
				tb.wantLocation("/login")
				tb.screenshot("login-error")

				tb.signIn(owner, "password-"+owner, false)
				tb.waitH1(betaName)
				tb.wantLocation(dealPath(beta))
				if got := tb.text(".welcome"); !strings.Contains(got, "Welcome back: restored from your last visit") {
					t.Errorf("welcome on the restored deal: got %q, want it to say it was restored", got)
				}
				members := tb.text(".members")
				for _, want := range []string{owner, helper} {
					if !strings.Contains(members, want) {
						t.Errorf("members: got %q, want it to include %s", members, want)
					}
				}
				events := tb.text(".events")
				for _, want := range []string{"You created this deal", strings.Split(helper, "@")[0] + " was added by you", "You selected this deal · just now"} {
					if !strings.Contains(events, want) {
						t.Errorf("recent activity: got %q, want it to include %q", events, want)
					}
				}
				if strings.Contains(events, "deal.") || strings.Contains(events, "member.") {
					t.Errorf("recent activity: got %q, want words, not action codes", events)
				}
				tb.screenshot("deal")

				tb.do("switch deal", chromedp.Click(chromedp.CSS(`main a[href="/deals"]`)))
				tb.waitH1("Choose a deal")
				current := eval[[]string](tb, `[...document.querySelectorAll('a[aria-current="page"]')].map(a => a.dataset.dealId)`)
				if want := []string{fmt.Sprint(beta)}; !slices.Equal(current, want) {
					t.Errorf("deals marked current: got %v, want %v", current, want)
				}
				if got := tb.text(".prompt"); got != "" {
					t.Errorf("prompt with a current deal: got %q, want none", got)
				}
				names := tb.linkNames()
				for _, want := range []string{"Alpha Deal", betaName} {
					if !slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, want) }) {
						t.Errorf("link names: got %q, want one that includes %q", names, want)
					}
				}
				tb.screenshot("selector")
				tb.do("choose Alpha", chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[data-deal-id="%d"]`, alpha))))
				tb.waitH1("Alpha Deal")
				tb.wantLocation(dealPath(alpha))
				if got := tb.text(".welcome"); got != "" {
					t.Errorf("welcome on a chosen deal: got %q, want none", got)
				}

				tb.do("sign out", chromedp.Click(chromedp.CSS(`[data-action="logout"]`)))
				tb.waitFor("the sign-in page", "location.pathname === '/login' && document.getElementById('login-form')")
				tb.visit("/")
				tb.wantLocation("/login")
				tb.close()

				// A new browser has no cookies. Signing in from /, by
				// keyboard alone, lands on the deal opened last.
				tb = ch.newTabJS(t, a.URL, mode+"-keyboard", js)
				tb.visit("/")
				tb.wantLocation("/login")
				tb.do("focus the email field", chromedp.Focus(chromedp.ID("email")))
				tb.do("type the email", chromedp.KeyEvent(owner))
				tb.tabTo("#password")
				tb.do("type the password", chromedp.KeyEvent("password-"+owner))
				tb.tabTo("#remember")
				tb.wantVisibleFocus()
				tb.tabTo(`#login-form button[type="submit"]`)
				tb.wantVisibleFocus()
				tb.do("press Enter", chromedp.KeyEvent("\r"))
				tb.waitH1("Alpha Deal")
				tb.wantLocation(dealPath(alpha))
				tb.screenshot("deal-restored")
			})

			t.Run("a reopened browser is back in its deal", func(t *testing.T) {
				u := email("rita")
				createUser(t, env, u, false)
				c := newClient(t, a)
				c.login(u, false)
				gamma := c.createDeal("Gamma Deal")

				tb := ch.newTabJS(t, a.URL, mode+"-remember", js)
				tb.visit("/login")
				tb.signIn(u, "password-"+u, true)
				tb.waitH1("Gamma Deal")
				tb.wantLocation(dealPath(gamma))
				token := tb.cookie("remember_token")
				if token == "" {
					t.Fatal("remember_token cookie: got none after signing in with remember me, want one")
				}
				tb.close()

				// Closing the browser loses the session cookie; the
				// remember-me cookie is all that is kept.
				tb = ch.newTabJS(t, a.URL, mode+"-reopened", js)
				tb.setCookie("remember_token", token)
				tb.visit("/")
				tb.waitH1("Gamma Deal")
				tb.wantLocation(dealPath(gamma))
				if got := tb.text(".welcome"); !strings.Contains(got, "Welcome back") {
					t.Errorf("welcome after reopening: got %q, want the welcome back", got)
				}
			})

			t.Run("a deal one may not open is the 404 page", func(t *testing.T) {
				u, other := email("nia"), email("oren")
				createUser(t, env, u, false)
				createUser(t, env, other, false)
				c := newClient(t, a)
				c.login(u, false)
				c.createDeal("Mine")
				gone := c.createDeal("Gone")
				if r := c.do("DELETE", fmt.Sprintf("/api/deals/%d", gone), nil); r.Status != http.StatusNoContent {
					t.Fatalf("delete: got %d, want 204", r.Status)
				}
				o := newClient(t, a)
				o.login(other, false)
				foreign := o.createDeal("Foreign")

				tb := ch.newTabJS(t, a.URL, mode+"-not-found", js)
				tb.visit("/login")
				tb.signIn(u, "password-"+u, false)
				tb.waitH1("Mine")
				for what, path := range map[string]string{"foreign": dealPath(foreign), "deleted": dealPath(gone), "missing": "/deals/999999999"} {
					if st := tb.visitStatus(path); st != http.StatusNotFound {
						t.Errorf("%s deal %s: got HTTP %d, want 404", what, path, st)
					}
					if got := tb.h1(); got != "Page not found" {
						t.Errorf("%s deal %s: got h1 %q, want the 404 page", what, path, got)
					}
					if n := eval[int](tb, `document.querySelectorAll('main a[href="/"]').length`); n != 1 {
						t.Errorf("%s deal: got %d links back, want 1", what, n)
					}
				}
				tb.screenshot("not-found")
			})

			t.Run("two tabs keep their deals; the last opened is restored", func(t *testing.T) {
				u := email("tess")
				createUser(t, env, u, false)
				c := newClient(t, a)
				c.login(u, false)
				north := c.createDeal("North")
				south := c.createDeal("South")
				// The api chose the first deal as the only one; forget that choice.
				if r := c.do("DELETE", "/api/deals/current", nil); r.Status != http.StatusNoContent {
					t.Fatalf("clear current deal: got %d %s, want 204", r.Status, r.Body)
				}

				tb := ch.newTabJS(t, a.URL, mode+"-tabs", js)
				tb.visit("/login")
				tb.signIn(u, "password-"+u, false)
				tb.waitH1("Choose a deal")
				if got := tb.text(".prompt"); !strings.Contains(got, "You have not chosen a deal yet") {
					t.Errorf("prompt with no deal: got %q, want it", got)
				}
				tb.visit(dealPath(north))
				tb.waitH1("North")
				second := tb.sameBrowser("second")
				second.visit(dealPath(south))
				second.waitH1("South")
				second.do("reload", chromedp.Reload())
				second.waitH1("South")
				tb.do("reload", chromedp.Reload())
				tb.waitH1("North")
				if got := tb.text("#members-heading"); !strings.Contains(got, "North") {
					t.Errorf("members heading: got %q, want it to name its deal", got)
				}

				second.do("sign out", chromedp.Click(chromedp.CSS(`[data-action="logout"]`)))
				second.waitFor("the sign-in page", "location.pathname === '/login' && document.getElementById('login-form')")
				second.signIn(u, "password-"+u, false)
				second.waitH1("North")
				second.wantLocation(dealPath(north))
			})

			t.Run("a revoked deal shows the selector with a notice", func(t *testing.T) {
				owner, member := email("olga"), email("mo")
				createUser(t, env, owner, false)
				memberID := createUser(t, env, member, false)
				c := newClient(t, a)
				c.login(owner, false)
				delta := c.createDeal("Delta Deal")
				epsilon := c.createDeal("Epsilon Deal")
				// A third deal, so that after the revoke no single deal is
				// chosen automatically.
				eta := c.createDeal("Eta Deal")
				for _, id := range []int64{delta, epsilon, eta} {
					if r := c.do("POST", fmt.Sprintf("/api/deals/%d/members", id), map[string]string{"email": member}); r.Status != http.StatusCreated {
						t.Fatalf("add member: got %d %s, want 201", r.Status, r.Body)
					}
				}

				tb := ch.newTabJS(t, a.URL, mode+"-revoked", js)
				tb.visit("/")
				tb.wantLocation("/login")
				tb.signIn(member, "password-"+member, false)
				tb.waitFor("the selector", "location.pathname === '/deals' && document.querySelector('a[data-deal-id]')")
				// Choose by keyboard: Tab to the deal, with a visible focus, and Enter.
				tb.tabTo(fmt.Sprintf(`a[data-deal-id="%d"]`, delta))
				tb.wantVisibleFocus()
				tb.do("press Enter", chromedp.KeyEvent("\r"))
				tb.waitH1("Delta Deal")
				if got := tb.text("#audit-heading"); got != "" {
					t.Errorf("a member sees the audit section: got %q, want none", got)
				}

				if r := c.do("DELETE", fmt.Sprintf("/api/deals/%d/members/%d", delta, memberID), nil); r.Status != http.StatusNoContent {
					t.Fatalf("remove member: got %d %s, want 204", r.Status, r.Body)
				}
				if st := tb.visitStatus(dealPath(delta)); st != http.StatusNotFound {
					t.Errorf("reload of a revoked deal: got HTTP %d, want 404", st)
				}
				tb.visit("/")
				tb.wantLocation("/deals")
				if got := tb.text(".notice"); !strings.Contains(got, "no longer available") {
					t.Errorf("notice after the deal was revoked: got %q, want one saying it is no longer available", got)
				}
				ids := eval[[]string](tb, `[...document.querySelectorAll('a[data-deal-id]')].map(a => a.dataset.dealId)`)
				slices.Sort(ids)
				want := []string{fmt.Sprint(epsilon), fmt.Sprint(eta)}
				slices.Sort(want)
				if !slices.Equal(ids, want) {
					t.Errorf("deals offered after the revoke: got %v, want %v (epsilon and eta)", ids, want)
				}
				tb.screenshot("notice")
				tb.visit("/deals")
				if got := tb.text(".notice"); got != "" {
					t.Errorf("notice on the next visit: got %q, want it shown once", got)
				}

				// A deal deleted while the selector is open: choosing it is
				// the 404 page.
				if r := c.do("DELETE", fmt.Sprintf("/api/deals/%d", epsilon), nil); r.Status != http.StatusNoContent {
					t.Fatalf("delete deal: got %d %s, want 204", r.Status, r.Body)
				}
				tb.do("choose the deleted deal", chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[data-deal-id="%d"]`, epsilon))))
				tb.waitH1("Page not found")

				// Creating a deal from the selector goes straight to it; an
				// empty name is refused in the page.
				tb.visit("/deals")
				tb.do("submit an empty name", chromedp.Click(chromedp.CSS(`#create-deal-form button[type="submit"]`)))
				tb.waitFor("the create error", "document.getElementById('create-error') && document.getElementById('create-error').hidden === false")
				tb.do("name the deal", chromedp.SendKeys(chromedp.ID("deal-name"), "Zeta Deal\n"))
				tb.waitH1("Zeta Deal")
				if got := tb.text(".meta"); !strings.Contains(got, "owner") {
					t.Errorf("role on a created deal: got %q, want owner", got)
				}
			})
		})
	}

	t.Run("remember me outlives an expired session", func(t *testing.T) {
		t.Parallel()
		// A separate api whose sessions last 2 s: the session cookie and
		// the stored session both expire, whatever the session store is.
		env := testEnv(t)
		env["PERMANENT_SESSION_LIFETIME"] = "2"
		a := startAPI(t, env)
		kept, forgot := "rita@example.com", "cody@example.com"
		ids := map[string]int64{}
		for _, u := range []string{kept, forgot} {
			createUser(t, env, u, false)
			c := newClient(t, a)
			c.login(u, false)
			ids[u] = c.createDeal("Gamma Deal of " + u)
		}

		tb := ch.newTab(t, a.URL, "remember")
		tb.visit("/login")
		tb.signIn(kept, "password-"+kept, true)
		tb.waitH1("Gamma Deal of " + kept)
		if tb.cookie("remember_token") == "" {
			t.Fatal("remember_token cookie: got none after signing in with remember me, want one")
		}
		control := ch.newTab(t, a.URL, "forgot")
		control.visit("/login")
		control.signIn(forgot, "password-"+forgot, false)
		control.waitH1("Gamma Deal of " + forgot)

		tb.waitForSessionExpiry()
		control.waitForSessionExpiry()

		// With remember-me, the old address /deal signs in and lands in the
		// deal: no form, no selection step.
		tb.visit("/deal")
		tb.wantLocation(fmt.Sprintf("/deals/%d", ids[kept]))
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
