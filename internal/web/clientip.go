package web

import (
	"net"
	"net/http"
	"strings"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/logging"
)

// clientIP is the address the request came from, as far as the proxies in
// front of the api can vouch for it (TRUSTED_PROXY_HOPS).
func (s *Server) clientIP(r *http.Request) string {
	return forwardedIP(r, s.Config.TrustedProxyHops)
}

// forwardedIP picks the client's address given how many proxies we trust: each
// trusted proxy appends the address it was reached from to X-Forwarded-For,
// so the hops-th entry from the right was written by the outermost one and
// everything left of it is the client's to choose. Zero hops, fewer entries
// than hops, or an entry that is not an IP mean the connection's own peer
// address. Every X-Forwarded-For line counts, in order, as RFC 9110 joins them.
func forwardedIP(r *http.Request, hops int) string {
	if hops > 0 {
		var entries []string
		for _, line := range r.Header.Values("X-Forwarded-For") {
			entries = append(entries, strings.Split(line, ",")...)
		}
		if len(entries) >= hops {
			if ip := parseHop(entries[len(entries)-hops]); ip != "" {
				return ip
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// parseHop reads one X-Forwarded-For entry: an IP, possibly with a port
// (some proxies add one); "" when it is neither.
func parseHop(s string) string {
	s = strings.TrimSpace(s)
	if ip := net.ParseIP(s); ip != nil {
		return ip.String()
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if ip := net.ParseIP(host); ip != nil {
			return ip.String()
		}
	}
	return ""
}

// Actor describes the request's user for the audit trail.
func (s *Server) Actor(r *http.Request) deal.Actor {
	ua := r.UserAgent()
	if len(ua) > 512 {
		ua = ua[:512]
	}
	return deal.Actor{
		UserID:    s.Sessions.UserID(r.Context()),
		RequestID: logging.RequestID(r.Context()),
		IP:        s.clientIP(r),
		UserAgent: strings.ToValidUTF8(ua, ""),
	}
}
