package httpapi

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/logging"
)

// statusByCode maps the domain's error codes to HTTP statuses.
var statusByCode = map[string]int{
	deal.EINVALID:      http.StatusBadRequest,
	deal.EUNAUTHORIZED: http.StatusUnauthorized,
	deal.ECREDENTIALS:  http.StatusUnauthorized,
	deal.EFORBIDDEN:    http.StatusForbidden,
	deal.ECROSSORIGIN:  http.StatusForbidden,
	deal.ENOTFOUND:     http.StatusNotFound,
	deal.ENOTSELECTED:  http.StatusConflict,
	deal.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	deal.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	deal.ERATELIMITED:  http.StatusTooManyRequests,
	deal.EUNAVAILABLE:  http.StatusServiceUnavailable,
	deal.EINTERNAL:     http.StatusInternalServerError,
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// errorWriter writes errors in the contract's shape, logging internal and
// unavailable ones with their detail (which never reaches the client).
type errorWriter struct{ logger *slog.Logger }

func (ew errorWriter) write(w http.ResponseWriter, r *http.Request, err error) {
	code := deal.ErrorCode(err)
	status, ok := statusByCode[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	switch {
	case code == deal.EINTERNAL:
		ew.logger.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	case code == deal.EUNAVAILABLE:
		ew.logger.WarnContext(r.Context(), "dependency unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	var body errorBody
	body.Error.Code = code
	body.Error.Message = deal.ErrorMessage(err)
	if code == deal.EUNAVAILABLE && !isDomainError(err) {
		body.Error.Message = "The service is briefly unavailable; try again."
	}
	if code == deal.EUNAVAILABLE {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, body)
}

func isDomainError(err error) bool {
	var e *deal.Error
	return errors.As(err, &e)
}

// sessionError answers a session store failure: 503 in the contract's shape.
func (ew errorWriter) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	ew.logger.WarnContext(r.Context(), "session store unavailable", "err", err, "request_id", logging.RequestID(r.Context()))
	ew.write(w, r, deal.Errorf(deal.EUNAVAILABLE, "Sessions are briefly unavailable; try again."))
}

// writeError is the one error writer every handler and middleware calls: the
// contract's JSON body under /api/, an HTML page elsewhere.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	s.errs.write(w, r, err)
}
