// Package errs holds the errors oc-workspace's domains share: the storage
// adapters translate the store's errors into these, the domains return them,
// and the HTTP layer maps them to statuses and the error envelope.
package errs

import (
	"errors"
	"fmt"
	"strings"

	"github.com/opencloud/opencloud/libs/workspace"
)

// Sentinel errors.
var (
	// ErrNotFound: no such thing, or one the caller may not see (the two are
	// not told apart, so that ids do not leak).
	ErrNotFound = errors.New("not found")
	// ErrForbidden: the caller sees it but may not change it.
	ErrForbidden = errors.New("forbidden")
	// ErrVersionConflict: the change was based on a version that is no longer current.
	ErrVersionConflict = errors.New("version conflict")
	// ErrPreconditionRequired: a replace without the version it replaces.
	ErrPreconditionRequired = errors.New("the version to replace is required")
	// ErrInvalid: the input breaks a rule; the error is a *ValidationError.
	ErrInvalid = errors.New("invalid input")
	// ErrDuplicate: a unique value is taken (a storage-level race the domain retries).
	ErrDuplicate = errors.New("duplicate")
	// ErrConflict: the change contradicts the state; the error is a *StateError.
	ErrConflict = errors.New("conflict")
)

// NotFound is ErrNotFound about one kind of thing ("workspace", "area").
func NotFound(what string) error { return &NotFoundError{What: what} }

// NotFoundError says what was not found.
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string { return e.What + " not found" }

// Unwrap makes errors.Is(err, ErrNotFound) hold.
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// Forbidden is ErrForbidden with what the caller would need.
func Forbidden(why string) error { return &ForbiddenError{Why: why} }

// ForbiddenError says who may do what was refused.
type ForbiddenError struct{ Why string }

func (e *ForbiddenError) Error() string { return "forbidden: " + e.Why }

// Unwrap makes errors.Is(err, ErrForbidden) hold.
func (e *ForbiddenError) Unwrap() error { return ErrForbidden }

// FieldError names one input field and what is expected of it.
type FieldError struct {
	Field   string
	Problem string
}

// ValidationError lists every problem of an input at once.
type ValidationError struct{ Problems []FieldError }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Problem
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Invalid is a ValidationError about one field.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Problems: []FieldError{{Field: field, Problem: fmt.Sprintf(format, args...)}}}
}

// Problems collects field problems; Err is nil when there are none.
type Problems []FieldError

// Add records a problem.
func (p *Problems) Add(field, format string, args ...any) {
	*p = append(*p, FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// Err returns the *ValidationError of the problems, or nil.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Problems: p}
}

// ConflictError is a version conflict with the version that is current now.
type ConflictError struct {
	Given   int64
	Current int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("version %d is not current (current: %d)", e.Given, e.Current)
}

// Unwrap makes errors.Is(err, ErrVersionConflict) hold.
func (e *ConflictError) Unwrap() error { return ErrVersionConflict }

// StateError is a change refused because of the state it would apply to:
// Code is the error code the API answers ("managed_by_workflow",
// "last_admin", "rule_broken"), Details what the client may act on.
type StateError struct {
	Code    string
	Message string
	Details any
}

func (e *StateError) Error() string { return e.Code + ": " + e.Message }

// Unwrap makes errors.Is(err, ErrConflict) hold.
func (e *StateError) Unwrap() error { return ErrConflict }

// ManagedByWorkflow refuses a hand change to the resources of the
// workspace workflow workflowID owns.
func ManagedByWorkflow(workflowID string) error {
	return &StateError{Code: "managed_by_workflow",
		Message: fmt.Sprintf("the resources of this workspace follow the graph of workflow %s: change the workflow instead (its name and description may change here)", workflowID),
		Details: map[string]string{"workflow_id": workflowID}}
}

// RuleBroken refuses an item that breaks rules of an area.
func RuleBroken(vs []workspace.Violation) error {
	seen := map[string]bool{}
	var names []string
	for _, v := range vs {
		n := fmt.Sprintf("%q (%s)", v.RuleID, v.RuleKind)
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	msg := "this breaks the rule " + strings.Join(names, ", ")
	if len(names) > 1 {
		msg = "this breaks the rules " + strings.Join(names, ", ")
	}
	msg += " of the area: " + vs[0].Message
	if len(vs) > 1 {
		msg += fmt.Sprintf(" (and %d more violation(s) in details)", len(vs)-1)
	}
	return &StateError{Code: "rule_broken", Message: msg, Details: vs}
}
