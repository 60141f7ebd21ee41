package web

import (
	"net/http/httptest"
	"testing"
)

func TestForwardedIP(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		hops int
		xff  []string // one entry per header line
		want string
	}{
		{"no header, one hop", 1, nil, "192.0.2.1"},
		{"zero hops ignores the header", 0, []string{"203.0.113.9"}, "192.0.2.1"},
		{"one hop takes the last entry", 1, []string{"198.51.100.7, 203.0.113.9"}, "203.0.113.9"},
		{"one hop, client-chosen first line", 1, []string{"198.51.100.7", "203.0.113.9"}, "203.0.113.9"},
		{"two hops take the second from the right", 2, []string{"198.51.100.7, 203.0.113.9, 10.0.0.2"}, "203.0.113.9"},
		{"two hops over two lines", 2, []string{"198.51.100.7, 203.0.113.9", "10.0.0.2"}, "203.0.113.9"},
		{"fewer entries than hops", 2, []string{"203.0.113.9"}, "192.0.2.1"},
		{"not an ip", 1, []string{"unknown"}, "192.0.2.1"},
		{"empty entry", 1, []string{"203.0.113.9, "}, "192.0.2.1"},
		{"ip with port", 1, []string{"203.0.113.9:4711"}, "203.0.113.9"},
		{"ipv6", 1, []string{"2001:db8::1"}, "2001:db8::1"},
		{"bracketed ipv6 with port", 1, []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"spaces", 1, []string{"  203.0.113.9  "}, "203.0.113.9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = "192.0.2.1:5555"
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := forwardedIP(r, tc.hops); got != tc.want {
				t.Fatalf("forwardedIP(%q, %d): got %q, want %q", tc.xff, tc.hops, got, tc.want)
			}
		})
	}
}
