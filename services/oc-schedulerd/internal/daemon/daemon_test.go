package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"

	"github.com/opencloud/opencloud/services/oc-schedulerd/internal/daemon"
	"github.com/opencloud/opencloud/services/oc-schedulerd/launch"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func backends(t *testing.T, fn func(t *testing.T, st store.Store)) {
	for _, b := range []struct {
		name string
		open func(testing.TB) store.Store
	}{{"sqlite", testenv.SQLiteStore}, {"mongo", testenv.MongoStore}} {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open(t)) })
	}
}

// fakeWorkers is a launcher of workers that behave as oc-monitord's do
// towards the store — hold the lease, move the execution to running, and
// to succeeded when the test releases them — without a cluster: the
// daemon's own interface, faked to test the daemon alone. The real
// worker runs in the cluster tests.
type fakeWorkers struct {
	execs *executions.Store
	mu    sync.Mutex
	// launches counts the workers launched per execution.
	launches map[string][]string
	release  map[string]chan error // per execution: the worker ends with the value sent
	failNext error
	// detached workers go on when the daemon stops (as Jobs do).
	detached bool
}

func newFake(execs *executions.Store) *fakeWorkers {
	return &fakeWorkers{execs: execs, launches: map[string][]string{}, release: map[string]chan error{}}
}

func (f *fakeWorkers) Name() string { return "fake" }

func (f *fakeWorkers) Launch(ctx context.Context, id, worker string) (*launch.Run, error) {
	f.mu.Lock()
	if err := f.failNext; err != nil {
		f.failNext = nil
		f.mu.Unlock()
		return nil, err
	}
	f.launches[id] = append(f.launches[id], worker)
	ch, ok := f.release[id]
	if !ok {
		ch = make(chan error, 1)
		f.release[id] = ch
	}
	detached := f.detached
	f.mu.Unlock()
	if !detached {
		return launch.Go(func() error { return f.work(ctx, id, worker, ch) }), nil
	}
	// As a Job: the worker goes on, its run ends detached with the daemon.
	r := launch.NewRun()
	go func() { r.End(f.work(context.WithoutCancel(ctx), id, worker, ch)) }()
	go func() {
		select {
		case <-ctx.Done():
			r.End(launch.ErrDetached)
		case <-r.Done():
		}
	}()
	return r, nil
}

// work is a fake worker's life.
func (f *fakeWorkers) work(ctx context.Context, id, worker string, ch chan error) error {
	if _, err := f.execs.Acquire(ctx, id, worker, time.Now().Add(time.Minute), time.Now()); err != nil {
		return err
	}
	_, err := f.execs.Transition(ctx, id, []execution.State{execution.Starting}, execution.Running, nil)
	if err != nil && !errors.Is(err, executions.ErrStateChanged) {
		return err
	}
	select {
	case <-ctx.Done():
		_ = f.execs.Release(context.WithoutCancel(ctx), id, worker)
		return ctx.Err()
	case err := <-ch:
		if err != nil {
			return err // a crash: the execution stays running
		}
	}
	_, err = f.execs.Transition(ctx, id, []execution.State{execution.Running}, execution.Succeeded, nil)
	return err
}

// finish lets the worker of id end its execution (err nil) or crash; it
// does nothing while an earlier word is still to be read (the worker may
// still be ending).
func (f *fakeWorkers) finish(id string, err error) {
	f.mu.Lock()
	ch, ok := f.release[id]
	if !ok {
		ch = make(chan error, 1)
		f.release[id] = ch
	}
	f.mu.Unlock()
	select {
	case ch <- err:
	default:
	}
}

func (f *fakeWorkers) count(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.launches[id])
}

// prepared records the preparations; wait makes them wait with a reason,
// every execution's when global.
type prepared struct {
	mu     sync.Mutex
	ids    map[string]int
	wait   string
	global bool
}

func (p *prepared) Prepare(_ context.Context, e execution.Execution) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ids == nil {
		p.ids = map[string]int{}
	}
	p.ids[e.ID]++
	if p.wait != "" {
		return &daemon.Waiting{Reason: p.wait, Global: p.global}
	}
	return nil
}

// total is how many preparations were asked for.
func (p *prepared) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.ids {
		n += c
	}
	return n
}

func (p *prepared) setWait(reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wait = reason
}

type env struct {
	t     *testing.T
	ctx   context.Context
	execs *executions.Store
}

func newEnv(t *testing.T, st store.Store, withNATS bool) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var opts []executions.Option
	if withNATS {
		opts = append(opts, executions.WithEvents(broker.NewPublisher(testenv.NATS(t), "test")))
	}
	execs, err := executions.Open(ctx, st, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, execs: execs}
}

// book stores n executions starting at start.
func (e *env) book(n int, start time.Time) []string {
	e.t.Helper()
	ids := make([]string, n)
	now := executions.Stamp(time.Now())
	for i := range ids {
		x, err := e.execs.Insert(e.ctx, execution.Execution{ID: uuid.NewString(), WorkflowID: "w", RequestID: "r", Owner: "alice",
			Name: fmt.Sprintf("run %d", i), State: execution.Scheduled, Start: executions.Stamp(start), End: executions.Stamp(start.Add(time.Hour)),
			CreatedAt: now, UpdatedAt: now})
		if err != nil {
			e.t.Fatal(err)
		}
		ids[i] = x.ID
	}
	return ids
}

// daemon starts a daemon until the returned stop is called (or the test ends).
func (e *env) daemon(cfg daemon.Config, l launch.Launcher, p daemon.Provisioner, withNATS bool) (*daemon.Daemon, func()) {
	e.t.Helper()
	deps := daemon.Deps{Logger: testenv.Logger(e.t), Executions: e.execs, Launcher: l, Provisioner: p}
	if withNATS {
		deps.NATS = testenv.NATS(e.t)
	}
	dm, err := daemon.New(cfg, deps)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = dm.Run(ctx) }()
	stop := func() { cancel(); <-done }
	e.t.Cleanup(stop)
	return dm, stop
}

// until polls cond until it holds.
func (e *env) until(what string, timeout time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) get(id string) execution.Execution {
	e.t.Helper()
	x, err := e.execs.Get(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return x
}

func (e *env) states(ids []string) map[execution.State]int {
	out := map[execution.State]int{}
	for _, id := range ids {
		x, err := e.execs.Get(e.ctx, id)
		if err != nil {
			e.t.Fatal(err)
		}
		out[x.State]++
	}
	return out
}

// TestClaimsWhatIsDueWithinTheLimit: executions due are claimed, prepared
// and launched, at most Concurrency at a time; the others wait scheduled
// and start as workers end; one not yet due is left alone.
func TestClaimsWhatIsDueWithinTheLimit(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, true)
		ids := e.book(5, time.Now())
		future := e.book(1, time.Now().Add(time.Hour))
		f, p := newFake(e.execs), &prepared{}
		dm, _ := e.daemon(daemon.Config{Name: "d1", Concurrency: 3, Scan: time.Hour}, f, p, true)
		e.until("3 running", 10*time.Second, func() bool { return e.states(ids)[execution.Running] == 3 })
		time.Sleep(200 * time.Millisecond)
		if s := e.states(ids); s[execution.Running] != 3 || s[execution.Scheduled] != 2 {
			t.Fatalf("beyond the limit: %v", s)
		}
		if w := dm.Workers(); len(w) != 3 {
			t.Fatalf("%d workers listed", len(w))
		}
		// A worker's end frees a slot: the NATS event of the end wakes the
		// daemon (the scan is an hour away).
		for _, id := range ids {
			if x, _ := e.execs.Get(e.ctx, id); x.State == execution.Running {
				f.finish(id, nil)
			}
		}
		e.until("all succeeded", 10*time.Second, func() bool {
			for _, id := range ids {
				if x, _ := e.execs.Get(e.ctx, id); x.State == execution.Running {
					f.finish(id, nil)
				}
			}
			return e.states(ids)[execution.Succeeded] == 5
		})
		for _, id := range ids {
			x, _ := e.execs.Get(e.ctx, id)
			if f.count(id) != 1 || p.ids[id] != 1 || x.Attempts != 1 || len(x.Worker) < 4 || x.Worker[:3] != "d1/" {
				t.Errorf("%s: %d launches, %d preparations, %d attempts, worker %q", id, f.count(id), p.ids[id], x.Attempts, x.Worker)
			}
		}
		if x, _ := e.execs.Get(e.ctx, future[0]); x.State != execution.Scheduled || f.count(x.ID) != 0 {
			t.Errorf("the future execution: %s, %d launches", x.State, f.count(x.ID))
		}
	})
}

// TestScanWithoutEvents: with no NATS at all, the scan finds executions
// booked while the daemon runs, and one becoming due later.
func TestScanWithoutEvents(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, false)
		f := newFake(e.execs)
		e.daemon(daemon.Config{Name: "d1", Scan: 200 * time.Millisecond, Lead: -1}, f, &prepared{}, false)
		ids := e.book(2, time.Now())
		soon := e.book(1, time.Now().Add(1500*time.Millisecond))
		e.until("the two due running", 10*time.Second, func() bool { return e.states(ids)[execution.Running] == 2 })
		// (A slow store may have taken until its start to run the two.)
		if now, x := time.Now(), e.get(soon[0]); x.State != execution.Scheduled && now.Before(x.Start) {
			t.Fatalf("claimed before its start: %s", x.State)
		}
		e.until("the later one running", 10*time.Second, func() bool { return e.states(soon)[execution.Running] == 1 })
		if x, _ := e.execs.Get(e.ctx, soon[0]); x.StartedAt != nil && x.StartedAt.Before(x.Start) {
			t.Errorf("started before its window")
		}
	})
}

// TestTwoDaemonsNeverLaunchTwice: two daemons on one store and one NATS,
// 30 executions due at once: each is launched exactly once.
func TestTwoDaemonsNeverLaunchTwice(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, true)
		ids := e.book(30, time.Now())
		f := newFake(e.execs)
		e.daemon(daemon.Config{Name: "a", Concurrency: 30, Scan: 100 * time.Millisecond}, f, &prepared{}, true)
		e.daemon(daemon.Config{Name: "b", Concurrency: 30, Scan: 100 * time.Millisecond}, f, &prepared{}, true)
		e.until("30 running", 30*time.Second, func() bool { return e.states(ids)[execution.Running] == 30 })
		time.Sleep(500 * time.Millisecond) // time for a wrong second launch
		byDaemon := map[string]int{}
		for _, id := range ids {
			if n := f.count(id); n != 1 {
				t.Errorf("%s launched %d times", id, n)
			}
			x, _ := e.execs.Get(e.ctx, id)
			byDaemon[x.Worker[:1]]++
		}
		t.Logf("claims by daemon: %v", byDaemon)
	})
}

// TestWaitsWithTheReason: what the datacenter cannot prepare goes back to
// scheduled with the reason, and starts once it can.
func TestWaitsWithTheReason(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, true)
		ids := e.book(1, time.Now())
		f, p := newFake(e.execs), &prepared{wait: "no Kubernetes cluster is configured on this peer"}
		e.daemon(daemon.Config{Name: "d1", Scan: 100 * time.Millisecond, Retry: 300 * time.Millisecond}, f, p, true)
		e.until("a preparation tried", 10*time.Second, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.ids[ids[0]] >= 1 })
		e.until("the reason written", 10*time.Second, func() bool {
			x, _ := e.execs.Get(e.ctx, ids[0])
			return x.State == execution.Scheduled && x.Reason == "waiting: no Kubernetes cluster is configured on this peer"
		})
		if x, _ := e.execs.Get(e.ctx, ids[0]); x.Worker != "" || f.count(ids[0]) != 0 {
			t.Fatalf("launched or still held: %q, %d launches", x.Worker, f.count(ids[0]))
		}
		p.setWait("")
		e.until("running once prepared", 10*time.Second, func() bool { return e.states(ids)[execution.Running] == 1 })
		if x, _ := e.execs.Get(e.ctx, ids[0]); x.Reason != "" {
			t.Errorf("reason kept: %q", x.Reason)
		}
		// A launcher failure waits the same way.
		more := e.book(1, time.Now())
		f.mu.Lock()
		f.failNext = errors.New("exec: oc-monitord: not found")
		f.mu.Unlock()
		e.until("the launch failure written", 10*time.Second, func() bool {
			x, _ := e.execs.Get(e.ctx, more[0])
			return x.Reason == "waiting: could not launch a worker: exec: oc-monitord: not found" || x.State == execution.Running
		})
		e.until("running at the next try", 10*time.Second, func() bool { return e.states(more)[execution.Running] == 1 })
	})
}

// TestTakesOverAfterACrash: a worker that crashes is replaced after the
// retry delay; a daemon that dies leaves leases that run out and another
// daemon takes the executions over, each once.
func TestTakesOverAfterACrash(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, true)
		ids := e.book(4, time.Now())
		f := newFake(e.execs)
		_, stop := e.daemon(daemon.Config{Name: "a", Scan: 100 * time.Millisecond, Retry: 200 * time.Millisecond}, f, &prepared{}, true)
		e.until("4 running", 10*time.Second, func() bool { return e.states(ids)[execution.Running] == 4 })
		// One worker crashes: a second is launched for it.
		f.finish(ids[0], errors.New("killed"))
		e.until("a second worker", 10*time.Second, func() bool { return f.count(ids[0]) == 2 })
		// The daemon stops: its workers stop and release their leases; a
		// second daemon takes all four over.
		stop()
		e.daemon(daemon.Config{Name: "b", Scan: 100 * time.Millisecond}, f, &prepared{}, true)
		e.until("taken over", 10*time.Second, func() bool {
			for _, id := range ids {
				if x, _ := e.execs.Get(e.ctx, id); x.Worker[:2] != "b/" {
					return false
				}
			}
			return true
		})
		for _, id := range ids {
			f.finish(id, nil)
		}
		e.until("all succeeded", 10*time.Second, func() bool { return e.states(ids)[execution.Succeeded] == 4 })
		for i, id := range ids {
			want := 2
			if i == 0 {
				want = 3
			}
			if n := f.count(id); n != want {
				t.Errorf("%s: %d launches, want %d", id, n, want)
			}
		}
	})
}

// TestTakesOverALapsedLease: an execution whose worker's lease ran out
// (its daemon and worker were killed: nothing was released) is taken
// over by the next daemon.
func TestTakesOverALapsedLease(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, true)
		ids := e.book(2, time.Now())
		now := time.Now()
		if _, err := e.execs.Claim(e.ctx, ids[0], "dead/1", now.Add(300*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.execs.Claim(e.ctx, ids[1], "alive/1", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		f := newFake(e.execs)
		e.daemon(daemon.Config{Name: "c", Scan: 100 * time.Millisecond}, f, &prepared{}, true)
		e.until("the lapsed one taken over", 10*time.Second, func() bool { return f.count(ids[0]) == 1 })
		time.Sleep(300 * time.Millisecond)
		if f.count(ids[1]) != 0 {
			t.Fatal("an execution whose worker lives was taken over")
		}
		if x, _ := e.execs.Get(e.ctx, ids[0]); x.Attempts != 2 || x.Worker[:2] != "c/" {
			t.Fatalf("attempts %d, worker %q", x.Attempts, x.Worker)
		}
	})
}

// TestAdoptsItsWorkersAfterARestart: workers that outlived their daemon
// (Jobs) still count against the restarted daemon's concurrency limit, and
// free their places when they end; none is launched again.
func TestAdoptsItsWorkersAfterARestart(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, true)
		ids := e.book(2, time.Now())
		f := newFake(e.execs)
		f.detached = true
		cfg := daemon.Config{Name: "a", Concurrency: 2, Scan: 100 * time.Millisecond}
		_, stop := e.daemon(cfg, f, &prepared{}, true)
		e.until("2 running", 10*time.Second, func() bool { return e.states(ids)[execution.Running] == 2 })
		stop()
		later := e.book(1, time.Now())
		dm, _ := e.daemon(cfg, f, &prepared{}, true)
		time.Sleep(600 * time.Millisecond)
		if x, _ := e.execs.Get(e.ctx, later[0]); x.State != execution.Scheduled {
			t.Fatalf("launched beyond the limit after the restart: %s", x.State)
		}
		if w := dm.Workers(); len(w) != 2 {
			t.Fatalf("%d workers adopted, want 2", len(w))
		}
		f.finish(ids[0], nil)
		e.until("the later one running", 10*time.Second, func() bool { return e.states(later)[execution.Running] == 1 })
		f.finish(ids[1], nil)
		f.finish(later[0], nil)
		all := append(ids, later...)
		e.until("all succeeded", 10*time.Second, func() bool { return e.states(all)[execution.Succeeded] == 3 })
		for _, id := range all {
			if n := f.count(id); n != 1 {
				t.Errorf("%s launched %d times", id, n)
			}
		}
	})
}
