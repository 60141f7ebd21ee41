package api

import (
	"net/http"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/web"
)

// Signing in and out is app.Service.SignIn and SignOut (usecases.go does the
// HTTP part for both doors); these are the JSON API's doors.

// Login signs a user in through the JSON API.
func (s *Handlers) Login() http.HandlerFunc {
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
		req, ok := web.ReadJSON[request](s.Server, w, r)
		if !ok {
			return
		}
		res, err := s.SignIn(w, r, req.Email, req.Password, req.Remember)
		s.Reply(w, r, http.StatusOK, response{User: res.User, CurrentDeal: res.Deal}, err)
	}
}

// Logout signs the session out through the JSON API.
func (s *Handlers) Logout() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.SignOut(w, r); err != nil {
			s.WriteError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
