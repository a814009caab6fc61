package executions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
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

// Fencing. Every Claim and Acquire gives the execution a new lease epoch;
// a worker writes through the Lease it was given (Hold), and each of its
// writes is conditional on the execution still being under that lease:
// same worker, same epoch, not run out. Once another worker acquired the
// execution (after the first one's lease ran out, during a store outage,
// say), or the daemon gave it back, the first worker's writes are refused
// with ErrLeaseLost, so that two workers never both act on one execution.

// live are the states in which a worker follows an execution.
var live = []execution.State{execution.Starting, execution.Running}

// Claim moves a scheduled execution to starting, held by worker until
// until: the daemon's atomic claim (of two daemons claiming one execution,
// one gets ErrStateChanged). An execution whose booking request has not
// committed is not claimable (ErrStateChanged).
func (s *Store) Claim(ctx context.Context, id, worker string, until time.Time) (execution.Execution, error) {
	if worker == "" {
		return execution.Execution{}, errors.New("executions: claim without a worker name")
	}
	e, err := s.Get(ctx, id)
	if err != nil {
		return e, err
	}
	if ok, err := s.committed(ctx, e.RequestID); err != nil {
		return e, err
	} else if !ok {
		return e, fmt.Errorf("execution %s: its booking request has not committed: %w", id, ErrStateChanged)
	}
	return s.Transition(ctx, id, []execution.State{execution.Scheduled}, execution.Starting, func(x *execution.Execution) {
		u := Stamp(until)
		x.Worker, x.WorkerUntil, x.Reason = worker, &u, ""
		x.Attempts++
	})
}

// Acquire gives worker the lease of a starting or running execution until
// until, when worker holds it already (a restarted worker of the same
// launch) or its holder's lease ran out before now (a take-over: the
// attempts are then counted). Either way the lease gets a new epoch: a
// worker still writing under the one before is refused. ErrLeaseHeld when
// another holds it, ErrStateChanged when it is neither starting nor
// running.
func (s *Store) Acquire(ctx context.Context, id, worker string, until, now time.Time) (execution.Execution, error) {
	_, e, err := s.Hold(ctx, id, worker, until, now)
	return e, err
}

// Hold is Acquire, returning the Lease through which the worker writes.
func (s *Store) Hold(ctx context.Context, id, worker string, until, now time.Time) (*Lease, execution.Execution, error) {
	if worker == "" {
		return nil, execution.Execution{}, errors.New("executions: acquire without a worker name")
	}
	u := Stamp(until)
	for {
		d, err := s.get(ctx, id)
		if err != nil {
			return nil, d.Execution, err
		}
		e := d.Execution
		if !slices.Contains(live, e.State) {
			return nil, e, fmt.Errorf("execution %s is %s: %w", id, e.State, ErrStateChanged)
		}
		epoch := d.LeaseEpoch + 1
		set := map[string]any{"worker": worker, "worker_until": u, "lease_epoch": epoch}
		switch {
		case e.Worker == worker:
		case e.WorkerUntil == nil || e.WorkerUntil.Before(now):
			e.Attempts++
			set["attempts"] = e.Attempts
		default:
			return nil, e, fmt.Errorf("execution %s: %w (%s, until %s)", id, ErrLeaseHeld, e.Worker, e.WorkerUntil.Format(time.RFC3339))
		}
		v, err := s.execs.UpdateIf(ctx, id, ds.And(ds.Eq("version", e.Version), ds.Eq("state", string(e.State))), set)
		if errors.Is(err, ds.ErrConditionFailed) {
			continue
		}
		if errors.Is(err, ds.ErrNotFound) {
			return nil, e, fmt.Errorf("execution %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return nil, e, fmt.Errorf("acquire execution %s: %w", id, err)
		}
		e.Worker, e.WorkerUntil, e.Version = worker, &u, v
		return &Lease{s: s, id: id, worker: worker, epoch: epoch, until: u}, e, nil
	}
}

// Lease is a worker's hold on one execution, as Hold gave it. Its writes
// are those of the Store, each refused with ErrLeaseLost once the
// execution is no longer under this lease (another worker acquired it,
// the daemon gave it back, or the lease ran out unrenewed). It is safe
// for concurrent use.
type Lease struct {
	s          *Store
	id, worker string
	epoch      int64

	mu    sync.Mutex
	until time.Time
}

// Worker is the name the lease is held under.
func (l *Lease) Worker() string { return l.worker }

// Until is when the lease runs out unless renewed.
func (l *Lease) Until() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.until
}

// holds checks that d, as read at now, is still under the lease l (nil:
// no lease to check): ErrStateChanged when it is no longer starting or
// running, ErrLeaseLost when another lease, or none, holds it.
func (l *Lease) holds(d doc, now time.Time) error {
	if l == nil {
		return nil
	}
	if !slices.Contains(live, d.State) {
		return fmt.Errorf("execution %s is %s: %w", l.id, d.State, ErrStateChanged)
	}
	if d.Worker != l.worker || d.LeaseEpoch != l.epoch || d.WorkerUntil == nil || !d.WorkerUntil.After(now) {
		return fmt.Errorf("execution %s: %w", l.id, ErrLeaseLost)
	}
	return nil
}

// Transition is Store.Transition under the lease.
func (l *Lease) Transition(ctx context.Context, from []execution.State, to execution.State, mutate func(*execution.Execution)) (execution.Execution, error) {
	return l.s.transition(ctx, l.id, from, to, mutate, l)
}

// Update is Store.Update under the lease.
func (l *Lease) Update(ctx context.Context, from []execution.State, mutate func(*execution.Execution)) (execution.Execution, error) {
	return l.s.update(ctx, l.id, from, mutate, l)
}

// Renew extends the lease to until. ErrLeaseLost when the execution is no
// longer under it — including when it ran out before it was renewed: a
// worker that could not renew in time must stop, for another may have
// taken the execution over.
func (l *Lease) Renew(ctx context.Context, until time.Time) error {
	u := Stamp(until)
	cond := ds.And(ds.Eq("worker", l.worker), ds.Eq("lease_epoch", l.epoch), ds.In("state", anys(states(live))...),
		ds.Gt("worker_until", Stamp(l.s.now())))
	_, err := l.s.execs.UpdateIf(ctx, l.id, cond, map[string]any{"worker_until": u})
	switch {
	case errors.Is(err, ds.ErrConditionFailed):
		return fmt.Errorf("execution %s: %w", l.id, ErrLeaseLost)
	case errors.Is(err, ds.ErrNotFound):
		return fmt.Errorf("execution %s: %w", l.id, ErrNotFound)
	case err != nil:
		return fmt.Errorf("renew the lease on execution %s: %w", l.id, err)
	}
	l.mu.Lock()
	l.until = u
	l.mu.Unlock()
	return nil
}

// Release ends the lease now, when the execution is still under it, so
// that another worker may take the execution over at once (a worker
// stopping cleanly before the execution's end). Nothing happens otherwise.
func (l *Lease) Release(ctx context.Context) error {
	cond := ds.And(ds.Eq("worker", l.worker), ds.Eq("lease_epoch", l.epoch), ds.In("state", anys(states(live))...))
	_, err := l.s.execs.UpdateIf(ctx, l.id, cond, map[string]any{"worker_until": Stamp(l.s.now().Add(-time.Millisecond))})
	if err == nil || errors.Is(err, ds.ErrConditionFailed) || errors.Is(err, ds.ErrNotFound) {
		return nil
	}
	return fmt.Errorf("release the lease on execution %s: %w", l.id, err)
}

// Release ends worker's lease now, when it still holds it, whatever its
// epoch: the daemon that launched a worker releases the lease of a worker
// that stopped. Nothing happens when worker no longer holds it.
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

// Due lists up to limit claimable executions (scheduled, their booking
// request committed) whose window starts at or before by, earliest first.
func (s *Store) Due(ctx context.Context, by time.Time, limit int) ([]execution.Execution, error) {
	return s.claimable(ctx, Query{States: []execution.State{execution.Scheduled}, StartBy: by, Sort: []Sort{{Field: SortStart}}}, limit)
}

// NextStart is the start of the earliest claimable execution (ok false
// when there is none).
func (s *Store) NextStart(ctx context.Context) (time.Time, bool, error) {
	out, err := s.claimable(ctx, Query{States: []execution.State{execution.Scheduled}, Sort: []Sort{{Field: SortStart}}}, 1)
	if err != nil || len(out) == 0 {
		return time.Time{}, false, err
	}
	return out[0].Start, true, nil
}

// claimablePages bounds the pages claimable reads past executions of
// uncommitted requests.
const claimablePages = 10

// claimable lists up to limit (0: no limit) executions matching q whose
// booking request committed, in q's order.
func (s *Store) claimable(ctx context.Context, q Query, limit int) ([]execution.Execution, error) {
	var out []execution.Execution
	q.Limit = limit
	for range claimablePages {
		page, _, err := s.Find(ctx, q)
		if err != nil {
			return nil, err
		}
		n := len(page)
		if page, err = s.onlyCommitted(ctx, page); err != nil {
			return nil, err
		}
		out = append(out, page...)
		if limit <= 0 || len(out) >= limit || n < q.Limit {
			break
		}
		q.Offset += n
		q.Limit = max(limit, 100)
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func states(in []execution.State) []string {
	out := make([]string, len(in))
	for i, st := range in {
		out[i] = string(st)
	}
	return out
}
