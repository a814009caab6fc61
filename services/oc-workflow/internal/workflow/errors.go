package workflow

import (
	"errors"
	"fmt"

	wf "github.com/opencloud/opencloud/libs/workflow"
)

// Sentinel errors of the workflow domain. The storage adapter translates the
// store's errors into these; the HTTP layer maps them to statuses.
var (
	// ErrNotFound: no such workflow, or one the caller may not read (not told
	// apart, so that ids do not leak).
	ErrNotFound = errors.New("workflow: not found")
	// ErrForbidden: the caller may read the workflow (through a collaborative
	// area) but is neither its owner nor an admin.
	ErrForbidden = errors.New("workflow: only the owner or an admin may change this workflow")
	// ErrVersionConflict: the change was based on a version that is no longer current.
	ErrVersionConflict = errors.New("workflow: version conflict")
	// ErrPreconditionRequired: a replace without the version it replaces.
	ErrPreconditionRequired = errors.New("workflow: the version to replace is required")
	// ErrInvalid: the input breaks a rule; the error is an *InvalidError.
	ErrInvalid = errors.New("workflow: invalid workflow")
	// ErrAreaNotFound: the collaborative area of a list filter does not exist
	// or the caller is not a member.
	ErrAreaNotFound = errors.New("workflow: collaborative area not found")
	// ErrUnavailable: a service the workflow depends on (catalog,
	// workspaces) could not answer; the caller may retry.
	ErrUnavailable = errors.New("workflow: a service it depends on is unavailable")
	// ErrGone: another service answered that what was asked of it does not
	// exist (or is not visible to the caller).
	ErrGone = errors.New("workflow: not found by the service asked")
)

// InvalidError carries every problem of a refused input.
type InvalidError struct {
	Validation wf.Validation
}

func (e *InvalidError) Error() string {
	if len(e.Validation.Problems) == 0 {
		return "workflow: invalid workflow"
	}
	p := e.Validation.Problems[0]
	return fmt.Sprintf("workflow: %d problem(s), first %s at %s: %s", len(e.Validation.Problems), p.Code, p.Field, p.Message)
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// ConflictError is a version conflict with the version that is current now.
type ConflictError struct {
	Given   int64
	Current int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("workflow: version %d is not current (current: %d)", e.Given, e.Current)
}

// Unwrap makes errors.Is(err, ErrVersionConflict) hold.
func (e *ConflictError) Unwrap() error { return ErrVersionConflict }
