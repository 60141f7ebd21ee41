package httpapi

import (
	"net/http"

	"github.com/dealctx/dealctx/internal/deal"
)

// The openings the handlers share: read what the request carries (a JSON
// body, an id in the address, a form) or answer the error and report
// false, so a handler's first lines say what it reads, not how it refuses.

// readJSON decodes the body as T (decode), or answers the contract's error.
func readJSON[T any](s *server, w http.ResponseWriter, r *http.Request) (T, bool) {
	v, err := decode[T](w, r)
	if err != nil {
		s.writeError(w, r, err)
		return v, false
	}
	return v, true
}

// readID reads the address's id parameter name (pathID), or answers the
// API's 400 invalid_request.
func (s *server) readID(w http.ResponseWriter, r *http.Request, name string) (int64, bool) {
	id, err := pathID(r, name)
	if err != nil {
		s.writeError(w, r, err)
		return 0, false
	}
	return id, true
}

// readPageID is readID for pages: a malformed id is the 404 page, as a
// deal the user cannot see is.
func (s *server) readPageID(w http.ResponseWriter, r *http.Request, name string) (int64, bool) {
	id, err := pathID(r, name)
	if err != nil {
		s.writeError(w, r, deal.ErrNotFound)
		return 0, false
	}
	return id, true
}

// readForm reads a page's form body through parseForm (1 MiB, UTF-8, no
// NUL). A body that cannot be read is answered with the 400 page, and it
// reports false.
func (s *server) readForm(w http.ResponseWriter, r *http.Request) bool {
	if err := parseForm(w, r); err != nil {
		s.writeError(w, r, err)
		return false
	}
	return true
}

// managedDeal opens a handler that manages the deal of the address (pages):
// it loads the deal for the signed-in user (pageDeal) and answers the 403
// page to one who may see it but not manage it (requireManager).
func (s *server) managedDeal(w http.ResponseWriter, r *http.Request) (deal.User, deal.Deal, bool) {
	u, d, ok := s.pageDeal(w, r)
	if !ok || !s.requireManager(w, r, u, d) {
		return u, d, false
	}
	return u, d, true
}

// managedDealForm is managedDeal for a form: the body is read first.
func (s *server) managedDealForm(w http.ResponseWriter, r *http.Request) (deal.User, deal.Deal, bool) {
	if !s.readForm(w, r) {
		return deal.User{}, deal.Deal{}, false
	}
	return s.managedDeal(w, r)
}
