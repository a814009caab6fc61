// Package apierror is the error envelope every OpenCloud API answers with:
//
//	{"error": {"code": "invalid_field", "message": "...", "details": [...]}}
//
// Handlers return *Error values for what the caller can fix; anything else is
// reported as a generic 500 that leaks nothing.
package apierror

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an API error with its HTTP status.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// Envelope is the JSON body of an error response.
type Envelope struct {
	Error *Error `json:"error"`
}

// FieldError names one field of a request and what is expected of it.
type FieldError struct {
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

// New builds an error; details may be nil.
func New(status int, code, message string, details any) *Error {
	return &Error{Status: status, Code: code, Message: message, Details: details}
}

// Invalid is a 400 listing the fields to fix.
func Invalid(fields ...FieldError) *Error {
	msg := "the request is invalid"
	if len(fields) == 1 {
		msg = fields[0].Field + ": " + fields[0].Problem
	} else if len(fields) > 1 {
		msg = fmt.Sprintf("%d fields are invalid; see details", len(fields))
	}
	return New(http.StatusBadRequest, "invalid_request", msg, fields)
}

// BadRequest is a 400 with a free message.
func BadRequest(code, message string) *Error { return New(http.StatusBadRequest, code, message, nil) }

// Unauthorized is a 401.
func Unauthorized(message string) *Error {
	return New(http.StatusUnauthorized, "unauthorized", message, nil)
}

// Forbidden is a 403.
func Forbidden(message string) *Error { return New(http.StatusForbidden, "forbidden", message, nil) }

// NotFound is a 404.
func NotFound(message string) *Error { return New(http.StatusNotFound, "not_found", message, nil) }

// Conflict is a 409.
func Conflict(code, message string, details any) *Error {
	return New(http.StatusConflict, code, message, details)
}

// PreconditionRequired is a 428 (an update without a version to check).
func PreconditionRequired(message string) *Error {
	return New(http.StatusPreconditionRequired, "precondition_required", message, nil)
}

// Internal is the generic 500; the cause is logged, never shown.
var Internal = New(http.StatusInternalServerError, "internal", "internal error; the server logged the cause", nil)

// From returns the *Error in err's chain, or Internal.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal
}
