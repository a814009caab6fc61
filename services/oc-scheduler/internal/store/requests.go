package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	ds "github.com/opencloud/opencloud/libs/store"

	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
)

// RequestSpec declares the journal of booking requests: a request is
// written pending before its executions and bookings, and marked done
// after, so that a holder of the lock that crashed in between can be undone.
var RequestSpec = ds.Spec{
	Name: "scheduler_requests",
	Fields: []ds.Field{
		{Name: "status", Type: ds.String},
		{Name: "holder", Type: ds.String},
		{Name: "at", Type: ds.Time},
	},
}

// Request statuses.
const (
	Pending = "pending"
	Done    = "done"
	// Undone: a pending request whose writes were removed after its holder
	// crashed or lost the lock.
	Undone = "undone"
)

// RequestDoc is one booking request of the journal.
type RequestDoc struct {
	ID         string    `json:"id"`
	Status     string    `json:"status"`
	Holder     string    `json:"holder"`
	WorkflowID string    `json:"workflow_id"`
	Owner      string    `json:"owner"`
	At         time.Time `json:"at"`
}

// Requests is the journal.
type Requests struct {
	c     ds.Collection
	execs *executions.Store
}

// OpenRequests opens the journal; execs is where undone requests' writes are removed.
func OpenRequests(ctx context.Context, st ds.Store, execs *executions.Store) (*Requests, error) {
	c, err := st.Collection(ctx, RequestSpec)
	if err != nil {
		return nil, fmt.Errorf("open collection %s: %w", RequestSpec.Name, err)
	}
	return &Requests{c: c, execs: execs}, nil
}

// Begin writes a pending request.
func (r *Requests) Begin(ctx context.Context, d RequestDoc) error {
	d.Status = Pending
	if _, err := r.c.Insert(ctx, d.ID, d); err != nil {
		return fmt.Errorf("insert request %s: %w", d.ID, err)
	}
	return nil
}

// Finish marks a request done.
func (r *Requests) Finish(ctx context.Context, id string) error {
	if _, err := r.c.UpdateIf(ctx, id, ds.Eq("status", Pending), map[string]any{"status": Done}); err != nil {
		return fmt.Errorf("finish request %s: %w", id, err)
	}
	return nil
}

// Undo removes a request's executions and bookings and marks it undone.
func (r *Requests) Undo(ctx context.Context, id string) error {
	if err := r.execs.DeleteRequest(ctx, id); err != nil {
		return err
	}
	_, err := r.c.UpdateIf(ctx, id, nil, map[string]any{"status": Undone})
	if err != nil && !errors.Is(err, ds.ErrNotFound) {
		return fmt.Errorf("mark request %s undone: %w", id, err)
	}
	return nil
}

// UndoAbandoned undoes the pending requests of a holder whose lease
// expired, and any pending request older than lease (from an earlier
// crash). It runs under the lock, so no live holder is writing them.
func (r *Requests) UndoAbandoned(ctx context.Context, previous string, olderThan time.Time) (int, error) {
	recs, _, err := r.c.Find(ctx, ds.Query{Filter: ds.And(ds.Eq("status", Pending),
		ds.Or(ds.Eq("holder", previous), ds.Lt("at", olderThan)))})
	if err != nil {
		return 0, fmt.Errorf("find abandoned requests: %w", err)
	}
	for _, rec := range recs {
		if err := r.Undo(ctx, rec.ID); err != nil {
			return 0, err
		}
	}
	return len(recs), nil
}

// Get returns one request of the journal.
func (r *Requests) Get(ctx context.Context, id string) (RequestDoc, error) {
	var d RequestDoc
	_, err := r.c.Get(ctx, id, &d)
	return d, err
}
