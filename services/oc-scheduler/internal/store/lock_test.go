package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	ds "github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"

	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
	"github.com/opencloud/opencloud/services/oc-scheduler/internal/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func backends(t *testing.T, fn func(t *testing.T, st ds.Store)) {
	for _, b := range []struct {
		name string
		open func(testing.TB) ds.Store
	}{{"sqlite", testenv.SQLiteStore}, {"mongo", testenv.MongoStore}} {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open(t)) })
	}
}

// write stores an execution and its booking under request, as a booking does.
func write(t *testing.T, s *executions.Store, request string) {
	t.Helper()
	ctx := context.Background()
	now := executions.Stamp(time.Now())
	e, err := s.Stage(ctx, execution.Execution{ID: uuid.NewString(), RequestID: request, State: execution.Scheduled,
		Start: now, End: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InsertBooking(ctx, executions.Booked{RequestID: request, Booking: execution.Booking{ID: uuid.NewString(),
		ExecutionID: e.ID, Resource: resource.Ref{Peer: "local", ID: "c"}, Start: e.Start, End: e.End}}); err != nil {
		t.Fatal(err)
	}
}

// TestCrashedHolderIsUndone: a holder that stopped between writing its
// executions and marking its request done leaves the lock with a lease
// that expires; the next holder undoes what it wrote, and keeps what
// finished requests wrote.
func TestCrashedHolderIsUndone(t *testing.T) {
	backends(t, func(t *testing.T, st ds.Store) {
		ctx := context.Background()
		execs, err := executions.Open(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		clock := time.Now()
		var mu sync.Mutex
		now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
		open := func(holder string) *store.Lock {
			l, err := store.OpenLock(ctx, st, store.BookingLock, store.LockOptions{Holder: holder, Now: now, Lease: 30 * time.Second, Wait: 300 * time.Millisecond,
				OnTakeover: func(ctx context.Context, previous string) error {
					_, err := execs.UndoAbandoned(ctx, previous, now().Add(-30*time.Second))
					return err
				}})
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		crashed, next := open("crashed"), open("next")

		// A finished request, then one the holder never finished.
		lease, err := crashed.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		at := now().UTC().Truncate(time.Millisecond)
		if err := execs.BeginRequest(ctx, executions.RequestDoc{ID: "done", Holder: "crashed", At: at}); err != nil {
			t.Fatal(err)
		}
		write(t, execs, "done")
		if err := execs.FinishRequest(ctx, "done"); err != nil {
			t.Fatal(err)
		}
		if err := execs.BeginRequest(ctx, executions.RequestDoc{ID: "half", Holder: "crashed", At: at}); err != nil {
			t.Fatal(err)
		}
		write(t, execs, "half")
		write(t, execs, "half")
		// ...and the process dies: its lease stays.

		if _, err := next.Acquire(ctx); !errors.Is(err, store.ErrBusy) {
			t.Fatalf("taken while the lease runs: %v", err)
		}
		mu.Lock()
		clock = clock.Add(31 * time.Second)
		mu.Unlock()
		taken, err := next.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer taken.Release(ctx)
		if n, _ := execs.Count(ctx); n != 1 {
			t.Errorf("%d executions left, want the finished request's 1", n)
		}
		if n, _ := execs.CountBookings(ctx); n != 1 {
			t.Errorf("%d bookings left, want 1", n)
		}
		for id, want := range map[string]string{"done": executions.Done, "half": executions.Undone} {
			if d, err := execs.Request(ctx, id); err != nil || d.Status != want {
				t.Errorf("request %s: %+v %v, want %s", id, d, err, want)
			}
		}
		// The crashed process, back, finds its lease lost.
		if err := lease.Renew(ctx); !errors.Is(err, store.ErrLost) {
			t.Errorf("renew after takeover: %v", err)
		}
	})
}

// TestLockExcludes: holders in two processes never overlap, and neither starves.
func TestLockExcludes(t *testing.T) {
	st := testenv.SQLiteStore(t)
	ctx := context.Background()
	var inside, overlaps atomic.Int64
	got := map[string]*atomic.Int64{"a": {}, "b": {}}
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b"} {
		l, err := store.OpenLock(ctx, st, store.BookingLock, store.LockOptions{Holder: name})
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			wg.Go(func() {
				lease, err := l.Acquire(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if inside.Add(1) > 1 {
					overlaps.Add(1)
				}
				time.Sleep(time.Millisecond)
				got[name].Add(1)
				inside.Add(-1)
				lease.Release(ctx)
			})
		}
	}
	wg.Wait()
	if overlaps.Load() != 0 || got["a"].Load() != 20 || got["b"].Load() != 20 {
		t.Fatalf("overlaps %d, a %d, b %d", overlaps.Load(), got["a"].Load(), got["b"].Load())
	}
}
