package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/go-chi/chi/v5"
)

// maxBodyBytes is the largest request body accepted.
const maxBodyBytes = 1 << 20

// writeJSON writes v with status; headers are set before WriteHeader.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// decode reads exactly one JSON object of type T from the body, refusing
// unknown fields, wrong types, trailing data and bodies over 1 MiB.
func decode[T any](w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return v, decodeError(err)
		}
		return v, deal.Errorf(deal.EINVALID, "The body must hold a single JSON object.")
	}
	return v, nil
}

func decodeError(err error) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return deal.Errorf(deal.ETOOLARGE, "The body must be at most 1 MiB.")
	case errors.Is(err, io.EOF):
		return deal.Errorf(deal.EINVALID, "The body must be a JSON object.")
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return deal.Errorf(deal.EINVALID, "The body is not valid JSON.")
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return deal.Errorf(deal.EINVALID, "Field %q has the wrong type.", typeErr.Field)
		}
		return deal.Errorf(deal.EINVALID, "The body must be a JSON object.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return deal.Errorf(deal.EINVALID, "Unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return deal.Errorf(deal.EINVALID, "The body could not be read: %s", sanitize(err.Error()))
}

func sanitize(s string) string {
	if len(s) > 100 {
		s = s[:100]
	}
	return strings.ToValidUTF8(s, "")
}

// pathID parses the URL parameter name as a positive 64-bit id.
func pathID(r *http.Request, name string) (int64, error) {
	return parseID(chi.URLParam(r, name))
}

// parseID parses s as a positive 64-bit id in canonical form: decimal
// digits without sign or leading zero, so one deal has one URL ("+1" and
// "01" would otherwise name deal 1 too).
func parseID(s string) (int64, error) {
	if s == "" || s[0] < '1' || s[0] > '9' {
		return 0, deal.Errorf(deal.EINVALID, "The id must be a positive integer.")
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, deal.Errorf(deal.EINVALID, "The id must be a positive integer.")
	}
	return id, nil
}

// queryID parses an optional positive id from the query string; absent is 0.
func queryID(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	id, err := parseID(s)
	if err != nil {
		return 0, deal.Errorf(deal.EINVALID, "%s must be a positive integer.", name)
	}
	return id, nil
}
