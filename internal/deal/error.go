// Package deal holds the domain: users, deals, roles, audit events, and the
// errors (with codes) that every layer speaks. It does no I/O.
package deal

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status and one code of the API contract.
const (
	EINVALID      = "invalid_request"
	EUNAUTHORIZED = "unauthenticated"
	ECREDENTIALS  = "invalid_credentials"
	EFORBIDDEN    = "forbidden"
	ECROSSORIGIN  = "cross_origin"
	ENOTFOUND     = "not_found"
	ENOTSELECTED  = "deal_not_selected"
	EMETHOD       = "method_not_allowed"
	ETOOLARGE     = "payload_too_large"
	EUNSUPPORTED  = "unsupported_media_type"
	ERATELIMITED  = "rate_limited"
	EUNAVAILABLE  = "unavailable"
	EINTERNAL     = "internal"
)

// Error is a domain error whose Message is safe to show to the caller.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err, or a generic one for
// internal errors, whose detail must never reach the caller.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "An internal error occurred."
}

// ErrNotFound is the single answer for a deal that does not exist, is
// soft-deleted, or that the user may not access, so ids cannot be probed.
var ErrNotFound = &Error{Code: ENOTFOUND, Message: "Deal not found."}
