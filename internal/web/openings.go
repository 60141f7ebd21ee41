package web

import (
	"net/http"

	"github.com/dealctx/dealctx/internal/deal"
)

// The openings the handlers share: read what the request carries (a JSON
// body, an id in the address, a form) or answer the error and report
// false, so a handler's first lines say what it reads, not how it refuses.

// ReadJSON decodes the body as T (decode), or answers the contract's error.
func ReadJSON[T any](s *Server, w http.ResponseWriter, r *http.Request) (T, bool) {
	v, err := Decode[T](w, r)
	if err != nil {
		s.WriteError(w, r, err)
		return v, false
	}
	return v, true
}

// ReadID reads the address's id parameter name (pathID), or answers the
// API's 400 invalid_request.
func (s *Server) ReadID(w http.ResponseWriter, r *http.Request, name string) (int64, bool) {
	id, err := pathID(r, name)
	if err != nil {
		s.WriteError(w, r, err)
		return 0, false
	}
	return id, true
}

// ReadPageID is ReadID for pages: a malformed id is the 404 page, as a
// deal the user cannot see is.
func (s *Server) ReadPageID(w http.ResponseWriter, r *http.Request, name string) (int64, bool) {
	id, err := pathID(r, name)
	if err != nil {
		s.WriteError(w, r, deal.ErrNotFound)
		return 0, false
	}
	return id, true
}

// ReadForm reads a page's form body through parseForm (1 MiB, UTF-8, no
// NUL). A body that cannot be read is answered with the 400 page, and it
// reports false.
func (s *Server) ReadForm(w http.ResponseWriter, r *http.Request) bool {
	if err := parseForm(w, r); err != nil {
		s.WriteError(w, r, err)
		return false
	}
	return true
}
