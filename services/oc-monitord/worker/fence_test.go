package worker_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"

	"github.com/opencloud/opencloud/services/oc-monitord/worker"
)

// refusing is a store whose collections refuse every write while down is
// set: the store as a worker sees it during an outage. Reads go through.
type refusing struct {
	store.Store
	down atomic.Bool
}

var errRefused = errors.New("test: the store refuses writes")

func (r *refusing) Collection(ctx context.Context, spec store.Spec) (store.Collection, error) {
	c, err := r.Store.Collection(ctx, spec)
	return refusingCollection{Collection: c, r: r}, err
}

type refusingCollection struct {
	store.Collection
	r *refusing
}

func (c refusingCollection) Insert(ctx context.Context, id string, doc any) (int64, error) {
	if c.r.down.Load() {
		return 0, errRefused
	}
	return c.Collection.Insert(ctx, id, doc)
}

func (c refusingCollection) Replace(ctx context.Context, id string, version int64, doc any) (int64, error) {
	if c.r.down.Load() {
		return 0, errRefused
	}
	return c.Collection.Replace(ctx, id, version, doc)
}

func (c refusingCollection) UpdateIf(ctx context.Context, id string, cond store.Filter, set map[string]any) (int64, error) {
	if c.r.down.Load() {
		return 0, errRefused
	}
	return c.Collection.UpdateIf(ctx, id, cond, set)
}

func (c refusingCollection) Delete(ctx context.Context, id string, version int64) error {
	if c.r.down.Load() {
		return errRefused
	}
	return c.Collection.Delete(ctx, id, version)
}

// TestLeaseLapsesWhileTheStoreRefusesWrites: the store refuses a
// worker's renewals past its lease's end; the worker stops on its own
// (ErrLeaseLost) without waiting for the store to come back, another
// worker takes the execution over and follows it to its end, and the
// first writes nothing once the store is back.
func TestLeaseLapsesWhileTheStoreRefusesWrites(t *testing.T) {
	e := newEnv(t)
	st := testenv.SQLiteStore(t)
	var err error
	if e.execs, err = executions.Open(e.ctx, st, executions.WithEvents(e.pub)); err != nil {
		t.Fatal(err)
	}
	down := &refusing{Store: st}
	x := threeSteps()
	ev := e.listen(x.ID)
	e.prepare(x)
	e.book(x)
	first := e.deps(annotate("b", annotationRunFor, "6s"))
	first.Worker, first.LeaseTTL = "daemon-1/w1", 900*time.Millisecond
	if first.Executions, err = executions.Open(e.ctx, down, executions.WithEvents(e.pub)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- worker.Follow(e.ctx, first, x.ID) }()
	ev.waitFor(t, e.ctx, "b running", func(ch execution.StateChange) bool { return ch.Step == "b" && ch.To == execution.Running })

	down.down.Store(true)
	began := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, executions.ErrLeaseLost) {
			t.Fatalf("the worker whose lease ran out returned %v", err)
		}
		if took := time.Since(began); took > 3*time.Second {
			t.Errorf("the worker stopped %s after the store began refusing its writes, with a lease of 900ms", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the worker whose lease ran out goes on while the store refuses its writes")
	}
	held := e.get(x.ID)

	second := e.deps(nil)
	second.Worker = "daemon-2/w1"
	if err := worker.Follow(e.ctx, second, x.ID); err != nil {
		t.Fatal(err)
	}
	down.down.Store(false)
	got := e.get(x.ID)
	if got.State != execution.Succeeded || got.Worker != "daemon-2/w1" || got.Attempts != held.Attempts+1 {
		t.Fatalf("execution %s by %q after %d attempts (%d before the take-over)", got.State, got.Worker, got.Attempts, held.Attempts)
	}
	if wfs := e.workflows(x.ID); len(wfs) != 1 {
		t.Errorf("%d Workflows", len(wfs))
	}
}
