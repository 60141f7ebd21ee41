package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes is the single list of routes, with per-route middleware visible.
func (s *server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(requestID, s.instrument, s.recoverer, securityHeaders(s.Config.CookieSecure), limitBody, s.crossOrigin)

	r.NotFound(func(w http.ResponseWriter, r *http.Request) { s.errs.write(w, r, errRouteNotFound) })
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) { s.errs.write(w, r, errMethodNotAllowed) })

	// Probes and metrics: no session.
	r.Get("/healthz", handleHealthz())
	r.Get("/readyz", handleReadyz(s.DB))
	r.Get("/api/health/session", handleHealthSession(s.Health))
	r.Get("/api/openapi.json", handleOpenAPI())
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{}))

	// Pages: the same session middleware, but HTML errors and redirects.
	ps := newPageSet()
	r.Get("/static/*", ps.static.ServeHTTP)
	r.Group(func(r chi.Router) {
		r.Use(pageHeaders, s.Sessions.LoadAndSave(s.pageSessionError(ps)), s.remember, s.countPageLoads)
		r.Get("/login", s.handlePageLogin(ps))
		r.With(s.requirePageUser, s.autoRestore).Get("/", s.handlePageSelector(ps))
		r.With(s.requirePageUser, s.autoRestore).Get("/deal", s.handlePageDeal(ps))
		r.With(s.requirePageUser).Get("/admin", s.handlePageAdmin(ps))
	})

	r.Group(func(r chi.Router) {
		r.Use(s.Sessions.LoadAndSave(s.errs.sessionError), s.remember)

		r.Post("/api/auth/login", s.handleAuthLogin())
		r.With(s.requireUser).Post("/api/auth/logout", s.handleAuthLogout())

		r.Group(func(r chi.Router) {
			r.Use(s.requireUser, s.autoRestore)
			r.Get("/api/me", s.handleMe())
			r.Patch("/api/me/preferences", s.handleMePreferences())

			r.Get("/api/deals", s.handleDealList())
			r.Get("/api/deals/list", s.handleDealList())
			r.Post("/api/deals", s.handleDealCreate())
			r.Get("/api/deals/current", s.handleDealCurrent())
			r.Delete("/api/deals/current", s.handleDealCurrentClear())
			r.Get("/api/deals/{id}", s.handleDealGet())
			r.Delete("/api/deals/{id}", s.handleDealDelete())
			r.Post("/api/deals/{id}/select", s.handleDealSelect())
			r.Get("/api/deals/{id}/members", s.handleMemberList())
			r.Post("/api/deals/{id}/members", s.handleMemberAdd())
			r.Delete("/api/deals/{id}/members/{user_id}", s.handleMemberRemove())

			r.Get("/api/audit", s.handleAuditList())
			r.With(s.requireAdmin(errAdminOnly)).Get("/api/admin/stats", s.handleAdminStats())
		})
	})
	return r
}
