package httpapi

import (
	"net/http"
	"strconv"

	"github.com/dealctx/dealctx/internal/auth"
	"github.com/dealctx/dealctx/internal/deal"
)

var errCredentials = deal.Errorf(deal.ECREDENTIALS, "Email or password is incorrect.")

// handleAuthLogin signs a user in: a fresh session token, the user's deal
// restored at once, and with remember a remember-me cookie.
func (s *server) handleAuthLogin() http.HandlerFunc {
	type request struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		Remember bool   `json:"remember"`
	}
	type response struct {
		User        deal.User  `json:"user"`
		CurrentDeal *deal.Deal `json:"current_deal"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[request](w, r)
		if err != nil {
			s.errs.write(w, r, err)
			return
		}
		if err := deal.ValidateLogin(req.Email, req.Password); err != nil {
			s.errs.write(w, r, err)
			return
		}
		ctx, ip := r.Context(), s.clientIP(r)
		if s.Limiter != nil {
			if wait := s.Limiter.Allow(ctx, deal.NormalizeEmail(req.Email), ip); wait > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(wait))
				s.errs.write(w, r, deal.Errorf(deal.ERATELIMITED, "Too many failed sign-ins; try again later."))
				return
			}
		}
		u, hash, _, err := s.DB.FindUserForLogin(ctx, req.Email)
		if err != nil {
			s.errs.write(w, r, err)
			return
		}
		// An unknown email is checked against a dummy hash: both cases
		// take the same time and give the same answer.
		if !s.Hasher.Verify(req.Password, hash) {
			if s.Limiter != nil {
				s.Limiter.Failed(ctx, deal.NormalizeEmail(req.Email), ip)
			}
			a := s.actor(r)
			a.UserID = u.ID
			if err := s.DB.RecordEvent(ctx, a, deal.ActionLoginFailed, 0, 0, nil); err != nil {
				s.errs.write(w, r, err)
				return
			}
			s.AuditWake()
			s.errs.write(w, r, errCredentials)
			return
		}
		if s.Limiter != nil {
			s.Limiter.Succeeded(ctx, deal.NormalizeEmail(req.Email))
		}
		if err := s.Sessions.SignIn(ctx, u.ID); err != nil {
			s.errs.write(w, r, err)
			return
		}
		if req.Remember {
			tok, err := auth.NewRememberToken()
			if err == nil {
				err = s.DB.CreateRememberToken(ctx, u.ID, tok, timeNow().Add(s.Config.RememberDuration))
			}
			if err != nil {
				s.errs.write(w, r, err)
				return
			}
			s.setRememberCookie(w, tok.String(), s.Config.RememberDuration)
		}
		a := s.actor(r)
		if err := s.DB.RecordEvent(ctx, a, deal.ActionLogin, 0, 0, map[string]any{"remember": req.Remember}); err != nil {
			s.errs.write(w, r, err)
			return
		}
		resp := response{User: u}
		if s.Config.AutoRestoreDeal {
			if d, ok := s.restorer.restore(ctx, a); ok {
				resp.CurrentDeal = &d
			}
		}
		s.AuditWake()
		writeJSON(w, http.StatusOK, resp)
	}
}

// handleAuthLogout destroys the session server-side and revokes the
// remember-me token; users.last_deal_id is kept.
func (s *server) handleAuthLogout() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		a := s.actor(r)
		if c, err := r.Cookie(RememberCookieName); err == nil {
			if tok, ok := auth.ParseRememberToken(c.Value); ok {
				if err := s.DB.RevokeRememberToken(ctx, tok.Selector); err != nil {
					s.errs.write(w, r, err)
					return
				}
			}
		}
		if err := s.Sessions.Destroy(ctx); err != nil {
			s.errs.write(w, r, err)
			return
		}
		s.setRememberCookie(w, "", 0)
		if err := s.DB.RecordEvent(ctx, a, deal.ActionLogout, 0, 0, nil); err != nil {
			s.Logger.WarnContext(ctx, "audit of logout failed", "err", err)
		}
		s.AuditWake()
		w.WriteHeader(http.StatusNoContent)
	}
}
