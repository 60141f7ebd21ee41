package pages

import (
	"net/http"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/web"
	"github.com/dealctx/dealctx/internal/web/pages/templates"
)

// The /account page: the "remember my last deal" preference, the password
// form and the way to the signed-in devices. Its forms call what the JSON
// API calls (DB.SetRememberLastDeal, ChangePassword), answer 303 back to
// the page with a notice, and show a refused change on the page again with
// the contract's status.

// renderAccount shows the account page with page's notice or form error.
func (s *Handlers) renderAccount(w http.ResponseWriter, r *http.Request, status int, page *templates.AccountPage) {
	u, ok := s.pageUser(w, r)
	if !ok {
		return
	}
	s.RenderFor(w, r, status, u, page)
}

// Account shows the account page.
func (s *Handlers) Account() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.renderAccount(w, r, http.StatusOK, &templates.AccountPage{Notice: web.PageNotices[r.URL.Query().Get("done")]})
	}
}

// AccountPreferences sets "remember my last deal" from the
// page's form (remember_last_deal: true or false; false also forgets the
// stored last deal, as the API's PATCH does) and comes back to the page.
func (s *Handlers) AccountPreferences() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.ReadForm(w, r) {
			return
		}
		var remember bool
		switch r.PostForm.Get("remember_last_deal") {
		case "true":
			remember = true
		case "false":
		default:
			s.WriteError(w, r, deal.Errorf(deal.EINVALID, "remember_last_deal must be true or false."))
			return
		}
		if _, err := s.DB.SetRememberLastDeal(r.Context(), s.Sessions.UserID(r.Context()), remember); err != nil {
			s.WriteError(w, r, err)
			return
		}
		done := "remember-off"
		if remember {
			done = "remember-on"
		}
		http.Redirect(w, r, web.DoneURL("/account", done), http.StatusSeeOther)
	}
}

// PasswordChange changes the password from the account page's
// form as the API does; a refused change shows the page again with the
// message and the API's status (401 wrong current password, 400 too short,
// 429 throttled).
func (s *Handlers) PasswordChange() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.ReadForm(w, r) {
			return
		}
		err := s.ChangePassword(w, r, r.PostForm.Get("current_password"), r.PostForm.Get("new_password"))
		switch code := deal.ErrorCode(err); code {
		case "":
			http.Redirect(w, r, web.DoneURL("/account", "changed"), http.StatusSeeOther)
		case deal.EINVALID, deal.ECREDENTIALS, deal.ERATELIMITED:
			s.renderAccount(w, r, web.StatusByCode[code], &templates.AccountPage{PasswordError: deal.ErrorMessage(err)})
		default:
			s.WriteError(w, r, err)
		}
	}
}
