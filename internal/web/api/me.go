package api

import (
	"net/http"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/web"
)

// Me returns the signed-in user, the current deal and whether this
// request restored it.
func (s *Handlers) Me() http.HandlerFunc {
	type response struct {
		User        deal.User  `json:"user"`
		CurrentDeal *deal.Deal `json:"current_deal"`
		Restored    bool       `json:"restored"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u, err := s.DB.FindUserByID(ctx, s.Sessions.UserID(ctx))
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		resp := response{User: u}
		_, resp.Restored = web.RestoredDeal(ctx)
		d, err := s.CurrentDeal(ctx)
		switch deal.ErrorCode(err) {
		case "":
			resp.CurrentDeal = &d
		case deal.ENOTFOUND, deal.ENOTSELECTED:
		default:
			s.WriteError(w, r, err)
			return
		}
		web.WriteJSON(w, http.StatusOK, resp)
	}
}

// MePreferences updates remember_last_deal; false also forgets the
// stored last deal.
func (s *Handlers) MePreferences() http.HandlerFunc {
	type request struct {
		RememberLastDeal *bool `json:"remember_last_deal"`
	}
	type response struct {
		User deal.User `json:"user"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := web.Decode[request](w, r)
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		if req.RememberLastDeal == nil {
			s.WriteError(w, r, deal.Errorf(deal.EINVALID, "remember_last_deal (true or false) is required."))
			return
		}
		u, err := s.DB.SetRememberLastDeal(r.Context(), s.Sessions.UserID(r.Context()), *req.RememberLastDeal)
		s.Reply(w, r, http.StatusOK, response{User: u}, err)
	}
}
