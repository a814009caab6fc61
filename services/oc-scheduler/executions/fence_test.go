package executions_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
)

// TestFencing: a worker's lease lapses while its store refuses writes;
// another worker acquires the execution and writes; once the store is
// back, every write of the first worker — its renewal, a step update, its
// final state — is refused with ErrLeaseLost, and the execution stays as
// the second worker wrote it. A lapsed lease no one took over refuses
// writes too.
func TestFencing(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		clk := newClock()
		down := &flaky{Store: st}
		// Two workers in two processes: the first reaches the store through down.
		first, err := executions.Open(ctx, down, executions.WithClock(clk.now))
		if err != nil {
			t.Fatal(err)
		}
		second, err := executions.Open(ctx, st, executions.WithClock(clk.now))
		if err != nil {
			t.Fatal(err)
		}
		e := scheduled(t, second)
		const ttl = 30 * time.Second
		if _, err := second.Claim(ctx, e.ID, "d1/w1", clk.now().Add(ttl)); err != nil {
			t.Fatal(err)
		}
		l1, _, err := first.Hold(ctx, e.ID, "d1/w1", clk.now().Add(ttl), clk.now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l1.Transition(ctx, []execution.State{execution.Starting}, execution.Running, nil); err != nil {
			t.Fatal(err)
		}

		// The store refuses the first worker's writes past its lease's end.
		down.fail("")
		clk.add(ttl / 3)
		if err := l1.Renew(ctx, clk.now().Add(ttl)); err == nil || errors.Is(err, executions.ErrLeaseLost) {
			t.Fatalf("renewal while the store is down: %v, want the store's error", err)
		}
		clk.add(ttl)
		l2, _, err := second.Hold(ctx, e.ID, "d2/w1", clk.now().Add(ttl), clk.now())
		if err != nil {
			t.Fatalf("take-over of a lapsed lease: %v", err)
		}
		want, err := l2.Update(ctx, []execution.State{execution.Running}, func(x *execution.Execution) {
			x.Steps = []execution.Step{{Node: "a", State: execution.Running}}
		})
		if err != nil {
			t.Fatal(err)
		}

		// The store is back: the first worker is fenced off.
		down.recover()
		if err := l1.Renew(ctx, clk.now().Add(ttl)); !errors.Is(err, executions.ErrLeaseLost) {
			t.Errorf("renewal after the take-over: %v", err)
		}
		if _, err := l1.Update(ctx, []execution.State{execution.Running}, func(x *execution.Execution) {
			x.Steps = []execution.Step{{Node: "a", State: execution.Failed}}
		}); !errors.Is(err, executions.ErrLeaseLost) {
			t.Errorf("step update after the take-over: %v", err)
		}
		if _, err := l1.Transition(ctx, []execution.State{execution.Running}, execution.Failed, func(x *execution.Execution) {
			x.Reason = "the first worker's end"
		}); !errors.Is(err, executions.ErrLeaseLost) {
			t.Errorf("final state after the take-over: %v", err)
		}
		if err := l1.Release(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := second.Get(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != execution.Running || got.Worker != "d2/w1" || got.Reason != "" || got.Version != want.Version ||
			!reflect.DeepEqual(got.Steps, want.Steps) || !got.WorkerUntil.Equal(*want.WorkerUntil) {
			t.Fatalf("execution after the first worker's writes: %+v, want it as the second wrote it: %+v", got, want)
		}

		// A lease that ran out unrenewed refuses writes, though no one took over.
		clk.add(ttl + time.Second)
		if _, err := l2.Transition(ctx, []execution.State{execution.Running}, execution.Succeeded, nil); !errors.Is(err, executions.ErrLeaseLost) {
			t.Errorf("write under a lapsed lease: %v", err)
		}
		if err := l2.Renew(ctx, clk.now().Add(ttl)); !errors.Is(err, executions.ErrLeaseLost) {
			t.Errorf("renewal of a lapsed lease: %v", err)
		}
		// A worker given the execution again writes; a restart of the same
		// worker gets a new epoch, which fences off the one before.
		l3, _, err := second.Hold(ctx, e.ID, "d2/w1", clk.now().Add(ttl), clk.now())
		if err != nil {
			t.Fatal(err)
		}
		l4, _, err := second.Hold(ctx, e.ID, "d2/w1", clk.now().Add(ttl), clk.now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l3.Update(ctx, []execution.State{execution.Running}, nil); !errors.Is(err, executions.ErrLeaseLost) {
			t.Errorf("a write under the same worker's older lease: %v", err)
		}
		if _, err := l4.Transition(ctx, []execution.State{execution.Running}, execution.Succeeded, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := l4.Update(ctx, []execution.State{execution.Succeeded}, nil); !errors.Is(err, executions.ErrStateChanged) {
			t.Errorf("a write under the lease of an ended execution: %v", err)
		}
	})
}
