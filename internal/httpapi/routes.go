package httpapi

import (
	"net/http"

	"github.com/dealctx/dealctx/internal/web"
	"github.com/dealctx/dealctx/internal/web/api"
	"github.com/dealctx/dealctx/internal/web/pages"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes is the single list of routes, with per-route middleware visible.
func routes(s *web.Server) http.Handler {
	ap, pg := &api.Handlers{Server: s}, &pages.Handlers{Server: s}
	r := chi.NewRouter()
	s.Mux = r
	r.Use(s.CloseWhenDraining, web.RequestID, s.Instrument, s.Recoverer, web.SecurityHeaders(s.Config.CookieSecure), s.LimitBody, s.CheckURL, s.CrossOrigin)

	r.NotFound(func(w http.ResponseWriter, r *http.Request) { s.WriteError(w, r, web.ErrRouteNotFound) })
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		if s.AllowedMethods(r) == "" { // an unknown method on a path no route serves
			s.WriteError(w, r, web.ErrRouteNotFound)
			return
		}
		s.WriteError(w, r, web.ErrMethodNotAllowed)
	})

	// Probes and metrics: no session.
	r.Get("/healthz", api.Healthz())
	r.Get("/readyz", ap.Readyz())
	r.Get("/api/health/session", api.HealthSession(s.Health))
	r.Get("/api/openapi.json", api.OpenAPI())
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{}))

	// Pages: forms and links, HTML errors, redirects to sign in.
	r.Get("/static/*", s.Pages.Static.ServeHTTP)
	r.Group(func(r chi.Router) {
		r.Use(web.PageHeaders, s.Sessions.LoadAndSave(s.SessionError), s.Remember, s.CountPageLoads)
		r.Get("/login", pg.Login())
		r.Post("/login", pg.LoginSubmit())
		r.Post("/logout", pg.Logout())
		r.Group(func(r chi.Router) {
			r.Use(s.RequirePageUser)
			r.With(s.AutoRestore).Get("/", pg.Home())
			r.With(s.AutoRestore).Get("/deal", pg.Home())
			r.With(s.AutoRestore).Get("/deals", pg.Selector())
			r.Post("/deals", pg.DealCreate())
			r.Get("/deals/{id}", pg.Deal())
			r.Post("/deals/{id}/members", pg.MemberAdd())
			r.Post("/deals/{id}/members/{user_id}/remove", pg.MemberRemove())
			r.Get("/deals/{id}/delete", pg.DealDeleteConfirm())
			r.Post("/deals/{id}/delete", pg.DealDelete())
			r.Get("/account", pg.Account())
			r.Post("/account/preferences", pg.AccountPreferences())
			r.Get("/account/sessions", pg.SessionList())
			r.Post("/account/sessions/revoke-others", pg.SessionsRevokeOthers())
			r.Post("/account/sessions/{id}/revoke", pg.SessionRevoke())
			r.Post("/account/password", pg.PasswordChange())
			r.Get("/admin", pg.Admin())
		})
	})

	r.Group(func(r chi.Router) {
		r.Use(s.Sessions.LoadAndSave(s.SessionError), s.Remember)

		r.Post("/api/auth/login", ap.Login())
		r.With(s.RequireUser).Post("/api/auth/logout", ap.Logout())

		r.Group(func(r chi.Router) {
			r.Use(s.RequireUser, s.AutoRestore)
			r.Get("/api/me", ap.Me())
			r.Patch("/api/me/preferences", ap.MePreferences())
			r.Get("/api/me/sessions", ap.SessionList())
			r.Delete("/api/me/sessions", ap.SessionDeleteOthers())
			r.Delete("/api/me/sessions/{id}", ap.SessionDelete())
			r.Post("/api/me/password", ap.PasswordChange())

			r.Get("/api/deals", ap.DealList())
			r.Get("/api/deals/list", ap.DealList())
			r.Delete("/api/deals/list", s.HandleRefused()) // 405, not a deal "list" (RefusedRoutes)
			r.Post("/api/deals", ap.DealCreate())
			r.Get("/api/deals/current", ap.DealCurrent())
			r.Delete("/api/deals/current", ap.DealCurrentClear())
			r.Get("/api/deals/{id}", ap.DealGet())
			r.Delete("/api/deals/{id}", ap.DealDelete())
			r.Post("/api/deals/{id}/select", ap.DealSelect())
			r.Get("/api/deals/{id}/members", ap.MemberList())
			r.Post("/api/deals/{id}/members", ap.MemberAdd())
			r.Delete("/api/deals/{id}/members/{user_id}", ap.MemberRemove())

			r.Get("/api/audit", ap.AuditList())
			r.With(s.RequireAdmin).Get("/api/admin/stats", ap.AdminStats())
		})
	})

	headLikeGet(r)
	return r
}

// headLikeGet registers HEAD on every GET route with the GET's own handler,
// its group's and route's middleware included (the tree's handler, not
// chi.Walk's unwrapped endpoint), so a HEAD answers the GET's status and
// headers (net/http drops the body) and a 405 lists "GET, HEAD". A HEAD
// runs the handler once, as a GET does: no side effect a GET lacks, and
// page loads count only GETs. Routes are registered on r itself (no Mount).
func headLikeGet(r chi.Router) {
	for _, rt := range r.Routes() {
		if h, ok := rt.Handlers[http.MethodGet]; ok {
			r.Method(http.MethodHead, rt.Pattern, h)
		}
	}
}
