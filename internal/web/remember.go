package web

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dealctx/dealctx/internal/auth"
	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/session"
)

// RememberCookieName is the remember-me cookie's name.
const RememberCookieName = "remember_token"

// setRememberCookie sets the remember-me cookie, or deletes it when value
// is empty, replacing any remember-me cookie this response already set (the
// middleware's rotation, then a sign-in's revocation and new token).
func (s *Server) setRememberCookie(w http.ResponseWriter, value string, maxAge time.Duration) {
	h := w.Header()
	h["Set-Cookie"] = slices.DeleteFunc(h["Set-Cookie"], func(v string) bool {
		return strings.HasPrefix(v, RememberCookieName+"=")
	})
	if len(h["Set-Cookie"]) == 0 {
		h.Del("Set-Cookie")
	}
	c := &http.Cookie{
		Name: RememberCookieName, Value: value, Path: "/",
		HttpOnly: true, Secure: s.Config.CookieSecure, SameSite: http.SameSiteLaxMode,
	}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge.Seconds())
		c.Expires = time.Now().Add(maxAge)
	}
	http.SetCookie(w, c)
}

// Remember signs in a request that has no signed-in session but a valid
// Remember-me cookie, rotating the cookie's validator, and restores the
// user's deal at once, as a password sign-in does.
func (s *Server) Remember(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Sessions.UserID(r.Context()) != 0 { // signed in: no cookie to parse
			next.ServeHTTP(w, r)
			return
		}
		c, err := r.Cookie(RememberCookieName)
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		tok, ok := auth.ParseRememberToken(c.Value)
		if !ok {
			s.setRememberCookie(w, "", 0)
			next.ServeHTTP(w, r)
			return
		}
		// One transaction: the token check and rotation, the new session's
		// record, the restore and its audit event.
		var res postgres.RememberResult
		var signIn error
		var d deal.Deal
		var restored bool
		err = s.Sessions.InTx(r.Context(), func(ctx context.Context) error {
			var err error
			if res, err = s.DB.UseRememberToken(ctx, tok, s.Config.RememberGraceWindow); err != nil || res.Theft || res.UserID == 0 {
				return err
			}
			if signIn = s.Sessions.SignInFrom(ctx, res.UserID, session.Origin{IP: s.clientIP(r), RememberSelector: tok.Selector}); signIn != nil {
				return signIn
			}
			if s.Config.AutoRestoreDeal {
				d, restored = s.restorer.Restore(ctx, s.Actor(r))
			}
			return nil
		})
		switch {
		case err != nil && (signIn != nil || res.UserID != 0):
			// The sign-in did not commit: nothing of it happened.
			s.SessionError(w, r, err)
			return
		case err != nil:
			// Not fatal: the request goes on signed out, the cookie kept.
			s.Logger.WarnContext(r.Context(), "remember token check failed", "err", err)
		case res.Theft:
			if err := s.Sessions.EndTheft(r.Context(), s.Actor(r), res.TheftUserID); err != nil {
				s.Logger.ErrorContext(r.Context(), "remember token theft: sessions not ended", "user_id", res.TheftUserID, "err", err)
			}
			s.setRememberCookie(w, "", 0)
		case res.UserID == 0:
			s.setRememberCookie(w, "", 0)
		default:
			if res.NewValidator != "" {
				tok.Validator = res.NewValidator
				s.setRememberCookie(w, tok.String(), s.Config.RememberDuration)
			}
			s.Logger.InfoContext(r.Context(), "signed in from remember token", "user_id", res.UserID)
			r, restored = withRestored(r, d, restored)
			s.noteSignIn(r.Context(), restored)
		}
		next.ServeHTTP(w, r)
	})
}
