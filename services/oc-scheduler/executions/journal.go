package executions

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/opencloud/opencloud/libs/execution"
	ds "github.com/opencloud/opencloud/libs/store"
)

// The journal of booking requests. A request is written pending before its
// executions and bookings, and committed (done) after: until then its
// executions are neither claimable (Due, NextStart, Claim) nor announced,
// and a request that does not commit is undone, its executions deleted.
// Done is final: Undo refuses a committed request, and Finish one undone
// meanwhile (by a later holder of the booking lock), so an execution is
// claimable exactly when its request committed.

// RequestSpec declares the journal.
var RequestSpec = ds.Spec{
	Name: "scheduler_requests",
	Fields: []ds.Field{
		{Name: "status", Type: ds.String},
		{Name: "holder", Type: ds.String},
		{Name: "at", Type: ds.Time},
		{Name: "announce_pending", Type: ds.Bool},
	},
}

// Request statuses.
const (
	Pending = "pending"
	Done    = "done"
	// Undone: a request whose writes were removed (it failed, or its holder
	// crashed or lost the lock before committing it).
	Undone = "undone"
)

// ErrCommitted: the booking request committed; it cannot be undone.
var ErrCommitted = errors.New("executions: the booking request is committed")

// RequestDoc is one booking request of the journal.
type RequestDoc struct {
	ID         string    `json:"id"`
	Status     string    `json:"status"`
	Holder     string    `json:"holder"`
	WorkflowID string    `json:"workflow_id"`
	Owner      string    `json:"owner"`
	At         time.Time `json:"at"`
	// AnnouncePending is set when the request commits, until the creation
	// of its executions has been published.
	AnnouncePending bool `json:"announce_pending,omitempty"`
}

// BeginRequest writes a pending request.
func (s *Store) BeginRequest(ctx context.Context, d RequestDoc) error {
	d.Status, d.AnnouncePending = Pending, false
	if _, err := s.requests.Insert(ctx, d.ID, d); err != nil {
		return fmt.Errorf("insert request %s: %w", d.ID, err)
	}
	return nil
}

// FinishRequest commits a pending request: its executions become
// claimable. It fails when the request is no longer pending (undone).
func (s *Store) FinishRequest(ctx context.Context, id string) error {
	_, err := s.requests.UpdateIf(ctx, id, ds.Eq("status", Pending), map[string]any{"status": Done, "announce_pending": true})
	if err != nil {
		return fmt.Errorf("finish request %s: %w", id, err)
	}
	return nil
}

// UndoRequest marks a request undone and removes what it wrote: its
// executions still scheduled, and their bookings. ErrCommitted when it
// committed: a caller that could not tell whether its FinishRequest went
// through learns here that it did. Undoing twice is harmless.
func (s *Store) UndoRequest(ctx context.Context, id string) error {
	_, err := s.requests.UpdateIf(ctx, id, ds.In("status", Pending, Undone), map[string]any{"status": Undone})
	switch {
	case errors.Is(err, ds.ErrConditionFailed):
		return fmt.Errorf("request %s: %w", id, ErrCommitted)
	case err != nil && !errors.Is(err, ds.ErrNotFound):
		return fmt.Errorf("mark request %s undone: %w", id, err)
	}
	return s.deleteRequest(ctx, id)
}

// UndoAbandoned undoes the pending requests of a holder of the booking lock
// whose lease expired, and any pending request older than olderThan (from
// an earlier crash). It runs under the lock, so no live holder is writing
// them.
func (s *Store) UndoAbandoned(ctx context.Context, previous string, olderThan time.Time) (int, error) {
	recs, _, err := s.requests.Find(ctx, ds.Query{Filter: ds.And(ds.Eq("status", Pending),
		ds.Or(ds.Eq("holder", previous), ds.Lt("at", olderThan)))})
	if err != nil {
		return 0, fmt.Errorf("find abandoned requests: %w", err)
	}
	n := 0
	for _, rec := range recs {
		err := s.UndoRequest(ctx, rec.ID)
		if errors.Is(err, ErrCommitted) {
			continue // its holder committed it meanwhile
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Request returns one request of the journal.
func (s *Store) Request(ctx context.Context, id string) (RequestDoc, error) {
	var d RequestDoc
	_, err := s.requests.Get(ctx, id, &d)
	if errors.Is(err, ds.ErrNotFound) {
		return d, fmt.Errorf("request %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("get request %s: %w", id, err)
	}
	return d, nil
}

// deleteRequest removes the executions of a request that are still
// scheduled, each only if it is (a conditional delete: one claimed or
// cancelled meanwhile is left as it is, with its bookings), and the
// request's other bookings.
func (s *Store) deleteRequest(ctx context.Context, requestID string) error {
	kept := map[string]bool{}
	after := ""
	for {
		recs, _, err := s.execs.Find(ctx, ds.Query{Filter: ds.And(ds.Eq("request_id", requestID), ds.Gt("id", after)),
			Sort: []ds.Sort{{Field: "id"}}, Limit: 500})
		if err != nil {
			return fmt.Errorf("find executions of request %s: %w", requestID, err)
		}
		for _, rec := range recs {
			after = rec.ID
			deleted, err := s.deleteIfScheduled(ctx, rec)
			if err != nil {
				return err
			}
			if !deleted {
				kept[rec.ID] = true
			}
		}
		if len(recs) < 500 {
			break
		}
	}
	after = ""
	for {
		recs, _, err := s.bookings.Find(ctx, ds.Query{Filter: ds.And(ds.Eq("request_id", requestID), ds.Gt("id", after)),
			Sort: []ds.Sort{{Field: "id"}}, Limit: 500})
		if err != nil {
			return fmt.Errorf("find bookings of request %s: %w", requestID, err)
		}
		for _, rec := range recs {
			after = rec.ID
			var b bookingDoc
			if err := rec.Decode(&b); err != nil {
				return fmt.Errorf("decode booking %s: %w", rec.ID, err)
			}
			if kept[b.ExecutionID] {
				continue
			}
			if err := s.bookings.Delete(ctx, rec.ID, 0); err != nil && !errors.Is(err, ds.ErrNotFound) {
				return fmt.Errorf("delete booking %s: %w", rec.ID, err)
			}
		}
		if len(recs) < 500 {
			return nil
		}
	}
}

// deleteIfScheduled deletes the execution rec if, as stored, it is still
// scheduled; false when it has left scheduled.
func (s *Store) deleteIfScheduled(ctx context.Context, rec ds.Record) (bool, error) {
	for {
		var e execution.Execution
		if err := rec.Decode(&e); err != nil {
			return false, fmt.Errorf("decode execution %s: %w", rec.ID, err)
		}
		if e.State != execution.Scheduled {
			return false, nil
		}
		err := s.execs.Delete(ctx, rec.ID, rec.Version)
		switch {
		case err == nil || errors.Is(err, ds.ErrNotFound):
			return true, nil
		case !errors.Is(err, ds.ErrVersionConflict):
			return false, fmt.Errorf("delete execution %s: %w", rec.ID, err)
		}
		recs, _, err := s.execs.Find(ctx, ds.Query{Filter: ds.Eq("id", rec.ID), Limit: 1})
		if err != nil {
			return false, fmt.Errorf("get execution %s: %w", rec.ID, err)
		}
		if len(recs) == 0 {
			return true, nil
		}
		rec = recs[0]
	}
}

// requestStates caches what is final about booking requests: committed,
// and announced.
type requestStates struct {
	mu        sync.Mutex
	committed map[string]bool
	announced map[string]bool
}

// maxCached bounds each cache; past it, it starts again empty.
const maxCached = 100_000

// get reads *m under the lock: set replaces the map itself when it is full.
func (c *requestStates) get(m *map[string]bool, id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return (*m)[id]
}

func (c *requestStates) set(m *map[string]bool, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if *m == nil || len(*m) >= maxCached {
		*m = map[string]bool{}
	}
	(*m)[id] = true
}

// committed reports whether the executions of request id may be claimed:
// it committed, or it is not in the journal (executions stored outside a
// booking request).
func (s *Store) committed(ctx context.Context, id string) (bool, error) {
	if id == "" || s.reqs.get(&s.reqs.committed, id) {
		return true, nil
	}
	d, err := s.Request(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return false, err
	case d.Status != Done:
		return false, nil
	}
	s.reqs.set(&s.reqs.committed, id)
	return true, nil
}

// announced reports whether the later changes of request id's executions
// may be published: the creation of its executions was, or is not the
// request's to publish (it is not in the journal, or it was undone and
// its executions that remain were announced by their own changes).
func (s *Store) announced(ctx context.Context, id string) (bool, error) {
	if id == "" || s.reqs.get(&s.reqs.announced, id) {
		return true, nil
	}
	d, err := s.Request(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return false, err
	case d.Status == Pending || d.Status == Done && d.AnnouncePending:
		return false, nil
	}
	s.reqs.set(&s.reqs.announced, id)
	return true, nil
}

// onlyCommitted keeps the executions whose request committed.
func (s *Store) onlyCommitted(ctx context.Context, in []execution.Execution) ([]execution.Execution, error) {
	out := in[:0]
	for _, e := range in {
		ok, err := s.committed(ctx, e.RequestID)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, e)
		}
	}
	return out, nil
}
