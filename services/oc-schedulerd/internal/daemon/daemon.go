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
type Waiting struct {
	Reason string
	// Global says the cause is the peer's, not the execution's (no
	// cluster, oc-datacenter unreachable, the daemon's own identity
	// refused): every execution would wait for it. The daemon then claims
	// nothing until Retry has passed, tries one execution again, and
	// writes the reason on the others without trying them one by one.
	Global bool
}

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

	// Owned by Run's goroutine.
	hold   hold      // nothing is claimed before hold.until
	marked signature // the due executions last given hold's reason
}

// hold is a cause every execution waits for (Waiting.Global): until
// until, the daemon claims nothing.
type hold struct {
	until  time.Time
	reason string
}

// signature tells whether the due executions changed since they were
// given a hold's reason: their number and the latest of them.
type signature struct {
	reason string
	total  int64
	latest string
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
		sub, err := dm.d.NATS.Subscribe(event.ExecutionStates, func(*nats.Msg) { dm.Poke() })
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
		// It sleeps until something it waits for can have changed: the next
		// start, the next retry, the end of a hold, or the next scan; a NATS
		// event or a worker's end wakes it earlier.
		next := dm.pass(ctx)
		wait := dm.cfg.Scan
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(dm.d.Now()), time.Millisecond))
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

// skip reports whether id is followed here already or waits for a retry
// (the entries whose retry has come were pruned at the pass's start).
func (dm *Daemon) skip(id string) bool {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	_, active := dm.active[id]
	_, waits := dm.wait[id]
	return active || waits
}

// slack is how early a retry may come: the executions given back within
// it are tried again in one pass, not each in its own.
func (dm *Daemon) slack() time.Duration { return min(dm.cfg.Retry/4, time.Second) }

// prune forgets the retries that have come (or come within slack), and,
// when seen lists every execution the daemon could act on now (the pass
// listed them all), the retries of the executions it does not list: they
// were cancelled, missed or taken by another daemon. Entries made after
// now, during the pass, are kept.
func (dm *Daemon) prune(now time.Time, seen map[string]bool) {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	soon := now.Add(dm.slack())
	for id, t := range dm.wait {
		if !t.After(soon) || (seen != nil && !seen[id] && !t.After(now.Add(dm.cfg.Retry))) {
			delete(dm.wait, id)
		}
	}
}

// held reports whether a hold keeps the daemon from claiming at now.
func (dm *Daemon) held(now time.Time) bool { return now.Before(dm.hold.until) }

// pass takes over orphans and claims due executions while workers are
// free and no hold keeps it from it; it returns when next to look (zero:
// at the next scan, or when a worker ends).
func (dm *Daemon) pass(ctx context.Context) time.Time {
	now := dm.d.Now()
	if dm.d.Metrics != nil {
		defer dm.d.Metrics.observe(dm)
	}
	dm.prune(now, nil)
	if dm.held(now) {
		return dm.hold.until
	}
	free := dm.free()
	if free <= 0 {
		return time.Time{} // a worker's end wakes the daemon
	}
	// seen is every execution the daemon could act on now, when both
	// lists are whole; the retries of the others are forgotten.
	seen, whole := map[string]bool{}, true
	list := func(what string, limit int, find func(int) ([]execution.Execution, error)) []execution.Execution {
		out, err := find(limit)
		if err != nil {
			if ctx.Err() == nil {
				dm.log.Warn("could not list "+what+" executions", "err", err)
			}
			whole = false
			return nil
		}
		whole = whole && len(out) < limit
		for _, e := range out {
			seen[e.ID] = true
		}
		return out
	}
	// Orphans first: they were running before the ones now due.
	for _, e := range list("orphaned", free+dm.skipped(), func(n int) ([]execution.Execution, error) {
		return dm.d.Executions.Orphans(ctx, now, n)
	}) {
		if dm.free() <= 0 || ctx.Err() != nil || dm.held(now) {
			break
		}
		if !dm.skip(e.ID) {
			dm.takeOver(ctx, e, now)
		}
	}
	if dm.held(now) || dm.free() <= 0 {
		whole = false // the due executions were not listed
	} else {
		by := now.Add(dm.cfg.Lead)
		for _, e := range list("due", dm.free()+dm.skipped(), func(n int) ([]execution.Execution, error) {
			return dm.d.Executions.Due(ctx, by, n)
		}) {
			if dm.free() <= 0 || ctx.Err() != nil || dm.held(now) {
				break
			}
			if !dm.skip(e.ID) {
				dm.claim(ctx, e, now)
			}
		}
	}
	if whole && ctx.Err() == nil {
		dm.prune(now, seen)
	}
	if dm.held(now) {
		dm.mark(ctx, now.Add(dm.cfg.Lead))
		return dm.hold.until
	}
	return dm.next(ctx)
}

// skipped is how many executions wait for a retry or are followed here
// (listed beyond the free slots, so that they do not hide the others).
func (dm *Daemon) skipped() int {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	return len(dm.wait) + len(dm.active)
}

// next is the earliest of the next start of an execution not yet due (less
// the lead) and the next retry: what is due already waits for one of them,
// for a free worker, or for an event.
func (dm *Daemon) next(ctx context.Context) time.Time {
	now := dm.d.Now()
	var next time.Time
	start, ok, err := dm.d.Executions.NextStartAfter(ctx, now.Add(dm.cfg.Lead))
	switch {
	case err != nil && ctx.Err() == nil:
		dm.log.Warn("could not find the next start", "err", err)
	case ok:
		next = start.Add(-dm.cfg.Lead)
	}
	dm.mu.Lock()
	defer dm.mu.Unlock()
	for _, t := range dm.wait {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next
}

// mark gives the hold's reason to the due executions that do not say it
// yet, so that each says why it waits while only one is tried per Retry.
// It reads them only when they changed since the last time.
func (dm *Daemon) mark(ctx context.Context, by time.Time) {
	due := executions.Query{States: []execution.State{execution.Scheduled}, StartBy: by}
	q := due
	q.Sort, q.Limit = []executions.Sort{{Field: executions.SortStart, Desc: true}}, 1
	latest, total, err := dm.d.Executions.Find(ctx, q)
	if err != nil || len(latest) == 0 {
		return
	}
	sig := signature{reason: dm.hold.reason, total: total, latest: latest[0].ID}
	if sig == dm.marked {
		return
	}
	const pageSize = 200
	for offset := 0; ; offset += pageSize {
		q := due
		q.Sort, q.Limit, q.Offset = []executions.Sort{{Field: executions.SortStart}}, pageSize, offset
		page, _, err := dm.d.Executions.Find(ctx, q)
		if err != nil {
			if ctx.Err() == nil {
				dm.log.Warn("could not list the due executions to give them the reason they wait", "err", err)
			}
			return
		}
		for _, e := range page {
			if e.Reason == dm.hold.reason {
				continue
			}
			_, err := dm.d.Executions.Update(ctx, e.ID, []execution.State{execution.Scheduled}, func(x *execution.Execution) {
				x.Reason = dm.hold.reason
			})
			if err != nil && !errors.Is(err, executions.ErrStateChanged) && !errors.Is(err, executions.ErrNotFound) {
				if ctx.Err() == nil {
					dm.log.Warn("could not give an execution the reason it waits", "execution", e.ID, "err", err)
				}
				return
			}
		}
		if len(page) < pageSize {
			break
		}
	}
	dm.marked = sig
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
			var w *Waiting
			dm.giveBack(ctx, e, name, "waiting: "+err.Error(), errors.As(err, &w) && w.Global)
			return
		}
	}
	run, err := dm.d.Launcher.Launch(ctx, e.ID, name)
	if err != nil {
		dm.giveBack(ctx, e, name, "waiting: could not launch a worker: "+err.Error(), false)
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
		dm.Poke() // its place is free
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
// lease released for a later take-over. A global reason holds every claim
// until Retry has passed.
func (dm *Daemon) giveBack(ctx context.Context, e execution.Execution, name, reason string, global bool) {
	retry := dm.d.Now().Add(dm.cfg.Retry)
	if global {
		dm.log.Warn("no execution can start; one is tried again after the retry delay", "execution", e.ID, "reason", reason, "retry", dm.cfg.Retry)
		dm.hold = hold{until: retry, reason: reason}
	} else {
		dm.log.Warn("execution not started", "execution", e.ID, "reason", reason)
	}
	dm.mu.Lock()
	dm.wait[e.ID] = retry
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
