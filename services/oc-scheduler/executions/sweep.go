package executions

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencloud/opencloud/libs/execution"
	ds "github.com/opencloud/opencloud/libs/store"
)

// terminal are the states of an ended execution.
var terminal = []execution.State{execution.Succeeded, execution.Failed, execution.Cancelled, execution.Missed}

// release frees the bookings of ended execution id, then records that it
// holds none. Ending an execution and freeing its bookings are two writes:
// an execution whose release did not run (a crash, a store failure in
// between) still says it holds bookings, and SweepBookings frees them.
// It returns the execution's version after its write (0: none).
func (s *Store) release(ctx context.Context, id string) (int64, error) {
	if err := s.DeleteBookings(ctx, id); err != nil {
		return 0, err
	}
	v, err := s.execs.UpdateIf(ctx, id, ds.Eq("holds_bookings", true), map[string]any{"holds_bookings": false})
	if err != nil && !errors.Is(err, ds.ErrConditionFailed) && !errors.Is(err, ds.ErrNotFound) {
		return 0, fmt.Errorf("execution %s: record its bookings released: %w", id, err)
	}
	return v, nil
}

// SweepBookings frees the bookings of up to limit ended executions that
// still hold some (their end, or their cancel, was written but not the
// release of their bookings) and returns how many executions it freed.
// It is idempotent: an execution is freed once, whoever frees it.
func (s *Store) SweepBookings(ctx context.Context, limit int) (int, error) {
	recs, _, err := s.execs.Find(ctx, ds.Query{Filter: ds.And(ds.Eq("holds_bookings", true), ds.In("state", anys(states(terminal))...)),
		Limit: limit})
	if err != nil {
		return 0, fmt.Errorf("find ended executions holding bookings: %w", err)
	}
	n := 0
	for _, rec := range recs {
		if _, err := s.release(ctx, rec.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
