package service_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/store"

	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
	"github.com/opencloud/opencloud/services/oc-scheduler/service"
)

// noDeletes is a store whose collection name refuses deletes: a process
// that dies, as far as that collection is concerned, before it deletes.
type noDeletes struct {
	store.Store
	name string
}

func (s noDeletes) Collection(ctx context.Context, spec store.Spec) (store.Collection, error) {
	c, err := s.Store.Collection(ctx, spec)
	if spec.Name != s.name {
		return c, err
	}
	return refusingDeletes{c}, err
}

type refusingDeletes struct{ store.Collection }

func (refusingDeletes) Delete(context.Context, string, int64) error {
	return errors.New("test: the process died before it released the bookings")
}

// TestRunFreesBookingsOfEndedExecutions: an execution cancelled, and one
// that ended, whose bookings were never released (the process writing
// their end died before) hold their slots until oc-scheduler's background
// loop frees them, which it does as it starts.
func TestRunFreesBookingsOfEndedExecutions(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx, cancel := context.WithCancel(e.ctx)
		w := e.workflow(alice, "Sweep", e.processing("p", 100), e.compute("solo", 0), 1, nil)
		at := day()
		cancelled, err := e.as(alice).Book(ctx, w.ID, planned(at, time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		ended, err := e.as(alice).Book(ctx, w.ID, planned(at.Add(2*time.Hour), time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		dying, err := executions.Open(ctx, noDeletes{Store: e.st, name: executions.BookingSpec.Name})
		if err != nil {
			t.Fatal(err)
		}
		// The errors are the dying process's: its writes of the states went through.
		_, _ = dying.Transition(ctx, cancelled.Executions[0].ID, []execution.State{execution.Scheduled}, execution.Cancelled, nil)
		id := ended.Executions[0].ID
		for _, to := range []execution.State{execution.Starting, execution.Running, execution.Succeeded} {
			cur, err := e.execs.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = dying.Transition(ctx, id, []execution.State{cur.State}, to, nil)
		}
		if got, _ := e.execs.Get(ctx, id); got.State != execution.Succeeded {
			t.Fatalf("execution %s, want succeeded", got.State)
		}
		if _, b := e.counts(); b != 2 {
			t.Fatalf("%d bookings left by the dead process, want 2", b)
		}

		done := make(chan error, 1)
		go func() { done <- e.scheduler(service.Deps{}).Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			<-done
		})
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, b := e.counts()
			if b == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d bookings of ended executions still held", b)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if _, err := e.as(alice).Book(ctx, w.ID, planned(at, time.Hour)); err != nil {
			t.Fatalf("the freed slot: %v", err)
		}
	})
}
