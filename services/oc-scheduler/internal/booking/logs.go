package booking

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
)

// ErrNoSuchStep: the execution has no step with this id; the error is a
// *StepError.
var ErrNoSuchStep = errors.New("booking: no such step")

// StepError names the unknown step and the execution's steps.
type StepError struct {
	Step  string
	Steps []string
}

func (e *StepError) Error() string {
	return fmt.Sprintf("booking: the execution has no step %q; its steps are %s", e.Step, strings.Join(e.Steps, ", "))
}

// Unwrap makes errors.Is(err, ErrNoSuchStep) hold.
func (e *StepError) Unwrap() error { return ErrNoSuchStep }

// Steps lists the steps of e (its processings), in graph order.
func Steps(e execution.Execution) []string {
	var out []string
	for _, n := range e.Graph.Nodes {
		if n.Kind == resource.KindProcessing && !slices.Contains(out, n.ID) {
			out = append(out, n.ID)
		}
	}
	return out
}

// StepLogs returns the last lines (perStep at most, 0: all kept) of the
// log of each step of e that has written one, in step order.
func (s *Service) StepLogs(ctx context.Context, e execution.Execution, perStep int) ([]execution.StepLog, error) {
	out := []execution.StepLog{}
	for _, step := range Steps(e) {
		l, err := s.c.Executions.StepLog(ctx, e.ID, step, perStep)
		if err != nil {
			return nil, err
		}
		if l.LastSeq > 0 || l.Complete {
			out = append(out, l)
		}
	}
	return out, nil
}

// StepLog returns what is kept of the log of step of e (kept by its worker).
func (s *Service) StepLog(ctx context.Context, e execution.Execution, step string) (execution.StepLog, error) {
	return s.c.Executions.StepLog(ctx, e.ID, step, 0)
}

// LogPage returns up to limit lines of the log of step of execution id
// kept after Seq after, to its owner or an admin.
func (s *Service) LogPage(ctx context.Context, p authn.Principal, id, step string, after int64, limit int) (execution.LogPage, error) {
	e, err := s.Get(ctx, p, id)
	if err != nil {
		return execution.LogPage{}, err
	}
	if steps := Steps(e); !slices.Contains(steps, step) {
		return execution.LogPage{}, &StepError{Step: step, Steps: steps}
	}
	return s.c.Executions.LogPage(ctx, id, step, after, limit)
}
