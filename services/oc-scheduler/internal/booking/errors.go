// Package booking is oc-scheduler's domain: it expands booking requests
// into execution windows, checks every compute and storage a workflow uses
// against the bookings already held, and books executions so that two
// concurrent requests never obtain the same slot.
package booking

import (
	"errors"
	"fmt"
	"strings"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
)

// Sentinel errors; the HTTP layer maps them to statuses.
var (
	// ErrNotFound: no execution with this id the caller may see.
	ErrNotFound = errors.New("booking: execution not found")
	// ErrWorkflowNotFound: oc-workflow has no workflow with this id the caller may read.
	ErrWorkflowNotFound = errors.New("booking: workflow not found")
	// ErrResourceNotFound: the resource of an availability query is not
	// one the caller may see.
	ErrResourceNotFound = errors.New("booking: resource not found")
	// ErrUnavailable: oc-workflow or the catalog could not answer.
	ErrUnavailable = errors.New("booking: a service it depends on is unavailable")
	// ErrBusy: the booking lock could not be taken in time.
	ErrBusy = errors.New("booking: too many bookings at once")
	// ErrConflict: the plan does not fit; the error is a *ConflictError.
	ErrConflict = errors.New("booking: the resources are not free")
	// ErrTerminal: the execution is over; the error is a *TerminalError.
	ErrTerminal = errors.New("booking: the execution is over")
	// ErrUnbookable: the workflow uses resources the catalog does not give;
	// the error is an *UnbookableError.
	ErrUnbookable = errors.New("booking: the workflow cannot be booked")
)

// ConflictError carries the plan with its conflicts (and next free slot).
type ConflictError struct{ Plan execution.Plan }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("booking: %d conflict(s)", len(e.Plan.Conflicts))
}

// Unwrap makes errors.Is(err, ErrConflict) hold.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// TerminalError names the state of an execution that is over.
type TerminalError struct{ State execution.State }

func (e *TerminalError) Error() string { return "booking: the execution is " + string(e.State) }

// Unwrap makes errors.Is(err, ErrTerminal) hold.
func (e *TerminalError) Unwrap() error { return ErrTerminal }

// UnbookableError lists the resources the workflow uses that the catalog
// does not give the caller.
type UnbookableError struct{ Missing []resource.Ref }

func (e *UnbookableError) Error() string {
	refs := make([]string, len(e.Missing))
	for i, r := range e.Missing {
		refs[i] = r.String()
	}
	return "booking: the workflow uses resources that are not in the catalog or not visible to you: " + strings.Join(refs, ", ")
}

// Unwrap makes errors.Is(err, ErrUnbookable) hold.
func (e *UnbookableError) Unwrap() error { return ErrUnbookable }
