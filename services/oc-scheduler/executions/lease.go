package executions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/opencloud/opencloud/libs/execution"
	ds "github.com/opencloud/opencloud/libs/store"
)

// Leases. While an execution is starting or running, one monitord worker
// follows it and holds a lease on it (Execution.Worker, WorkerUntil). The
// worker renews the lease while it lives; when it dies, or the daemon that
// launched it, the lease runs out and oc-schedulerd launches another worker,
// which re-attaches to the Workflow already submitted. A worker whose lease
// was taken over stops: so two workers never follow one execution, and a
// dead one is always replaced.

// live are the states in which a worker follows an execution.
var live = []execution.State{execution.Starting, execution.Running}

// Claim moves a scheduled execution to starting, held by worker until
// until: the daemon's atomic claim (of two daemons claiming one execution,
// one gets ErrStateChanged).
func (s *Store) Claim(ctx context.Context, id, worker string, until time.Time) (execution.Execution, error) {
	if worker == "" {
		return execution.Execution{}, errors.New("executions: claim without a worker name")
	}
	return s.Transition(ctx, id, []execution.State{execution.Scheduled}, execution.Starting, func(x *execution.Execution) {
		u := Stamp(until)
		x.Worker, x.WorkerUntil, x.Reason = worker, &u, ""
		x.Attempts++
	})
}

// Acquire gives worker the lease of a starting or running execution until
// until, when worker holds it already (a renewal, or a restarted worker of
// the same launch) or its holder's lease ran out before now (a take-over:
// the attempts are then counted). ErrLeaseHeld when another holds it,
// ErrStateChanged when it is neither starting nor running.
func (s *Store) Acquire(ctx context.Context, id, worker string, until, now time.Time) (execution.Execution, error) {
	if worker == "" {
		return execution.Execution{}, errors.New("executions: acquire without a worker name")
	}
	for {
		e, err := s.Get(ctx, id)
		if err != nil {
			return e, err
		}
		if !slices.Contains(live, e.State) {
			return e, fmt.Errorf("execution %s is %s: %w", id, e.State, ErrStateChanged)
		}
		set := map[string]any{"worker": worker, "worker_until": Stamp(until)}
		switch {
		case e.Worker == worker:
		case e.WorkerUntil == nil || e.WorkerUntil.Before(now):
			set["attempts"] = e.Attempts + 1
		default:
			return e, fmt.Errorf("execution %s: %w (%s, until %s)", id, ErrLeaseHeld, e.Worker, e.WorkerUntil.Format(time.RFC3339))
		}
		_, err = s.execs.UpdateIf(ctx, id, ds.And(ds.Eq("version", e.Version), ds.Eq("state", string(e.State))), set)
		if errors.Is(err, ds.ErrConditionFailed) {
			continue
		}
		if err != nil {
			return e, fmt.Errorf("acquire execution %s: %w", id, err)
		}
		return s.Get(ctx, id)
	}
}

// Renew extends worker's lease on a starting or running execution to
// until; ErrLeaseLost when worker no longer holds it or it has ended.
func (s *Store) Renew(ctx context.Context, id, worker string, until time.Time) error {
	_, err := s.execs.UpdateIf(ctx, id, ds.And(ds.Eq("worker", worker), ds.In("state", anys(states(live))...)),
		map[string]any{"worker_until": Stamp(until)})
	switch {
	case errors.Is(err, ds.ErrConditionFailed):
		return fmt.Errorf("execution %s: %w", id, ErrLeaseLost)
	case errors.Is(err, ds.ErrNotFound):
		return fmt.Errorf("execution %s: %w", id, ErrNotFound)
	case err != nil:
		return fmt.Errorf("renew the lease on execution %s: %w", id, err)
	}
	return nil
}

// Release ends worker's lease now, when it still holds it, so that another
// worker may take the execution over at once (a worker stopping cleanly
// before the execution's end). Nothing happens when it no longer holds it.
func (s *Store) Release(ctx context.Context, id, worker string) error {
	_, err := s.execs.UpdateIf(ctx, id, ds.And(ds.Eq("worker", worker), ds.In("state", anys(states(live))...)),
		map[string]any{"worker_until": Stamp(s.now().Add(-time.Millisecond))})
	if err == nil || errors.Is(err, ds.ErrConditionFailed) || errors.Is(err, ds.ErrNotFound) {
		return nil
	}
	return fmt.Errorf("release the lease on execution %s: %w", id, err)
}

// Orphans lists up to limit starting or running executions whose worker's
// lease ran out before now, oldest lease first.
func (s *Store) Orphans(ctx context.Context, now time.Time, limit int) ([]execution.Execution, error) {
	out, _, err := s.Find(ctx, Query{States: live, LeaseEndedBy: now, Sort: []Sort{{Field: SortWorkerUntil}}, Limit: limit})
	return out, err
}

// Due lists up to limit scheduled executions whose window starts at or
// before by, earliest first.
func (s *Store) Due(ctx context.Context, by time.Time, limit int) ([]execution.Execution, error) {
	out, _, err := s.Find(ctx, Query{States: []execution.State{execution.Scheduled}, StartBy: by, Sort: []Sort{{Field: SortStart}}, Limit: limit})
	return out, err
}

// NextStart is the start of the earliest scheduled execution (ok false
// when none is scheduled).
func (s *Store) NextStart(ctx context.Context) (time.Time, bool, error) {
	out, _, err := s.Find(ctx, Query{States: []execution.State{execution.Scheduled}, Sort: []Sort{{Field: SortStart}}, Limit: 1})
	if err != nil || len(out) == 0 {
		return time.Time{}, false, err
	}
	return out[0].Start, true, nil
}

func states(in []execution.State) []string {
	out := make([]string, len(in))
	for i, st := range in {
		out[i] = string(st)
	}
	return out
}
