// Package daemon is oc-schedulerd's loop: it claims the executions that are
// due, has oc-datacenter prepare each one, and hands it to a monitord worker
// through a launcher, within a concurrency limit; it takes over the
// executions whose worker died.
//
// Nothing is launched twice: a claim is a conditional state change that
// one daemon wins, and a worker holds the execution's lease while it
// follows it, so a second worker is launched only once the first one's
// lease has run out. Nothing is forgotten: the daemon learns of new and
// changed executions from NATS, and rescans the store as well, so a lost
// event only delays a launch until the next scan.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"

	"github.com/opencloud/opencloud/services/oc-schedulerd/launch"
)

// Defaults of Config.
const (
	DefaultConcurrency = 20
	DefaultLead        = 2 * time.Second
	DefaultScan        = 5 * time.Second
	DefaultLaunchTTL   = 2 * time.Minute
	DefaultRetry       = 15 * time.Second
)

// Config tunes the daemon.
type Config struct {
	// Name is the daemon's: the prefix of its workers' lease names, and how
	// it finds its workers again after a restart. Default: the host name.
	Name string
	// Concurrency is how many workers it runs at once; more due
	// executions wait. Default DefaultConcurrency.
	Concurrency int
	// Lead is how long before its window starts an execution is claimed
	// and prepared. Default DefaultLead.
	Lead time.Duration
	// Scan is how often the store is read again without an event.
	// Default DefaultScan.
	Scan time.Duration
	// LaunchTTL is the lease a claim gives, covering the worker's start
	// (a Job's pod may take a while); the worker then renews its own.
	// Default DefaultLaunchTTL.
	LaunchTTL time.Duration
	// Retry is how long an execution that could not be prepared or
	// launched waits before the next try. Default DefaultRetry.
	Retry time.Duration
}

// Waiting is a reason an execution waits: the datacenter could not
// prepare it (no cluster, unreachable) and it is given back to scheduled.
type Waiting struct{ Reason string }

func (w *Waiting) Error() string { return w.Reason }

// Provisioner prepares an execution on the cluster before its worker
// starts (oc-datacenter: namespace, service account, RBAC). It must be
// idempotent: a taken-over execution is prepared again.
type Provisioner interface {
	Prepare(ctx context.Context, e execution.Execution) error
}

// Deps is what the daemon needs.
type Deps struct {
	Logger      *slog.Logger
	Executions  *executions.Store
	NATS        *nats.Conn // nil: the daemon only scans
	Launcher    launch.Launcher
	Provisioner Provisioner
	Metrics     *Metrics // nil: none
	Now         func() time.Time
}

// Daemon claims and launches.
type Daemon struct {
	cfg  Config
	d    Deps
	log  *slog.Logger
	wake chan struct{}

	awaits sync.WaitGroup // one per launched worker, until its end is handled

	mu     sync.Mutex
	active map[string]*worker   // by execution id
	wait   map[string]time.Time // execution id → not before
}

// worker is one launched worker.
type worker struct {
	id, name string
	since    time.Time
	run      *launch.Run
}

// Worker describes one worker the daemon runs, for its status.
type Worker struct {
	ExecutionID string    `json:"execution_id"`
	Worker      string    `json:"worker"`
	Since       time.Time `json:"since"`
}

// New builds a daemon.
func New(cfg Config, d Deps) (*Daemon, error) {
	if d.Executions == nil || d.Launcher == nil || d.Provisioner == nil {
		return nil, errors.New("daemon: Executions, Launcher and Provisioner are required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if cfg.Name == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "schedulerd"
		}
		cfg.Name = host
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Lead < 0 {
		cfg.Lead = 0
	} else if cfg.Lead == 0 {
		cfg.Lead = DefaultLead
	}
	if cfg.Scan <= 0 {
		cfg.Scan = DefaultScan
	}
	if cfg.LaunchTTL <= 0 {
		cfg.LaunchTTL = DefaultLaunchTTL
	}
	if cfg.Retry <= 0 {
		cfg.Retry = DefaultRetry
	}
	return &Daemon{cfg: cfg, d: d, log: d.Logger.With("daemon", cfg.Name, "launcher", d.Launcher.Name()),
		wake: make(chan struct{}, 1), active: map[string]*worker{}, wait: map[string]time.Time{}}, nil
}

// Config is the daemon's configuration with its defaults applied.
func (dm *Daemon) Config() Config { return dm.cfg }

// Workers lists the workers the daemon runs now, oldest first.
func (dm *Daemon) Workers() []Worker {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	out := make([]Worker, 0, len(dm.active))
	for _, w := range dm.active {
		out = append(out, Worker{ExecutionID: w.id, Worker: w.name, Since: w.since})
	}
	slices.SortFunc(out, func(a, b Worker) int { return a.Since.Compare(b.Since) })
	return out
}

// Poke makes the daemon look at the store now.
func (dm *Daemon) Poke() {
	select {
	case dm.wake <- struct{}{}:
	default:
	}
}

// Run claims and launches until ctx ends; it then waits for the workers
// that stop with it (in-process ones, processes asked to stop) and
// returns nil.
func (dm *Daemon) Run(ctx context.Context) error {
	if dm.d.NATS != nil {
		sub, err := dm.d.NATS.Subscribe(event.ExecutionState, func(*nats.Msg) { dm.Poke() })
		if err != nil {
			dm.log.Warn("no NATS subscription: the daemon learns of executions by scanning only", "err", err)
		} else {
			defer func() { _ = sub.Unsubscribe() }()
		}
	}
	dm.log.Info("schedulerd started", "concurrency", dm.cfg.Concurrency, "lead", dm.cfg.Lead, "scan", dm.cfg.Scan)
	dm.adopt(ctx)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		next := dm.pass(ctx)
		wait := dm.cfg.Scan
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(dm.d.Now()), 10*time.Millisecond))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			dm.drain()
			return nil
		case <-dm.wake:
		case <-timer.C:
		}
	}
}

// adopt counts, after a restart, the workers this daemon launched before
// that still hold their leases (Jobs, detached processes): they follow
// their executions without it, but take their places in the concurrency
// limit until they end.
func (dm *Daemon) adopt(ctx context.Context) {
	mine := dm.cfg.Name + "/"
	now := dm.d.Now()
	for offset := 0; ; offset += 500 {
		page, _, err := dm.d.Executions.Find(ctx, executions.Query{States: []execution.State{execution.Starting, execution.Running},
			Sort: []executions.Sort{{Field: executions.SortStart}}, Limit: 500, Offset: offset})
		if err != nil {
			if ctx.Err() == nil {
				dm.log.Warn("could not look for this daemon's running workers", "err", err)
			}
			return
		}
		for _, e := range page {
			if !strings.HasPrefix(e.Worker, mine) || e.WorkerUntil == nil || e.WorkerUntil.Before(now) {
				continue
			}
			w := &worker{id: e.ID, name: e.Worker, since: now, run: dm.watch(ctx, e.ID, e.Worker)}
			dm.mu.Lock()
			dm.active[e.ID] = w
			dm.mu.Unlock()
			dm.awaits.Add(1)
			go func() {
				defer dm.awaits.Done()
				dm.await(ctx, w)
			}()
			dm.log.Info("adopted a worker launched before a restart", "execution", e.ID, "worker", e.Worker)
		}
		if len(page) < 500 {
			return
		}
	}
}

// watch is the run of a worker launched before a restart: it ends when
// the execution has, or the worker no longer holds it (its lease ran out
// or was taken), read every Scan; when ctx ends, it ends detached.
func (dm *Daemon) watch(ctx context.Context, id, name string) *launch.Run {
	return launch.Go(func() error {
		tick := time.NewTicker(dm.cfg.Scan)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return launch.ErrDetached
			case <-tick.C:
			}
			e, err := dm.d.Executions.Get(ctx, id)
			switch {
			case ctx.Err() != nil:
				return launch.ErrDetached
			case err != nil:
				dm.log.Warn("could not read an adopted worker's execution", "execution", id, "err", err)
			case e.State.Terminal():
				return nil
			case e.Worker != name || e.WorkerUntil == nil || e.WorkerUntil.Before(dm.d.Now()):
				return fmt.Errorf("worker %s no longer holds execution %s", name, id)
			}
		}
	})
}

// drain waits for the workers that end with the daemon's context, and for
// their ends to be handled.
func (dm *Daemon) drain() { dm.awaits.Wait() }

// free is how many more workers may start.
func (dm *Daemon) free() int {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	return dm.cfg.Concurrency - len(dm.active)
}

// skip reports whether id is followed here already or waits for a retry.
func (dm *Daemon) skip(id string, now time.Time) bool {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	if _, ok := dm.active[id]; ok {
		return true
	}
	if t, ok := dm.wait[id]; ok {
		if now.Before(t) {
			return true
		}
		delete(dm.wait, id)
	}
	return false
}

// pass takes over orphans and claims due executions while workers are
// free; it returns when next to look (zero: at the next scan).
func (dm *Daemon) pass(ctx context.Context) time.Time {
	now := dm.d.Now()
	if dm.d.Metrics != nil {
		defer dm.d.Metrics.observe(dm)
	}
	// Orphans first: they were running before the ones now due.
	if free := dm.free(); free > 0 {
		orphans, err := dm.d.Executions.Orphans(ctx, now, free+dm.skipped())
		if err != nil && ctx.Err() == nil {
			dm.log.Warn("could not list orphaned executions", "err", err)
		}
		for _, e := range orphans {
			if dm.free() <= 0 || ctx.Err() != nil {
				break
			}
			if !dm.skip(e.ID, now) {
				dm.takeOver(ctx, e, now)
			}
		}
	}
	if free := dm.free(); free > 0 {
		due, err := dm.d.Executions.Due(ctx, now.Add(dm.cfg.Lead), free+dm.skipped())
		if err != nil && ctx.Err() == nil {
			dm.log.Warn("could not list due executions", "err", err)
		}
		for _, e := range due {
			if dm.free() <= 0 || ctx.Err() != nil {
				break
			}
			if !dm.skip(e.ID, now) {
				dm.claim(ctx, e, now)
			}
		}
	}
	return dm.next(ctx)
}

// skipped is how many executions wait for a retry (listed beyond the free
// slots, so that they do not hide the others).
func (dm *Daemon) skipped() int {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	return len(dm.wait) + len(dm.active)
}

// next is the earliest of the next start (less the lead) and the next retry.
func (dm *Daemon) next(ctx context.Context) time.Time {
	var next time.Time
	if start, ok, err := dm.d.Executions.NextStart(ctx); err == nil && ok {
		next = start.Add(-dm.cfg.Lead)
	}
	dm.mu.Lock()
	defer dm.mu.Unlock()
	for _, t := range dm.wait {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next
}

func (dm *Daemon) workerName() string { return dm.cfg.Name + "/" + uuid.NewString()[:8] }

// claim moves a due execution to starting, prepares it and launches its
// worker; what cannot be prepared or launched goes back to scheduled with
// the reason, and is tried again after Retry.
func (dm *Daemon) claim(ctx context.Context, e execution.Execution, now time.Time) {
	name := dm.workerName()
	e, err := dm.d.Executions.Claim(ctx, e.ID, name, now.Add(dm.cfg.LaunchTTL))
	switch {
	case errors.Is(err, executions.ErrStateChanged) || errors.Is(err, executions.ErrNotFound):
		return // another daemon claimed it, or it was cancelled
	case err != nil:
		dm.log.Warn("could not claim an execution", "execution", e.ID, "err", err)
		return
	}
	dm.log.Info("claimed", "execution", e.ID, "worker", name, "start", e.Start)
	dm.start(ctx, e, name)
}

// takeOver gives a starting or running execution whose worker died a new
// worker, which re-attaches to what the first one submitted.
func (dm *Daemon) takeOver(ctx context.Context, e execution.Execution, now time.Time) {
	name := dm.workerName()
	e, err := dm.d.Executions.Acquire(ctx, e.ID, name, now.Add(dm.cfg.LaunchTTL), now)
	switch {
	case errors.Is(err, executions.ErrLeaseHeld) || errors.Is(err, executions.ErrStateChanged) || errors.Is(err, executions.ErrNotFound):
		return
	case err != nil:
		dm.log.Warn("could not take over an execution", "execution", e.ID, "err", err)
		return
	}
	dm.log.Info("taking over an execution whose worker stopped", "execution", e.ID, "state", e.State, "worker", name, "attempt", e.Attempts)
	if dm.d.Metrics != nil {
		dm.d.Metrics.TakeOvers.Inc()
	}
	dm.start(ctx, e, name)
}

// start prepares e (held by worker name) and launches its worker.
func (dm *Daemon) start(ctx context.Context, e execution.Execution, name string) {
	if !e.CancelRequested {
		if err := dm.d.Provisioner.Prepare(ctx, e); err != nil {
			dm.giveBack(ctx, e, name, "waiting: "+err.Error())
			return
		}
	}
	run, err := dm.d.Launcher.Launch(ctx, e.ID, name)
	if err != nil {
		dm.giveBack(ctx, e, name, "waiting: could not launch a worker: "+err.Error())
		return
	}
	w := &worker{id: e.ID, name: name, since: dm.d.Now(), run: run}
	dm.mu.Lock()
	dm.active[e.ID] = w
	dm.mu.Unlock()
	if dm.d.Metrics != nil {
		dm.d.Metrics.Launches.Inc()
	}
	dm.awaits.Add(1)
	go func() {
		defer dm.awaits.Done()
		dm.await(ctx, w)
	}()
}

// await notes a worker's end. A worker that ended before its execution did
// (crashed, stopped) gives its lease up so that the execution is taken over
// after Retry, by this daemon or another.
func (dm *Daemon) await(ctx context.Context, w *worker) {
	<-w.run.Done()
	err := w.run.Err()
	dm.mu.Lock()
	delete(dm.active, w.id)
	dm.mu.Unlock()
	bg := context.WithoutCancel(ctx)
	e, gerr := dm.d.Executions.Get(bg, w.id)
	switch {
	case gerr != nil:
		dm.log.Warn("worker ended; could not read its execution", "execution", w.id, "err", gerr)
		return
	case e.State.Terminal():
		dm.log.Info("worker ended with its execution", "execution", w.id, "state", e.State)
		dm.Poke()
		return
	}
	// The worker may have died before it could give its lease up (or
	// before it took it, while the daemon stopped): the daemon does —
	// unless the worker goes on without the daemon (a Job).
	if e.Worker == w.name && !errors.Is(err, launch.ErrDetached) {
		if rerr := dm.d.Executions.Release(bg, w.id, w.name); rerr != nil {
			dm.log.Warn("could not release the lease of a stopped worker", "execution", w.id, "err", rerr)
		}
	}
	if ctx.Err() != nil {
		return // the daemon stops: the next one takes the execution over
	}
	dm.log.Warn("worker ended before its execution; it is taken over after the retry delay", "execution", w.id, "state", e.State, "err", err)
	dm.mu.Lock()
	dm.wait[w.id] = dm.d.Now().Add(dm.cfg.Retry)
	dm.mu.Unlock()
	dm.Poke()
}

// giveBack returns an execution the daemon could not start: a starting one
// goes back to scheduled with the reason (it is claimed again after
// Retry, or missed when its window ends); a running one keeps running, its
// lease released for a later take-over.
func (dm *Daemon) giveBack(ctx context.Context, e execution.Execution, name, reason string) {
	dm.log.Warn("execution not started", "execution", e.ID, "reason", reason)
	dm.mu.Lock()
	dm.wait[e.ID] = dm.d.Now().Add(dm.cfg.Retry)
	dm.mu.Unlock()
	if e.State == execution.Starting {
		_, err := dm.d.Executions.Transition(ctx, e.ID, []execution.State{execution.Starting}, execution.Scheduled, func(x *execution.Execution) {
			x.Reason, x.Worker, x.WorkerUntil = reason, "", nil
		})
		if err == nil || errors.Is(err, executions.ErrStateChanged) {
			return
		}
		dm.log.Warn("could not give an execution back", "execution", e.ID, "err", err)
	}
	if err := dm.d.Executions.Release(ctx, e.ID, name); err != nil {
		dm.log.Warn("could not release an execution", "execution", e.ID, "err", err)
	}
}
