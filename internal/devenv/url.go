package devenv

import (
	"net/url"
	"strings"
)

// withDatabase returns the PostgreSQL URL u with its database set to name.
func withDatabase(u, name string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return u
	}
	parsed.Path = "/" + name
	parsed.RawPath = ""
	return parsed.String()
}

// Redact hides the password of a URL so that it can be printed.
func Redact(u string) string {
	parsed, err := url.Parse(u)
	if err != nil || parsed.User == nil {
		if i := strings.Index(u, "@"); i >= 0 {
			return "xxxxx" + u[i:]
		}
		return u
	}
	return parsed.Redacted()
}
