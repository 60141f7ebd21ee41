package httpapi

import (
	"net"
	"net/http"
	"strings"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/logging"
)

// clientIP is the address the request came from: the last X-Forwarded-For
// hop (the one the platform's router appended), else the peer address.
func clientIP(r *http.Request) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		parts := strings.Split(xff, ",")
		if ip := net.ParseIP(strings.TrimSpace(parts[len(parts)-1])); ip != nil {
			return ip.String()
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// actor describes the request's user for the audit trail.
func (s *server) actor(r *http.Request) deal.Actor {
	ua := r.UserAgent()
	if len(ua) > 512 {
		ua = ua[:512]
	}
	return deal.Actor{
		UserID:    s.Sessions.UserID(r.Context()),
		RequestID: logging.RequestID(r.Context()),
		IP:        clientIP(r),
		UserAgent: strings.ToValidUTF8(ua, ""),
	}
}
