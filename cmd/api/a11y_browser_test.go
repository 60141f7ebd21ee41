package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/dealctx/dealctx/internal/devenv"
)

// TestA11yInBrowser runs axe-core (the pinned release devenv provides) in a
// real Chromium on every page, signed in with the demo data, at phone
// (390x844) and desktop (1280x800) size: each page must have no axe
// violation, must not scroll sideways, and every link and form control on
// it must be on screen with a size when focused. It needs AXE_CORE_JS (make
// test provides it) and fails, never skips, without it.
func TestA11yInBrowser(t *testing.T) {
	axe := loadAxe(t)
	ch := startChromium(t)
	env := testEnv(t)
	command(t, env, "", "seed-demo")
	a := startAPI(t, env)
	atlas := sqlInt(t, env, `SELECT id FROM deals WHERE name = 'Project Atlas'`)
	// A second device, so that the devices page shows its whole form.
	phone := newClient(t, a)
	if r := phone.do("POST", "/api/auth/login", map[string]string{"email": "alice@example.com", "password": demoPassword}); r.Status != http.StatusOK {
		t.Fatalf("sign in on a second device: got %d %s, want 200", r.Status, r.Body)
	}

	alice := ch.newTab(t, a.URL, "a11y-alice")
	alice.visit("/login")
	alice.axeSelfCheck(axe)
	alice.visit("/login")
	alice.wantAccessible(axe, "sign-in page")
	alice.signIn("alice@example.com", "not-the-password", false)
	alice.waitFor("the sign-in error", "document.getElementById('login-error') && document.getElementById('login-error').hidden === false")
	alice.wantAccessible(axe, "sign-in page with an error")
	alice.signIn("alice@example.com", demoPassword, false)
	alice.waitH1("Choose a deal")
	alice.wantAccessible(axe, "deal selector")
	alice.visit(fmt.Sprintf("/deals/%d", atlas))
	alice.waitH1("Project Atlas")
	alice.waitFor("the deal's activity", "document.querySelector('.events li')")
	alice.wantAccessible(axe, "deal page with activity")
	alice.visit("/deals")
	alice.waitFor("the current deal marked", `document.querySelector('a[aria-current="page"]')`)
	alice.wantAccessible(axe, "deal selector with a current deal")
	alice.visit("/account/sessions")
	alice.waitFor("two devices", "document.querySelectorAll('.device').length === 2")
	alice.wantAccessible(axe, "devices page")
	alice.visit("/account")
	alice.waitH1("Your account")
	alice.wantAccessible(axe, "account page")
	alice.visit(fmt.Sprintf("/deals/%d/delete", atlas))
	alice.waitH1("Delete Project Atlas?")
	alice.wantAccessible(axe, "delete confirmation page")
	if status := alice.visitStatus("/deals/9223372036854775807"); status != http.StatusNotFound {
		t.Errorf("a missing deal: got HTTP %d, want 404", status)
	}
	alice.wantAccessible(axe, "404 page")

	admin := ch.newTab(t, a.URL, "a11y-admin")
	admin.visit("/login")
	admin.signIn("admin@example.com", demoPassword, false)
	admin.waitFor("signed in", "location.pathname !== '/login'")
	admin.visit("/admin")
	admin.waitH1("Figures")
	admin.wantAccessible(axe, "admin page")
}

// loadAxe reads axe-core's script, failing the test (browser tests never
// skip) when devenv has not provided it.
func loadAxe(t *testing.T) string {
	t.Helper()
	path, err := devenv.AxeCoreJS(os.Getenv)
	if err != nil {
		t.Fatalf("the accessibility test needs axe-core: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read axe-core: %v", err)
	}
	return string(b)
}

// axeViolation is one failed axe rule, with the elements that fail it.
type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
}

// runAxeJS runs every axe rule on the page and returns the violations.
const runAxeJS = `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({
	id: v.id, impact: v.impact || "", help: v.help,
	targets: v.nodes.map(n => n.target.join(" ") + ": " + (n.failureSummary || "").replace(/\s+/g, " "))
})))`

// unreachableJS focuses each link and form control in turn (a keyboard
// user reaches them so) and lists those that then have no size, are
// invisible or lie outside the viewport's width.
const unreachableJS = `(() => {
	const bad = [];
	for (const el of document.querySelectorAll('a[href], button, input:not([type="hidden"]), select, textarea, [tabindex]:not([tabindex="-1"])')) {
		el.focus();
		const r = el.getBoundingClientRect(), s = getComputedStyle(el);
		if (document.activeElement !== el || r.width === 0 || r.height === 0 || s.visibility === "hidden" ||
			r.left < 0 || r.right > document.documentElement.clientWidth) {
			bad.push(el.outerHTML.slice(0, 100) + " at " + Math.round(r.left) + ".." + Math.round(r.right) + "px, " + Math.round(r.width) + "x" + Math.round(r.height));
		}
	}
	if (document.activeElement) document.activeElement.blur();
	window.scrollTo(0, 0);
	return bad;
})()`

// wantAccessible checks the page as it is at phone and desktop size: no
// axe violation, no sideways scrolling, every control reachable. Failures
// name each violation's rule, impact and elements. Screenshots at both
// sizes go where the other browser tests keep theirs.
func (tb *tab) wantAccessible(axe, page string) {
	tb.t.Helper()
	for _, v := range []struct {
		device        string
		width, height int64
	}{{"phone", 390, 844}, {"desktop", 1280, 800}} {
		tb.do("resize to "+v.device, chromedp.EmulateViewport(v.width, v.height))
		if !eval[bool](tb, `typeof axe === "object"`) {
			tb.do("inject axe-core", chromedp.Evaluate[chromedp.Void](axe))
		}
		ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
		violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](runAxeJS, chromedp.EvalAwaitPromise))
		cancel()
		if err != nil {
			tb.failShot()
			tb.t.Fatalf("%s: %s at %s: axe.run: %v", tb.flow, page, v.device, err)
		}
		if len(violations) > 0 {
			var b strings.Builder
			for _, vi := range violations {
				fmt.Fprintf(&b, "\n  %s (%s): %s", vi.ID, vi.Impact, vi.Help)
				for _, target := range vi.Targets {
					fmt.Fprintf(&b, "\n    %s", target)
				}
			}
			tb.failShot()
			tb.t.Errorf("%s: %s at %s (%s): got %d axe violations, want 0:%s", tb.flow, page, v.device, tb.location(), len(violations), b.String())
		}
		if sw, iw := eval[int64](tb, "document.documentElement.scrollWidth"), eval[int64](tb, "window.innerWidth"); sw > iw {
			tb.t.Errorf("%s: %s at %s scrolls sideways: got scrollWidth %dpx, want at most innerWidth %dpx", tb.flow, page, v.device, sw, iw)
		}
		if bad := eval[[]string](tb, unreachableJS); len(bad) > 0 {
			tb.t.Errorf("%s: %s at %s: got %d controls off screen or without a size when focused, want 0:\n  %s", tb.flow, page, v.device, len(bad), strings.Join(bad, "\n  "))
		}
	}
	tb.screenshot(page)
}

// axeSelfCheck proves that axe runs and reports, so "0 violations" means
// something: an unlabelled field added to the page must be its "label"
// violation.
func (tb *tab) axeSelfCheck(axe string) {
	tb.t.Helper()
	tb.do("inject axe-core and an unlabelled field", chromedp.Evaluate[chromedp.Void](axe),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("main").append(Object.assign(document.createElement("input"), {type: "text", id: "self-check"}))`))
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](runAxeJS, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("axe self-check: axe.run: %v", err)
	}
	for _, v := range violations {
		if v.ID == "label" && len(v.Targets) == 1 && strings.HasPrefix(v.Targets[0], "#self-check") {
			return
		}
	}
	tb.t.Fatalf("axe self-check: got violations %+v, want the unlabelled #self-check as \"label\"", violations)
}
