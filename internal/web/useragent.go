package web

import "strings"

// A few rules that name a User-Agent's browser and system in words for the
// device list ("Firefox on Linux"). Order matters: most browsers claim to
// be others (every Chromium says Safari, Edge and Opera say Chrome, every
// iPhone browser is Safari underneath), so the specific tokens come first.

// uaBrowsers maps a User-Agent token to the browser it names, first match
// wins.
var uaBrowsers = []struct{ token, name string }{
	{"Edg", "Edge"},
	{"OPR/", "Opera"},
	{"Opera", "Opera"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"Firefox/", "Firefox"},
	{"FxiOS/", "Firefox"},
	{"CriOS/", "Chrome"},
	{"HeadlessChrome/", "Chrome"},
	{"Chromium/", "Chromium"},
	{"Chrome/", "Chrome"},
	{"Safari/", "Safari"},
	{"curl/", "curl"},
}

// uaSystems maps a User-Agent token to the operating system or device it
// names, first match wins (an iPhone says "like Mac OS X", Android says
// Linux).
var uaSystems = []struct{ token, name string }{
	{"iPhone", "iPhone"},
	{"iPad", "iPad"},
	{"Android", "Android"},
	{"Windows", "Windows"},
	{"CrOS", "ChromeOS"},
	{"Macintosh", "macOS"},
	{"Mac OS X", "macOS"},
	{"Linux", "Linux"},
}

// DescribeUserAgent names the browser and system of a User-Agent header in
// words: "Chrome on macOS", "Safari on iPhone", "Firefox" when the system is
// unknown, "Unknown browser on Linux", or "Unknown device".
func DescribeUserAgent(ua string) string {
	browser, system := "", ""
	for _, b := range uaBrowsers {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, s := range uaSystems {
		if strings.Contains(ua, s.token) {
			system = s.name
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "Unknown browser on " + system
	}
	return "Unknown device"
}
