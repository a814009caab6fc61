package executions_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
)

// stage writes an execution of request and its booking as Book does,
// starting at start.
func stage(t *testing.T, s *executions.Store, request string, start time.Time) execution.Execution {
	t.Helper()
	ctx := context.Background()
	now := executions.Stamp(time.Now())
	e, err := s.Stage(ctx, execution.Execution{ID: uuid.NewString(), WorkflowID: "w", RequestID: request, Owner: "alice",
		State: execution.Scheduled, Start: start, End: start.Add(time.Minute), CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InsertBooking(ctx, executions.Booked{RequestID: request, Booking: execution.Booking{ID: uuid.NewString(),
		ExecutionID: e.ID, Resource: resource.Ref{Peer: "local", ID: "c"}, Kind: resource.KindCompute, Start: e.Start, End: e.End}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestUncommittedIsNotClaimable: the executions of a booking request that
// has not committed are not due, have no next start, cannot be claimed
// and are not marked missed; once it commits they are.
func TestUncommittedIsNotClaimable(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		s, err := executions.Open(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		now := executions.Stamp(time.Now())
		if err := s.BeginRequest(ctx, executions.RequestDoc{ID: "req", Holder: "h", At: now}); err != nil {
			t.Fatal(err)
		}
		past := stage(t, s, "req", now.Add(-time.Hour)) // its window has ended
		due := stage(t, s, "req", now.Add(-time.Second))
		if got, err := s.Due(ctx, now, 10); err != nil || len(got) != 0 {
			t.Fatalf("due before the commit: %d %v", len(got), err)
		}
		if _, ok, err := s.NextStart(ctx); err != nil || ok {
			t.Fatalf("a next start before the commit: %v %v", ok, err)
		}
		if _, err := s.Claim(ctx, due.ID, "d/w", now.Add(time.Minute)); !errors.Is(err, executions.ErrStateChanged) {
			t.Fatalf("claim before the commit: %v", err)
		}
		if n, err := s.MarkMissed(ctx, now); err != nil || n != 0 {
			t.Fatalf("marked missed before the commit: %d %v", n, err)
		}

		if err := s.FinishRequest(ctx, "req"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Due(ctx, now, 10); err != nil || len(got) != 2 {
			t.Fatalf("due after the commit: %d %v", len(got), err)
		}
		if start, ok, err := s.NextStart(ctx); err != nil || !ok || !start.Equal(past.Start) {
			t.Fatalf("next start after the commit: %v %v %v", start, ok, err)
		}
		if n, err := s.MarkMissed(ctx, now); err != nil || n != 1 {
			t.Fatalf("marked missed after the commit: %d %v", n, err)
		}
		if _, err := s.Claim(ctx, due.ID, "d/w", now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		// Committed is final: it cannot be undone.
		if err := s.UndoRequest(ctx, "req"); !errors.Is(err, executions.ErrCommitted) {
			t.Fatalf("undo of a committed request: %v", err)
		}
		if n, _ := s.Count(ctx); n != 2 {
			t.Fatalf("%d executions after refusing the undo, want 2", n)
		}
	})
}

// TestUndoKeepsWhatLeftScheduled: undoing a request deletes its executions
// still scheduled and their bookings, never one that left scheduled (nor
// its bookings); a request undone cannot commit.
func TestUndoKeepsWhatLeftScheduled(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		s, err := executions.Open(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		now := executions.Stamp(time.Now())
		if err := s.BeginRequest(ctx, executions.RequestDoc{ID: "req", Holder: "h", At: now}); err != nil {
			t.Fatal(err)
		}
		gone := stage(t, s, "req", now.Add(time.Hour))
		moved := stage(t, s, "req", now.Add(2*time.Hour))
		// Another writer moved one on (an operator, a daemon of an older release).
		if _, err := s.Transition(ctx, moved.ID, []execution.State{execution.Scheduled}, execution.Starting, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.UndoRequest(ctx, "req"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, gone.ID); !errors.Is(err, executions.ErrNotFound) {
			t.Errorf("the scheduled execution survived the undo: %v", err)
		}
		got, err := s.Get(ctx, moved.ID)
		if err != nil || got.State != execution.Starting {
			t.Fatalf("the execution that left scheduled: %+v %v", got, err)
		}
		held, _, err := s.FindBookings(ctx, executions.BookingQuery{Resources: []resource.Ref{{Peer: "local", ID: "c"}}})
		if err != nil || len(held) != 1 || held[0].ExecutionID != moved.ID {
			t.Fatalf("bookings after the undo: %+v %v", held, err)
		}
		if err := s.FinishRequest(ctx, "req"); err == nil {
			t.Fatal("an undone request committed")
		}
		if err := s.UndoRequest(ctx, "req"); err != nil {
			t.Fatalf("undo again: %v", err)
		}
	})
}
