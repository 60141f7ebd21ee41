package pages

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/web"
	"github.com/dealctx/dealctx/internal/web/pages/templates"
)

// noticeDealGone is what the selector says when the session's deal was
// revoked or deleted under the user.
const noticeDealGone = "The deal you were working in is no longer available to you: it was deleted or your access was removed. Choose another deal."

// activityShown is how many recent events the deal page lists.
const activityShown = 20

// dealURL is the address of a deal's page.
func dealURL(id int64) string { return "/deals/" + strconv.FormatInt(id, 10) }

// pageUser loads the signed-in user. A session whose user is gone or
// disabled is destroyed and the visitor sent to sign in; it reports false
// when it has answered the request.
func (s *Handlers) pageUser(w http.ResponseWriter, r *http.Request) (deal.User, bool) {
	ctx := r.Context()
	u, err := s.DB.FindUserByID(ctx, s.Sessions.UserID(ctx))
	switch deal.ErrorCode(err) {
	case "":
		return u, true
	case deal.EUNAUTHORIZED:
		if err := s.Sessions.Destroy(ctx); err != nil {
			s.SessionError(w, r, err)
			return u, false
		}
		http.Redirect(w, r, web.LoginURL(r.URL.RequestURI()), http.StatusSeeOther)
	default:
		s.WriteError(w, r, err)
	}
	return u, false
}

// landing is where a signed-in visitor goes when nothing else was asked
// for: the current deal's page, else the selector. A current deal revoked
// or deleted under the session leaves a notice for the selector.
func (s *Handlers) landing(w http.ResponseWriter, r *http.Request) (string, bool) {
	d, err := s.CurrentDeal(r.Context())
	switch deal.ErrorCode(err) {
	case "":
		return dealURL(d.ID), true
	case deal.ENOTFOUND:
		s.Sessions.FlagDealGone(r.Context())
		return "/deals", true
	case deal.ENOTSELECTED:
		return "/deals", true
	}
	s.WriteError(w, r, err)
	return "", false
}

// Login shows the sign-in form; a visitor already signed in goes
// straight on to where they were going.
func (s *Handlers) Login() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		next := web.SafeNext(r.URL.Query().Get("next"))
		if s.Sessions.UserID(r.Context()) != 0 {
			if next == "" {
				next = "/"
			}
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
		s.Render(w, r, http.StatusOK, &templates.LoginPage{Next: next})
	}
}

// LoginSubmit signs in from the form exactly as the API does,
// then goes to next, else the current (restored) deal's page, else the
// selector. A refused sign-in shows the form again with the message.
func (s *Handlers) LoginSubmit() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.ReadForm(w, r) {
			return
		}
		next := web.SafeNext(r.PostForm.Get("next"))
		email := strings.TrimSpace(r.PostForm.Get("email"))
		res, err := s.SignIn(w, r, email, r.PostForm.Get("password"), r.PostForm.Get("remember") != "")
		switch code := deal.ErrorCode(err); code {
		case "":
		case deal.EINVALID, deal.ECREDENTIALS, deal.ERATELIMITED:
			s.Render(w, r, web.StatusByCode[code], &templates.LoginPage{Next: next, Email: email, Error: deal.ErrorMessage(err)})
			return
		default:
			s.WriteError(w, r, err)
			return
		}
		switch {
		case next != "":
		case res.Deal != nil:
			next = dealURL(res.Deal.ID)
		default:
			next = "/deals"
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
	}
}

// Logout signs out from the form as the API does and goes to the
// sign-in page.
func (s *Handlers) Logout() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Sessions.UserID(r.Context()) != 0 {
			if err := s.SignOut(w, r); err != nil {
				s.WriteError(w, r, err)
				return
			}
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	}
}

// Home sends the visitor to the current deal's page (in the
// session, or restored now), else to the selector. /deal, the old address
// of the deal page, does the same.
func (s *Handlers) Home() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if to, ok := s.landing(w, r); ok {
			http.Redirect(w, r, to, http.StatusSeeOther)
		}
	}
}

// Selector shows the deal selector.
func (s *Handlers) Selector() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.pageUser(w, r)
		if !ok {
			return
		}
		s.renderSelector(w, r, u, http.StatusOK, &templates.SelectorPage{Notice: web.PageNotices[r.URL.Query().Get("done")]})
	}
}

// renderSelector lists the user's live deals with the session's deal, when
// the user may still see it, marked current. Without a current deal it
// says why: the notice of a deal gone (once), else the prompt to choose.
func (s *Handlers) renderSelector(w http.ResponseWriter, r *http.Request, u deal.User, status int, data *templates.SelectorPage) {
	ctx := r.Context()
	deals, err := s.DB.FindDealsForUser(ctx, u.ID)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	data.User, data.Deals = &u, deals
	if id := s.Sessions.DealID(ctx); id != 0 {
		for _, d := range deals {
			if d.ID == id {
				data.CurrentID = id
			}
		}
		if data.CurrentID == 0 {
			s.Sessions.ClearDeal(ctx)
			s.Sessions.FlagDealGone(ctx)
		}
	}
	if data.CurrentID == 0 {
		if s.Sessions.PopDealGone(ctx) {
			data.Notice = noticeDealGone
		} else {
			data.Prompt = true
		}
		s.NoteSelectorPrompt(ctx)
	}
	s.Render(w, r, status, data)
}

// DealCreate creates a deal from the selector's form and opens
// its page; a refused name shows the selector again with the message.
func (s *Handlers) DealCreate() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.ReadForm(w, r) {
			return
		}
		raw := r.PostForm.Get("name")
		d, err := s.CreateDeal(r, raw)
		if deal.ErrorCode(err) == deal.EINVALID {
			// Only the name is refused so: the selector again, with why.
			u, ok := s.pageUser(w, r)
			if !ok {
				return
			}
			s.renderSelector(w, r, u, http.StatusBadRequest, &templates.SelectorPage{CreateName: raw, CreateError: deal.ErrorMessage(err)})
			return
		}
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		http.Redirect(w, r, dealURL(d.ID), http.StatusSeeOther)
	}
}

// Deal shows the deal in the address and makes it the current
// deal: selected (session, users.last_deal_id, one deal.selected) when the
// session's deal is another one, only checked again on a reload. A deal the
// user may not open, deleted, missing or with a malformed id is the 404
// page. Owners and admins also see its recent activity in words.
func (s *Handlers) Deal() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, ok := s.ReadPageID(w, r, "id")
		if !ok {
			return
		}
		u, ok := s.pageUser(w, r)
		if !ok {
			return
		}
		var (
			d   deal.Deal
			err error
		)
		if s.Sessions.DealID(ctx) == id {
			d, err = s.DB.FindDealByID(ctx, u.ID, id)
			if deal.ErrorCode(err) == deal.ENOTFOUND {
				// Revoked or deleted under the session: the selector
				// will say so once.
				s.Sessions.ClearDeal(ctx)
				s.Sessions.FlagDealGone(ctx)
			}
		} else {
			d, err = s.DB.SelectDeal(ctx, s.Actor(r), id, deal.ActionDealSelected)
			if err == nil {
				s.Sessions.SetDeal(ctx, d.ID)
				s.Metrics.Selections.Inc()
				s.AuditWake()
			}
		}
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		s.renderDeal(w, r, u, d, http.StatusOK, &templates.DealPage{Notice: web.PageNotices[r.URL.Query().Get("done")]})
	}
}

// renderDeal shows the deal's page with data's notice or form error: its
// members and, for owners and admins, the forms that manage it and its
// recent activity in words.
func (s *Handlers) renderDeal(w http.ResponseWriter, r *http.Request, u deal.User, d deal.Deal, status int, data *templates.DealPage) {
	ctx := r.Context()
	members, err := s.DB.FindMembers(ctx, u.ID, d.ID)
	if err != nil {
		// ENOTFOUND: revoked between the two statements.
		s.WriteError(w, r, err)
		return
	}
	data.User, data.Deal, data.Members = &u, d, members
	data.Restored = s.Sessions.PopRestored(ctx) == d.ID
	data.Manage = u.IsAdmin || deal.CanManage(d.Role)
	if data.Manage {
		events, err := s.DB.FindDealActivity(ctx, d.ID, activityShown)
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		data.Events = activityViews(events, u.ID, time.Now())
	}
	s.Render(w, r, status, data)
}
