package pages

import (
	"net/http"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/web"
	"github.com/dealctx/dealctx/internal/web/pages/templates"
)

// Managing a deal from its page (owners and admins): adding a member by
// email, removing one, and deleting the deal after a confirmation page.
// Each form calls what the JSON API calls (AddMember, RemoveMember,
// DeleteDeal), so the store decides who may: a deal the user cannot see is
// the 404 page, one they see but may not manage the 403 page, as the API
// answers. A done form answers 303 to a page that says what happened.

// pageDeal reads the {id} of a deal page's address and loads the deal for
// the signed-in user, without selecting it. A malformed id is the 404 page,
// as a deal the user cannot see is; it reports false when it has answered.
func (s *Handlers) pageDeal(w http.ResponseWriter, r *http.Request) (deal.User, deal.Deal, bool) {
	id, ok := s.ReadPageID(w, r, "id")
	if !ok {
		return deal.User{}, deal.Deal{}, false
	}
	u, ok := s.pageUser(w, r)
	if !ok {
		return u, deal.Deal{}, false
	}
	d, err := s.DB.FindDealByID(r.Context(), u.ID, id)
	if err != nil {
		s.WriteError(w, r, err)
		return u, d, false
	}
	return u, d, true
}

// requireManager answers the 403 page, as the API does, when u may see d
// but not manage it, and reports whether u may.
func (s *Handlers) requireManager(w http.ResponseWriter, r *http.Request, u deal.User, d deal.Deal) bool {
	if u.IsAdmin || deal.CanManage(d.Role) {
		return true
	}
	s.WriteError(w, r, deal.Errorf(deal.EFORBIDDEN, "Only the deal's owner or an admin may manage it."))
	return false
}

// MemberAdd adds a member by email from the deal page's form. A
// refused email (malformed 400, unknown 404, throttled 429) shows the deal
// page again with the message and that status.
func (s *Handlers) MemberAdd() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, d, ok := s.managedDealForm(w, r)
		if !ok {
			return
		}
		email := r.PostForm.Get("email")
		_, err := s.AddMember(w, r, d.ID, email, deal.RoleMember)
		switch code := deal.ErrorCode(err); {
		case err == nil:
			http.Redirect(w, r, web.DoneURL(dealURL(d.ID), "member-added"), http.StatusSeeOther)
		case code == deal.EINVALID, code == deal.ERATELIMITED, web.IsUnknownEmail(err):
			s.renderDeal(w, r, u, d, web.StatusByCode[code], &templates.DealPage{MemberEmail: email, MemberError: deal.ErrorMessage(err)})
		default:
			s.WriteError(w, r, err)
		}
	}
}

// MemberRemove removes one member from the deal page's form.
func (s *Handlers) MemberRemove() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		userID, ok := s.ReadPageID(w, r, "user_id")
		if !ok {
			return
		}
		_, d, ok := s.managedDeal(w, r)
		if !ok {
			return
		}
		if err := s.RemoveMember(r, d.ID, userID); err != nil {
			s.WriteError(w, r, err)
			return
		}
		http.Redirect(w, r, web.DoneURL(dealURL(d.ID), "member-removed"), http.StatusSeeOther)
	}
}

// DealDeleteConfirm asks whether to delete the deal: a page with
// the form that does it, for owners and admins only.
func (s *Handlers) DealDeleteConfirm() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, d, ok := s.managedDeal(w, r)
		if !ok {
			return
		}
		s.Render(w, r, http.StatusOK, &templates.DealDeletePage{Layout: templates.Layout{User: &u}, Deal: d})
	}
}

// DealDelete deletes the deal from the confirmation page's form
// (confirm=yes, so only that form deletes) and goes to the selector.
func (s *Handlers) DealDelete() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, d, ok := s.managedDealForm(w, r)
		if !ok {
			return
		}
		if r.PostForm.Get("confirm") != "yes" {
			s.WriteError(w, r, deal.Errorf(deal.EINVALID, "Confirm the deletion on the deal's delete page."))
			return
		}
		if err := s.DeleteDeal(r, d.ID); err != nil {
			s.WriteError(w, r, err)
			return
		}
		http.Redirect(w, r, web.DoneURL("/deals", "deleted"), http.StatusSeeOther)
	}
}

// managedDeal opens a handler that manages the deal of the address (pages):
// it loads the deal for the signed-in user (pageDeal) and answers the 403
// page to one who may see it but not manage it (requireManager).
func (s *Handlers) managedDeal(w http.ResponseWriter, r *http.Request) (deal.User, deal.Deal, bool) {
	u, d, ok := s.pageDeal(w, r)
	if !ok || !s.requireManager(w, r, u, d) {
		return u, d, false
	}
	return u, d, true
}

// managedDealForm is managedDeal for a form: the body is read first.
func (s *Handlers) managedDealForm(w http.ResponseWriter, r *http.Request) (deal.User, deal.Deal, bool) {
	if !s.ReadForm(w, r) {
		return deal.User{}, deal.Deal{}, false
	}
	return s.managedDeal(w, r)
}
