package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// This file is the browser side of the page tests: one headless Chromium per
// test, a fresh browser context (no cookies) per simulated person, and
// helpers that act as a person would and record what they see.

// stepTimeout bounds every browser step, so a broken page fails the test
// instead of hanging it.
const stepTimeout = 15 * time.Second

// findChromium returns the browser binary: $CHROMIUM_BIN, else the first of
// the usual names on PATH.
func findChromium() (string, error) {
	if bin := os.Getenv("CHROMIUM_BIN"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("CHROMIUM_BIN=%s: %w", bin, err)
		}
		return bin, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if bin, err := exec.LookPath(name); err == nil {
			return bin, nil
		}
	}
	return "", errors.New("no chromium, chromium-browser or google-chrome on PATH and CHROMIUM_BIN unset")
}

// screenshotDir is where the run keeps screenshots: $ARTIFACTS_DIR, else
// .artifacts/screenshots at the repository root (git-ignored).
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		root, err := filepath.Abs(".")
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(root)
			if parent == root {
				t.Fatal("no go.mod above the test's directory")
			}
			root = parent
		}
		dir = filepath.Join(root, ".artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot dir: %v", err)
	}
	return dir
}

// chromium is one headless browser process shared by a test's tabs.
type chromium struct {
	ctx   context.Context
	shots string
}

// startChromium starts a headless Chromium for the test, or fails the test
// with a clear message when there is none: browser tests never skip.
func startChromium(t *testing.T) *chromium {
	t.Helper()
	bin, err := findChromium()
	if err != nil {
		t.Fatalf("the browser tests need Chromium and found none (%v): install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_BIN", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in CI containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })

	// The first Do starts the browser and ties it to ctx, so it cannot take
	// a timeout context; a timer cancels it instead.
	timer := time.AfterFunc(30*time.Second, cancel)
	err = chromedp.Do(ctx)
	if !timer.Stop() {
		err = fmt.Errorf("did not start within 30s: %w", err)
	}
	if err != nil {
		t.Fatalf("start Chromium %s: %v", bin, err)
	}
	return &chromium{ctx: ctx, shots: screenshotDir(t)}
}

// tab is one person's browser: a new browser context, so no cookies are
// shared with any other tab, with its script errors recorded.
type tab struct {
	t      *testing.T
	ctx    context.Context
	cancel context.CancelFunc
	base   string
	shots  string
	flow   string
	shot   int

	mu       sync.Mutex
	problems []string
	urls     []string // every request URL the tab's pages made
	closed   bool
	others   []*tab // further tabs of the same browser (sameBrowser)
	jsOff    bool
}

// newTab opens a fresh browser context on the api at base. Screenshots are
// named after flow. When the tab closes the test fails if any page logged a
// script error, an uncaught exception or a browser error such as a CSP
// violation; failed HTTP requests are expected (a wrong password is a 401).
func (c *chromium) newTab(t *testing.T, base, flow string) *tab {
	t.Helper()
	tb := &tab{t: t, base: base, shots: c.shots, flow: flow}
	tb.ctx, tb.cancel = chromedp.NewContext(c.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(tb.listen))
	if err := chromedp.Do(tb.ctx); err != nil {
		t.Fatalf("open a browser context: %v", err)
	}
	t.Cleanup(tb.close)
	return tb
}

// newTabJS opens a fresh browser context like newTab, with the pages'
// scripts switched off when js is false (as a person with JavaScript
// disabled would browse).
func (c *chromium) newTabJS(t *testing.T, base, flow string, js bool) *tab {
	t.Helper()
	tb := c.newTab(t, base, flow)
	if !js {
		tb.disableJS()
	}
	return tb
}

func (tb *tab) disableJS() {
	tb.t.Helper()
	tb.jsOff = true
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		tb.t.Fatalf("%s: disable JavaScript: %v", tb.flow, err)
	}
}

// sameBrowser opens a second tab in tb's browser: it shares the cookies,
// and JavaScript is off in it when it is off in tb.
func (tb *tab) sameBrowser(flow string) *tab {
	tb.t.Helper()
	o := &tab{t: tb.t, base: tb.base, shots: tb.shots, flow: tb.flow + "-" + flow}
	o.ctx, o.cancel = chromedp.NewContext(tb.ctx, chromedp.WithListener(o.listen))
	if err := chromedp.Do(o.ctx); err != nil {
		tb.t.Fatalf("open a second tab: %v", err)
	}
	if tb.jsOff {
		o.disableJS()
	}
	tb.others = append(tb.others, o)
	return o
}

// setCookie gives the tab's browser a cookie for the api, as one kept
// from an earlier visit.
func (tb *tab) setCookie(name, value string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	httpOnly := true
	if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: name, Value: value, URL: tb.base + "/", HTTPOnly: &httpOnly, SameSite: network.CookieSameSiteLax}); err != nil {
		tb.t.Fatalf("%s: set cookie %s: %v", tb.flow, name, err)
	}
}

// visitStatus loads path and returns the status of the page that finally
// loaded.
func (tb *tab) visitStatus(path string) int64 {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(tb.base+path))
	if err != nil {
		tb.t.Fatalf("%s: visit %s: %v", tb.flow, path, err)
	}
	tb.do("wait for "+path, chromedp.WaitReady(chromedp.CSS("body")))
	return resp.Status
}

// linkNames returns the accessible names of the page's links, as the
// browser's accessibility tree has them.
func (tb *tab) linkNames() []string { return tb.roleNames("link") }

// listen runs in the tab's event loop: it must return fast.
func (tb *tab) listen(ev any) {
	var problem string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		problem = "uncaught exception: " + d.Text
		if d.Exception != nil {
			problem += " " + d.Exception.Description
		}
		problem += " at " + d.URL
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			problem = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
		}
	case *network.EventRequestWillBeSent:
		tb.mu.Lock()
		tb.urls = append(tb.urls, ev.Request.URL+ev.Request.URLFragment)
		tb.mu.Unlock()
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError && ev.Entry.Source != log.EntrySourceNetwork {
			problem = "browser " + string(ev.Entry.Source) + " error: " + ev.Entry.Text + " " + ev.Entry.URL
		}
	}
	if problem != "" {
		tb.mu.Lock()
		tb.problems = append(tb.problems, problem)
		tb.mu.Unlock()
	}
}

// scriptProblems returns what listen recorded so far.
func (tb *tab) scriptProblems() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.problems...)
}

// close closes the browser context (its cookies go with it) and fails the
// test if any page had script errors.
func (tb *tab) close() {
	tb.mu.Lock()
	closed := tb.closed
	tb.closed = true
	tb.mu.Unlock()
	if closed {
		return
	}
	for _, o := range tb.others {
		o.close()
	}
	tb.cancel()
	tb.mu.Lock()
	urls := append([]string(nil), tb.urls...)
	tb.mu.Unlock()
	for _, u := range urls {
		// A password in a URL travels in its query or fragment (a GET
		// form); a path such as /account/password carries none.
		_, rest, _ := strings.Cut(u, "?")
		if _, frag, ok := strings.Cut(u, "#"); ok {
			rest += "#" + frag
		}
		if strings.Contains(strings.ToLower(rest), "password") {
			tb.t.Errorf("%s: a request URL carries a password: %s", tb.flow, u)
		}
	}
	if p := tb.scriptProblems(); len(p) > 0 {
		tb.t.Errorf("%s: script errors in the browser: got %d, want 0:\n  %s", tb.flow, len(p), strings.Join(p, "\n  "))
	}
}

// do runs steps with a timeout, failing the test (with a screenshot of the
// page as it was) when one fails.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.failShot()
		tb.t.Fatalf("%s: %s: %v", tb.flow, what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.failShot()
		tb.t.Fatalf("%s: evaluate %s: %v", tb.flow, expr, err)
	}
	return v
}

// visit loads path as if typed into the address bar and fails the test
// unless the page that finally loads (after redirects) answered 2xx.
func (tb *tab) visit(path string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(tb.base+path))
	if err != nil {
		tb.t.Fatalf("%s: visit %s: %v", tb.flow, path, err)
	}
	if resp.Status < 200 || resp.Status > 299 {
		tb.failShot()
		tb.t.Fatalf("%s: visit %s: got HTTP %d at %s, want 2xx", tb.flow, path, resp.Status, resp.URL)
	}
	tb.do("wait for "+path, chromedp.WaitReady(chromedp.CSS("body")))
}

// waitFor polls a JavaScript condition until it is true. Polling from Go
// (not in the page) survives the navigations the condition waits for.
func (tb *tab) waitFor(what, cond string) {
	tb.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("document.readyState === 'complete' && !!("+cond+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			tb.failShot()
			tb.t.Fatalf("%s: waited %s for %s (%s); page is at %s with h1 %q", tb.flow, stepTimeout, what, cond, tb.location(), tb.h1())
		}
		time.Sleep(40 * time.Millisecond)
	}
}

// waitH1 waits until the page's h1 reads want.
func (tb *tab) waitH1(want string) {
	tb.t.Helper()
	tb.waitFor("h1 "+strconv.Quote(want), "document.querySelector('h1') && document.querySelector('h1').textContent.trim() === "+jsString(want))
}

// location returns the page's path and query.
func (tb *tab) location() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	defer cancel()
	v, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("location.pathname + location.search"))
	return v
}

// h1 returns the text of the page's first h1, or "" when there is none.
func (tb *tab) h1() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	defer cancel()
	v, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("(document.querySelector('h1') || {textContent: ''}).textContent.trim()"))
	return v
}

// wantLocation fails the test unless the page is at want (path and query).
func (tb *tab) wantLocation(want string) {
	tb.t.Helper()
	if got := tb.location(); got != want {
		tb.failShot()
		tb.t.Fatalf("%s: location: got %s, want %s", tb.flow, got, want)
	}
}

// text returns the trimmed text of the first element matching css, or ""
// when there is none or it is hidden.
func (tb *tab) text(css string) string {
	tb.t.Helper()
	return eval[string](tb, "(function(){ const e = document.querySelector("+jsString(css)+"); return e && !e.hidden ? e.textContent.replace(/\\s+/g, ' ').trim() : ''; })()")
}

// signIn fills in the sign-in form with the mouse and submits it.
func (tb *tab) signIn(email, password string, remember bool) {
	tb.t.Helper()
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("email").value = ""; document.getElementById("password").value = ""`),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
	}
	if remember {
		steps = append(steps, chromedp.Click(chromedp.ID("remember")))
	}
	steps = append(steps, chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)))
	tb.do("sign in as "+email, steps...)
}

// tabTo presses Tab until the focused element matches css (at most 30
// times), so the element is reached by keyboard as a person would.
func (tb *tab) tabTo(css string) {
	tb.t.Helper()
	for range 30 {
		if eval[bool](tb, "!!document.activeElement && document.activeElement.matches("+jsString(css)+")") {
			return
		}
		tb.do("press Tab", chromedp.KeyEvent("\t"))
	}
	tb.failShot()
	tb.t.Fatalf("%s: 30 presses of Tab did not reach %s", tb.flow, css)
}

// wantVisibleFocus fails the test unless the focused element shows a
// focus outline.
func (tb *tab) wantVisibleFocus() {
	tb.t.Helper()
	style := eval[string](tb, "(function(){ const s = getComputedStyle(document.activeElement); return s.outlineStyle + ' ' + s.outlineWidth; })()")
	if strings.HasPrefix(style, "none") || strings.HasSuffix(style, " 0px") {
		tb.t.Errorf("%s: focused %s has outline %q, want a visible outline", tb.flow, tb.describeFocus(), style)
	}
}

func (tb *tab) describeFocus() string {
	return eval[string](tb, "document.activeElement ? document.activeElement.outerHTML.slice(0, 80) : 'nothing'")
}

// buttonNames returns the accessible names of the page's buttons, as the
// browser's accessibility tree (what a screen reader reads) has them.
func (tb *tab) buttonNames() []string { return tb.roleNames("button") }

func (tb *tab) roleNames(role string) []string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		tb.t.Fatalf("%s: accessibility tree: %v", tb.flow, err)
	}
	var names []string
	for _, n := range res.Nodes {
		if n.Ignored || n.Role == nil || n.Name == nil || string(n.Role.Value) != jsString(role) {
			continue
		}
		var name string
		if err := json.Unmarshal(n.Name.Value, &name); err == nil {
			names = append(names, name)
		}
	}
	return names
}

// cookie returns the value of the tab's cookie name for the api, or "".
func (tb *tab) cookie(name string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{tb.base + "/"}})
	if err != nil {
		tb.t.Fatalf("%s: cookies: %v", tb.flow, err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

var unsafeFileChars = regexp.MustCompile(`[^a-z0-9-]+`)

// screenshot saves the page at desktop (1280px) and phone (390px) width,
// and fails the test if the page is wider than the phone's screen.
func (tb *tab) screenshot(step string) {
	tb.t.Helper()
	tb.shot++
	for _, v := range []struct {
		device        string
		width, height int64
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		tb.do("resize to "+v.device, chromedp.EmulateViewport(v.width, v.height))
		if v.device == "phone" {
			if w := eval[int64](tb, "document.documentElement.scrollWidth"); w > v.width {
				tb.t.Errorf("%s: %s at phone width scrolls sideways: got width %dpx, want at most %dpx", tb.flow, step, w, v.width)
			}
		}
		ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err != nil {
			tb.t.Fatalf("%s: screenshot %s: %v", tb.flow, step, err)
		}
		tb.save(fmt.Sprintf("%02d-%s-%s", tb.shot, step, v.device), png)
	}
	tb.do("resize to desktop", chromedp.EmulateViewport(1280, 800))
}

func (tb *tab) save(name string, png []byte) {
	file := unsafeFileChars.ReplaceAllString(strings.ToLower(tb.flow+"-"+name), "-") + ".png"
	if err := os.WriteFile(filepath.Join(tb.shots, file), png, 0o644); err != nil {
		tb.t.Errorf("save screenshot: %v", err)
	}
}

// failShot saves what the page looked like when a step failed.
func (tb *tab) failShot() {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		tb.save("FAILED", png)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
