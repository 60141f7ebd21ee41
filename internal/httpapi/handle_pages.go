package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/httpapi/pages"
)

// pageCSP allows only the api's own scripts, styles and images: no inline
// script, no framing.
const pageCSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// noticeDealGone is what the selector says when the session's deal was
// revoked or deleted under the user.
const noticeDealGone = "The deal you were working in is no longer available to you: it was deleted or your access was removed. Choose another deal."

// auditEventsShown is how many recent audit events the deal page lists.
const auditEventsShown = 20

// pageSet is the parsed page templates and the static files' handler.
type pageSet struct {
	tmpl   map[string]*template.Template
	asset  string // a hash of the static files, for cache-busting URLs
	static http.Handler
}

// newPageSet parses the embedded templates; they are part of the binary,
// so a parse error is a programming error and panics at start.
func newPageSet() *pageSet {
	ps := &pageSet{tmpl: map[string]*template.Template{}}
	for _, name := range []string{"login", "selector", "deal", "error", "admin"} {
		ps.tmpl[name] = template.Must(template.ParseFS(pages.Files, "layout.html", name+".html"))
	}
	static, err := fs.Sub(pages.Files, "static")
	if err != nil {
		panic(err)
	}
	h := sha256.New()
	for _, name := range []string{"app.css", "app.js", "favicon.svg"} {
		b, err := fs.ReadFile(static, name)
		if err != nil {
			panic(err)
		}
		h.Write(b)
	}
	ps.asset = hex.EncodeToString(h.Sum(nil))[:12]
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	ps.static = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
	return ps
}

// pageData is what every page template may use.
type pageData struct {
	Asset string
	User  *deal.User

	// Login.
	Next string

	// Selector.
	Deals     []deal.Deal
	CurrentID int64
	Prompt    bool
	Notice    string

	// Deal page.
	Deal      deal.Deal
	Members   []deal.Member
	ShowAudit bool
	Events    []eventView

	// Error page.
	Message string
	Retry   string

	// Admin page.
	Admin *adminView
}

// eventView is an audit event as the deal page shows it.
type eventView struct {
	At     time.Time
	Action string
	Actor  string
	Target string
}

// render executes a page into a buffer first, so a template error never
// leaves a half-written page.
func (s *server) render(w http.ResponseWriter, r *http.Request, ps *pageSet, status int, name string, data pageData) {
	data.Asset = ps.asset
	var buf bytes.Buffer
	if err := ps.tmpl[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		s.Logger.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "An internal error occurred.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// pageError shows err as an HTML page with the status the contract gives
// its code; detail of internal errors is logged, never shown.
func (s *server) pageError(w http.ResponseWriter, r *http.Request, ps *pageSet, err error) {
	code := deal.ErrorCode(err)
	status, ok := statusByCode[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	msg := deal.ErrorMessage(err)
	switch code {
	case deal.EINTERNAL:
		s.Logger.ErrorContext(r.Context(), "internal error", "path", r.URL.Path, "err", err)
	case deal.EUNAVAILABLE:
		s.Logger.WarnContext(r.Context(), "dependency unavailable", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "1")
		if !isDomainError(err) {
			msg = "The service is briefly unavailable; try again in a moment."
		}
	}
	s.render(w, r, ps, status, "error", pageData{Message: msg, Retry: r.URL.RequestURI()})
}

// pageHeaders marks page responses uncacheable and confines what they load.
func pageHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", pageCSP)
		next.ServeHTTP(w, r)
	})
}

// pageSessionError answers a session store failure on a page with an HTML
// 503 page instead of the API's JSON body.
func (s *server) pageSessionError(ps *pageSet) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		s.Logger.WarnContext(r.Context(), "session store unavailable", "err", err)
		s.pageError(w, r, ps, deal.Errorf(deal.EUNAVAILABLE, "Sessions are briefly unavailable; try again in a moment."))
	}
}

// requirePageUser sends a signed-out visitor to /login, remembering where
// they were going. It does no I/O.
func (s *server) requirePageUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Sessions.UserID(r.Context()) == 0 {
			http.Redirect(w, r, loginURL(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func loginURL(next string) string {
	if next = safeNext(next); next == "/" {
		return "/login"
	}
	return "/login?" + url.Values{"next": {next}}.Encode()
}

// safeNext returns next when it is a path on this site, else "/": a link
// to /login?next=... must not send the user to another site.
func safeNext(next string) string {
	if len(next) > 2048 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.ContainsAny(next, "\x00\r\n\t") {
		return "/"
	}
	return next
}

// pageUser loads the signed-in user. A session whose user is gone or
// disabled is destroyed and the visitor sent to sign in; it reports false
// when it has answered the request.
func (s *server) pageUser(w http.ResponseWriter, r *http.Request, ps *pageSet) (deal.User, bool) {
	ctx := r.Context()
	u, err := s.DB.FindUserByID(ctx, s.Sessions.UserID(ctx))
	switch deal.ErrorCode(err) {
	case "":
		return u, true
	case deal.EUNAUTHORIZED:
		if err := s.Sessions.Destroy(ctx); err != nil {
			s.pageSessionError(ps)(w, r, err)
			return u, false
		}
		http.Redirect(w, r, loginURL(r.URL.RequestURI()), http.StatusSeeOther)
	default:
		s.pageError(w, r, ps, err)
	}
	return u, false
}

// handlePageLogin shows the sign-in form; a visitor already signed in goes
// straight on to where they were going.
func (s *server) handlePageLogin(ps *pageSet) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		next := safeNext(r.URL.Query().Get("next"))
		if s.Sessions.UserID(r.Context()) != 0 {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
		s.render(w, r, ps, http.StatusOK, "login", pageData{Next: next})
	}
}

// handlePageSelector shows the deal selector.
func (s *server) handlePageSelector(ps *pageSet) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.pageUser(w, r, ps)
		if !ok {
			return
		}
		s.renderSelector(w, r, ps, u, pageData{})
	}
}

// renderSelector lists the user's live deals with the session's deal, when
// the user may still see it, marked current.
func (s *server) renderSelector(w http.ResponseWriter, r *http.Request, ps *pageSet, u deal.User, data pageData) {
	ctx := r.Context()
	deals, err := s.DB.FindDealsForUser(ctx, u.ID)
	if err != nil {
		s.pageError(w, r, ps, err)
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
		}
	}
	s.render(w, r, ps, http.StatusOK, "selector", data)
}

// handlePageDeal shows the current deal: its members and, for owners and
// admins, its recent audit events. With no deal it shows the selector with a
// prompt; with a deal revoked or deleted under the user, with a notice.
func (s *server) handlePageDeal(ps *pageSet) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u, ok := s.pageUser(w, r, ps)
		if !ok {
			return
		}
		d, err := s.currentDeal(ctx)
		switch deal.ErrorCode(err) {
		case "":
		case deal.ENOTSELECTED:
			if s.Sessions.PopDealGone(ctx) {
				// The last deal was revoked or deleted while signed out.
				s.renderSelector(w, r, ps, u, pageData{Notice: noticeDealGone})
				return
			}
			s.noteSelectorPrompt(ctx)
			s.renderSelector(w, r, ps, u, pageData{Prompt: true})
			return
		case deal.ENOTFOUND:
			s.renderSelector(w, r, ps, u, pageData{Notice: noticeDealGone})
			return
		default:
			s.pageError(w, r, ps, err)
			return
		}
		members, err := s.DB.FindMembers(ctx, u.ID, d.ID)
		if deal.ErrorCode(err) == deal.ENOTFOUND {
			// Revoked between the two statements.
			s.Sessions.ClearDeal(ctx)
			s.renderSelector(w, r, ps, u, pageData{Notice: noticeDealGone})
			return
		}
		if err != nil {
			s.pageError(w, r, ps, err)
			return
		}
		data := pageData{User: &u, Deal: d, Members: members, ShowAudit: u.IsAdmin || deal.CanManage(d.Role)}
		if data.ShowAudit {
			events, err := s.DB.FindAuditEvents(ctx, deal.AuditFilter{DealID: d.ID, Limit: auditEventsShown})
			if err != nil {
				s.pageError(w, r, ps, err)
				return
			}
			data.Events = eventViews(events, u, members)
		}
		s.render(w, r, ps, http.StatusOK, "deal", data)
	}
}

// eventViews names the people in events by email where the page knows them.
func eventViews(events []deal.AuditEvent, u deal.User, members []deal.Member) []eventView {
	emails := map[int64]string{u.ID: "you"}
	for _, m := range members {
		if m.UserID != u.ID {
			emails[m.UserID] = m.Email
		}
	}
	name := func(id *int64) string {
		switch {
		case id == nil:
			return ""
		case emails[*id] != "":
			return emails[*id]
		default:
			return fmt.Sprintf("user #%d", *id)
		}
	}
	views := make([]eventView, 0, len(events))
	for _, e := range events {
		v := eventView{At: e.OccurredAt, Action: e.Action, Actor: name(e.ActorUserID), Target: name(e.TargetUserID)}
		if v.Actor == "" {
			v.Actor = "the system"
		}
		views = append(views, v)
	}
	return views
}
