package executions_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
)

// TestLeases: a claim gives the claimer the lease; only its holder renews
// it; of many daemons taking over a lapsed lease one wins, and the lease
// the first worker had can no longer be renewed; a released lease may be
// taken at once; due and orphaned executions are listed.
func TestLeases(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		s, err := executions.Open(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		e := scheduled(t, s)
		later := scheduled(t, s)
		now := executions.Stamp(time.Now())

		due, err := s.Due(ctx, later.Start, 10)
		if err != nil || len(due) != 2 || due[0].ID != e.ID {
			t.Fatalf("due at the later start: %+v %v", due, err)
		}
		if due, _ := s.Due(ctx, e.Start.Add(-time.Second), 10); len(due) != 0 {
			t.Fatalf("due before its start: %d", len(due))
		}
		if next, ok, err := s.NextStart(ctx); err != nil || !ok || !next.Equal(e.Start) {
			t.Fatalf("next start %v %v %v", next, ok, err)
		}
		if _, err := s.Claim(ctx, e.ID, "", now); err == nil {
			t.Fatal("a claim without a worker name was taken")
		}
		got, err := s.Claim(ctx, e.ID, "d1/a", now.Add(time.Minute))
		if err != nil || got.State != execution.Starting || got.Worker != "d1/a" || got.Attempts != 1 || !got.WorkerUntil.Equal(now.Add(time.Minute)) {
			t.Fatalf("claim: %+v %v", got, err)
		}
		if _, err := s.Claim(ctx, e.ID, "d2/a", now.Add(time.Minute)); !errors.Is(err, executions.ErrStateChanged) {
			t.Fatalf("second claim: %v", err)
		}
		// The worker the daemon launched takes the lease on.
		first, held, err := s.Hold(ctx, e.ID, "d1/a", now.Add(time.Minute), now)
		if err != nil || held.Attempts != 1 || first.Worker() != "d1/a" {
			t.Fatalf("hold: %+v %v", held, err)
		}
		// Held: another may not take it; the holder renews.
		if _, err := s.Acquire(ctx, e.ID, "d2/a", now.Add(time.Minute), now); !errors.Is(err, executions.ErrLeaseHeld) {
			t.Fatalf("acquire of a held lease: %v", err)
		}
		if err := first.Renew(ctx, now.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		if o, err := s.Orphans(ctx, now, 10); err != nil || len(o) != 0 {
			t.Fatalf("orphans while held: %d %v", len(o), err)
		}
		// Lapsed: of 20 daemons taking it over, one wins.
		after := now.Add(3 * time.Second)
		o, err := s.Orphans(ctx, after, 10)
		if err != nil || len(o) != 1 || o[0].ID != e.ID {
			t.Fatalf("orphans once lapsed: %+v %v", o, err)
		}
		var wins atomic.Int64
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				_, err := s.Acquire(ctx, e.ID, "d"+string(rune('a'+i)), after.Add(time.Minute), after)
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, executions.ErrLeaseHeld):
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got, _ = s.Get(ctx, e.ID)
		if wins.Load() != 1 || got.Attempts != 2 {
			t.Fatalf("%d take-overs won, attempts %d", wins.Load(), got.Attempts)
		}
		if err := first.Renew(ctx, after.Add(time.Hour)); !errors.Is(err, executions.ErrLeaseLost) {
			t.Fatalf("the first worker renews after losing the lease: %v", err)
		}
		// A release lets the next take over at once.
		if err := s.Release(ctx, e.ID, got.Worker); err != nil {
			t.Fatal(err)
		}
		next, got, err := s.Hold(ctx, e.ID, "d-next", time.Now().Add(time.Minute), time.Now())
		if err != nil || got.Attempts != 3 {
			t.Fatalf("acquire after release: %+v %v", got, err)
		}
		// Over: nothing to hold.
		if _, err := s.Transition(ctx, e.ID, []execution.State{execution.Starting}, execution.Cancelled, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Acquire(ctx, e.ID, "d-next", time.Now().Add(time.Minute), time.Now()); !errors.Is(err, executions.ErrStateChanged) {
			t.Fatalf("acquire of an ended execution: %v", err)
		}
		if err := next.Renew(ctx, time.Now().Add(time.Minute)); !errors.Is(err, executions.ErrLeaseLost) {
			t.Fatalf("renew of an ended execution: %v", err)
		}
		if due, _ := s.Due(ctx, later.Start, 10); len(due) != 1 || due[0].ID != later.ID {
			t.Fatalf("due after the claim: %+v", due)
		}
	})
}
