package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/dealctx/dealctx/internal/app"
	"github.com/dealctx/dealctx/internal/deal"
	"github.com/go-chi/chi/v5"
)

// StatusByCode maps the domain's error codes to HTTP statuses.
var StatusByCode = map[string]int{
	deal.EINVALID:      http.StatusBadRequest,
	deal.EUNAUTHORIZED: http.StatusUnauthorized,
	deal.ECREDENTIALS:  http.StatusUnauthorized,
	deal.EFORBIDDEN:    http.StatusForbidden,
	deal.ECROSSORIGIN:  http.StatusForbidden,
	deal.ENOTFOUND:     http.StatusNotFound,
	deal.EMETHOD:       http.StatusMethodNotAllowed,
	deal.ENOTSELECTED:  http.StatusConflict,
	deal.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	deal.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	deal.ERATELIMITED:  http.StatusTooManyRequests,
	deal.EUNAVAILABLE:  http.StatusServiceUnavailable,
	deal.EINTERNAL:     http.StatusInternalServerError,
}

var (
	ErrRouteNotFound    = deal.Errorf(deal.ENOTFOUND, "There is nothing at this address.")
	ErrMethodNotAllowed = deal.Errorf(deal.EMETHOD, "This method is not allowed here.")
	ErrSessions         = app.ErrSessions
	// ErrDraining is /readyz's answer once the process is shutting down.
	ErrDraining = deal.Errorf(deal.EUNAVAILABLE, "This process is shutting down; it serves what it has but takes no new traffic.")
)

// msgInternal and msgUnavailable are what clients see of errors whose
// detail is only logged.
const (
	msgInternal    = "An internal error occurred."
	msgUnavailable = "The service is briefly unavailable; try again in a moment."
)

type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// WithCause returns public, carrying cause for the log line only.
func WithCause(public *deal.Error, cause error) error {
	return app.WithCause(public, cause)
}

// WriteError is the one error writer every handler and middleware calls. It
// maps the error's code to the contract's status, logs internal errors
// (error) and unavailable dependencies (warn) once with their detail, and
// answers the contract's JSON body under /api/ and on the probes, an HTML
// page everywhere else. Internal detail never reaches the client.
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	code := deal.ErrorCode(err)
	status, ok := StatusByCode[code]
	if !ok {
		code, status = deal.EINTERNAL, http.StatusInternalServerError
	}
	msg := deal.ErrorMessage(err)
	switch code {
	case deal.EINTERNAL:
		msg = msgInternal
		s.Logger.ErrorContext(ctx, "internal error", "method", boundedMethod(r.Method), "route", s.routeOf(r), "err", err)
	case deal.EUNAVAILABLE:
		if !IsDomainError(err) {
			msg = msgUnavailable
		}
		s.Logger.WarnContext(ctx, "dependency unavailable", "method", boundedMethod(r.Method), "route", s.routeOf(r), "err", err)
		if w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", "1")
		}
	case deal.EMETHOD:
		if allow := s.AllowedMethods(r); allow != "" {
			w.Header().Set("Allow", allow)
		}
	case deal.ENOTSELECTED:
		s.NoteSelectorPrompt(ctx)
	}
	if wantsJSON(r) {
		var body ErrorBody
		body.Error.Code, body.Error.Message = code, msg
		WriteJSON(w, status, body)
		return
	}
	s.renderErrorPage(w, r, status, msg)
}

// SessionError answers a session store failure (scs's error callback and
// the handlers' session writes): 503 with the detail logged once.
func (s *Server) SessionError(w http.ResponseWriter, r *http.Request, err error) {
	s.WriteError(w, r, WithCause(ErrSessions, err))
}

func IsDomainError(err error) bool {
	var e *deal.Error
	return errors.As(err, &e)
}

// wantsJSON reports whether r's errors are answered in the JSON shape: the
// API and the machine-facing probes; every other path is a page.
func wantsJSON(r *http.Request) bool {
	p := r.URL.Path
	return p == "/api" || strings.HasPrefix(p, "/api/") || quietRoutes[p]
}

// routeOf is the route pattern r was (or would have been) served by, for
// logs and metrics: the pattern chi matched, else the pattern that matches
// the path for any method (requests refused before routing, and wrong
// methods), else UnmatchedRoute. Never the raw path.
func (s *Server) routeOf(r *http.Request) string {
	if p := routePattern(r); p != UnmatchedRoute {
		return p
	}
	if s.Mux == nil {
		return UnmatchedRoute
	}
	if p := s.Mux.Find(chi.NewRouteContext(), r.Method, r.URL.Path); p != "" {
		return p
	}
	for _, m := range RouteMethods {
		if p := s.Mux.Find(chi.NewRouteContext(), m, r.URL.Path); p != "" {
			return p
		}
	}
	return UnmatchedRoute
}

// RouteMethods are the methods routes are registered for, in Allow order.
var RouteMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// RefusedRoutes are the method and pattern pairs routed only to answer 405
// (HandleRefused): a static path that a method would otherwise read as an
// {id} of the parameter route beside it. They are not in Allow.
var RefusedRoutes = map[string]bool{
	http.MethodDelete + " /api/deals/list": true,
}

// HandleRefused answers 405 for a route in RefusedRoutes.
func (s *Server) HandleRefused() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.WriteError(w, r, ErrMethodNotAllowed) }
}

// AllowedMethods lists the methods some route serves r's path with, for
// the Allow header of a 405.
func (s *Server) AllowedMethods(r *http.Request) string {
	if s.Mux == nil {
		return ""
	}
	var allow []string
	for _, m := range RouteMethods {
		if p := s.Mux.Find(chi.NewRouteContext(), m, r.URL.Path); p != "" && !RefusedRoutes[m+" "+p] {
			allow = append(allow, m)
		}
	}
	return strings.Join(allow, ", ")
}
