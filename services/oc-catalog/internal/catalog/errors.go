package catalog

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of the catalog. The storage adapter translates the store's
// errors into these; the HTTP layer maps them to statuses.
var (
	// ErrNotFound: no such resource, or one the caller may not see (the two
	// are indistinguishable on purpose, so that ids do not leak).
	ErrNotFound = errors.New("catalog: resource not found")
	// ErrForbidden: the caller sees the resource but is neither an owner nor an admin.
	ErrForbidden = errors.New("catalog: only an owner or an admin may change this resource")
	// ErrVersionConflict: the change was based on a version that is no longer current.
	ErrVersionConflict = errors.New("catalog: version conflict")
	// ErrPreconditionRequired: a replace without the version it replaces.
	ErrPreconditionRequired = errors.New("catalog: the version to replace is required")
	// ErrInvalid: the input breaks a rule; the error is a *ValidationError.
	ErrInvalid = errors.New("catalog: invalid input")
)

// FieldError names one input field and what is expected of it.
type FieldError struct {
	Field   string
	Problem string
}

// ValidationError lists every problem of an input at once.
type ValidationError struct {
	Problems []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Problem
	}
	return "catalog: invalid input: " + strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

func invalid(field, problem string) error {
	return &ValidationError{Problems: []FieldError{{Field: field, Problem: problem}}}
}

// ConflictError is a version conflict with the version that is current now.
type ConflictError struct {
	Given   int64
	Current int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("catalog: version %d is not current (current: %d)", e.Given, e.Current)
}

// Unwrap makes errors.Is(err, ErrVersionConflict) hold.
func (e *ConflictError) Unwrap() error { return ErrVersionConflict }
