package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestDevicesPageInBrowser walks /account/sessions in a real Chromium,
// with JavaScript on and off: reached from the header, it lists this
// browser (marked) and another device in words, signs the other device
// out with its button, signs out everywhere else, refuses a wrong or short
// password with the message and changes it (on /account), and signing out this device
// from the list goes to the sign-in page.
func TestDevicesPageInBrowser(t *testing.T) {
	ch := startChromium(t)
	env := testEnv(t)
	a := startAPI(t, env)

	for _, js := range []bool{true, false} {
		mode := "js-on"
		if !js {
			mode = "js-off"
		}
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			email := "devices-page-" + mode + "@example.com"
			createUser(t, env, email, false)
			laptop := newDevice(t, a, uaFirefoxLinux)
			laptop.login(email, false)

			tb := ch.newTabJS(t, a.URL, mode+"-devices", js)
			tb.visit("/account/sessions")
			tb.wantLocation("/login?next=%2Faccount%2Fsessions")
			tb.signIn(email, "password-"+email, false)
			tb.waitH1("Your devices")
			tb.wantLocation("/account/sessions")
			if ran := eval[bool](tb, `document.documentElement.classList.contains("js")`); ran != js {
				t.Fatalf("the pages' script ran: got %v, want %v", ran, js)
			}

			devices := func() int { return eval[int](tb, `document.querySelectorAll(".device").length`) }
			if n := devices(); n != 2 {
				t.Fatalf("devices listed: got %d, want 2", n)
			}
			if n := eval[int](tb, `document.querySelectorAll('.device[aria-current="true"]').length`); n != 1 {
				t.Errorf("devices marked as this one: got %d, want 1", n)
			}
			this := tb.text(`.device[aria-current="true"]`)
			if !strings.Contains(this, "Chrome on Linux") || !strings.Contains(this, "This device") {
				t.Errorf("this device: got %q, want Chrome on Linux marked This device", this)
			}
			otherRow := tb.text(`.device:not([aria-current])`)
			for _, want := range []string{"Firefox on Linux", "127.0.0.1", "last seen just now"} {
				if !strings.Contains(otherRow, want) {
					t.Errorf("the other device: got %q, want it to include %q", otherRow, want)
				}
			}
			buttons := tb.buttonNames()
			for _, want := range []string{"Sign out Firefox on Linux", "Sign out everywhere else"} {
				if !slices.Contains(buttons, want) {
					t.Errorf("buttons: got %q, want one named %q", buttons, want)
				}
			}
			tb.screenshot("devices")

			// One device out with its button.
			tb.do("sign the laptop out", chromedp.Click(chromedp.CSS(`.device:not([aria-current]) [data-action="revoke"]`)))
			tb.waitFor("the notice", `document.querySelector(".notice") && document.querySelector(".notice").textContent.includes("That device is signed out.")`)
			tb.wantLocation("/account/sessions?done=revoked")
			laptop.wantStatus("laptop signed out from the page", "/api/me", http.StatusUnauthorized)
			if n := devices(); n != 1 {
				t.Errorf("devices after signing one out: got %d, want 1", n)
			}
			if slices.Contains(tb.buttonNames(), "Sign out everywhere else") {
				t.Errorf("buttons with one device: got \"Sign out everywhere else\", want it only when there are others")
			}

			// Everywhere else.
			phone, tablet := newDevice(t, a, uaSafariPhone), newDevice(t, a, uaChromeMac)
			phone.login(email, true)
			tablet.login(email, false)
			tb.visit("/account/sessions")
			if n := devices(); n != 3 {
				t.Fatalf("devices after two more sign-ins: got %d, want 3", n)
			}
			tb.do("sign out everywhere else", chromedp.Click(chromedp.CSS(`[data-action="revoke-others"]`)))
			tb.waitFor("the notice", `document.querySelector(".notice") && document.querySelector(".notice").textContent.includes("Every other device is signed out.")`)
			phone.wantStatus("phone after everywhere else", "/api/me", http.StatusUnauthorized)
			tablet.wantStatus("tablet after everywhere else", "/api/me", http.StatusUnauthorized)
			if n := devices(); n != 1 {
				t.Errorf("devices after everywhere else: got %d, want 1", n)
			}
			tb.screenshot("everywhere-else")

			// The password form, on the account page: refused with the
			// message, then changed.
			laptop = newDevice(t, a, uaFirefoxLinux)
			laptop.login(email, false)
			tb.visit("/account")
			changePassword := func(current, next string) {
				tb.do("change the password", chromedp.WaitVisible(chromedp.ID("current-password")),
					chromedp.SendKeys(chromedp.ID("current-password"), current),
					chromedp.SendKeys(chromedp.ID("new-password"), next),
					chromedp.Click(chromedp.CSS(`#password-form button[type="submit"]`)))
			}
			changePassword("not-the-password", "a-much-longer-password")
			tb.waitFor("the password error", `document.getElementById("password-error") && !document.getElementById("password-error").hidden`)
			if got, want := tb.text("#password-error"), "The current password is incorrect."; got != want {
				t.Errorf("wrong current password: got %q, want %q", got, want)
			}
			tb.screenshot("password-error")
			changePassword("password-"+email, "too-short")
			tb.waitFor("the short-password error", `document.getElementById("password-error") && document.getElementById("password-error").textContent.includes("12 characters")`)
			laptop.wantStatus("laptop after refused password changes", "/api/me", http.StatusOK)
			changePassword("password-"+email, "a-much-longer-password")
			tb.waitFor("the notice", `document.querySelector(".notice") && document.querySelector(".notice").textContent.includes("Your password is changed")`)
			tb.wantLocation("/account?done=changed")
			laptop.wantStatus("laptop after the password change", "/api/me", http.StatusUnauthorized)
			tb.visit("/account/sessions")
			if n := devices(); n != 1 {
				t.Errorf("devices after the password change: got %d, want 1", n)
			}

			// The header links here; this device's own button signs out.
			tb.visit("/deals")
			tb.do("follow the header's Devices link", chromedp.Click(chromedp.CSS(`nav.account a[href="/account/sessions"]`)))
			tb.waitH1("Your devices")
			tb.do("sign this device out", chromedp.Click(chromedp.CSS(`.device[aria-current="true"] [data-action="revoke"]`)))
			tb.waitFor("the sign-in page", "location.pathname === '/login' && document.getElementById('login-form')")
			tb.visit("/account/sessions")
			tb.wantLocation("/login?next=%2Faccount%2Fsessions")
		})
	}
}
