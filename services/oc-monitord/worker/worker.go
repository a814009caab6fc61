// Package worker runs one execution: it submits the execution's Argo
// Workflow, follows it to its end and writes how it ran (the execution's
// state, each step's state, times and figures), announcing each step's
// progress and its pod's log lines on NATS.
//
// A worker may die at any moment and be started again on the same
// execution: the Workflow's name derives from the execution id, so the new
// worker finds the Workflow already submitted and follows it instead of
// submitting a second one, and the steps already written are not written
// or announced again.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	argo "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	argov1 "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned/typed/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"

	"github.com/opencloud/opencloud/services/oc-monitord/internal/render"
)

// ErrNotClaimed: the execution is still scheduled. The daemon moves it to
// starting (its claim) before it starts a worker.
var ErrNotClaimed = errors.New("worker: the execution is scheduled, not claimed (the daemon moves it to starting first)")

// Defaults of Deps.
const (
	DefaultPoll       = 2 * time.Second
	DefaultLogTimeout = 10 * time.Second
	DefaultLeaseTTL   = 30 * time.Second
)

// Deps is what a worker needs.
type Deps struct {
	Logger *slog.Logger
	// Executions is the shared execution store; open it with
	// executions.WithEvents so that state changes are announced.
	Executions *executions.Store
	// Publisher announces step changes and log lines; nil announces nothing.
	Publisher *broker.Publisher
	// Kube reaches the cluster the execution runs on.
	Kube *rest.Config
	// PeerID is this peer's id ("" → "local"): computes of other peers
	// run through Admiralty.
	PeerID string
	// Now is the clock of the execution's start and end; default time.Now.
	Now func() time.Time
	// Poll is how often the execution is read again between the Workflow's
	// changes, to see a cancel request; default DefaultPoll.
	Poll time.Duration
	// LogTimeout bounds how long the end of an execution waits for its
	// steps' logs to be read to their end (and kept) before it is written;
	// default DefaultLogTimeout.
	LogTimeout time.Duration
	// Worker is the name under which the worker holds the execution's
	// lease (executions.Acquire): the one oc-schedulerd claimed it for, so
	// that the worker it launched, or that worker restarted, may hold it.
	// Empty: a name of this process's own, which takes the execution only
	// when no live worker holds it.
	Worker string
	// LeaseTTL is how long the lease lasts unless renewed (it is renewed
	// every third of it); default DefaultLeaseTTL.
	LeaseTTL time.Duration
	// Mutate, for tests and operators: adjust the rendered Workflow before
	// submission (it is validated after). Not applied on a re-attach, which
	// follows the Workflow already in the cluster.
	Mutate func(*wfv1.Workflow)
}

// Follow runs execution id until it ends. The execution must be starting
// (claimed), running (a re-attach) or already over (nothing to do);
// ErrNotClaimed when it is still scheduled. It returns nil once the
// execution is in a terminal state, whoever put it there, and ctx's error
// when ctx ends first: the execution is then left as it is, for a worker
// started later to re-attach. Other errors are the infrastructure's (the
// store, the cluster), the execution being left as it is too.
func Follow(ctx context.Context, d Deps, id string) error {
	f, err := newFollower(d, id)
	if err != nil {
		return err
	}
	e, err := d.Executions.Get(ctx, id)
	if err != nil {
		return err
	}
	switch {
	case e.State == execution.Scheduled:
		return fmt.Errorf("execution %s: %w", id, ErrNotClaimed)
	case e.State.Terminal():
		return nil
	}
	ctx, lost, release, err := f.hold(ctx)
	if err != nil {
		return err
	}
	defer release()
	err = f.loop(ctx)
	if f.stepLogs != nil {
		// Before the lease is released: what was read is kept under it.
		f.stepLogs.stop()
	}
	if err != nil && lost() {
		return fmt.Errorf("execution %s: another worker took it over: %w", id, executions.ErrLeaseLost)
	}
	return err
}

// hold acquires the execution's lease, through which the worker writes
// (f.lease), and renews it until release; ctx ends when the lease is lost
// (lost then reports true): taken over, or run out before a renewal went
// through. release gives the lease up when the execution has not ended,
// for another worker to take it over at once.
func (f *follower) hold(ctx context.Context) (context.Context, func() bool, func(), error) {
	ttl := f.d.LeaseTTL
	lease, _, err := f.d.Executions.Hold(ctx, f.id, f.d.Worker, f.d.Now().Add(ttl), f.d.Now())
	if err != nil {
		if errors.Is(err, executions.ErrStateChanged) {
			// It ended (or was given back) meanwhile: the loop reads it again.
			return ctx, func() bool { return false }, func() {}, nil
		}
		return nil, nil, nil, err
	}
	f.lease = lease
	ctx, cancel := context.WithCancel(ctx)
	var lost atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			rctx, rcancel := context.WithTimeout(ctx, ttl/3)
			err := lease.Renew(rctx, f.d.Now().Add(ttl))
			rcancel()
			switch {
			case errors.Is(err, executions.ErrLeaseLost):
				// Taken over, ended, or run out: in each case this worker is done.
				lost.Store(true)
				cancel()
				return
			case err != nil && ctx.Err() == nil && !f.d.Now().Before(lease.Until()):
				// Another worker may have the execution by now: stop.
				f.log.Warn("the lease ran out before it could be renewed; stopping", "err", err)
				lost.Store(true)
				cancel()
				return
			case err != nil && ctx.Err() == nil:
				f.log.Warn("could not renew the lease; trying again", "err", err)
			}
		}
	}()
	release := func() {
		cancel()
		<-done
		if lost.Load() {
			return
		}
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer rcancel()
		if err := lease.Release(rctx); err != nil {
			f.log.Warn("could not release the lease", "err", err)
		}
	}
	return ctx, lost.Load, release, nil
}

// loop acts on the execution's state until it has ended.
func (f *follower) loop(ctx context.Context) error {
	id := f.id
	for {
		e, err := f.d.Executions.Get(ctx, id)
		if err != nil {
			return err
		}
		switch {
		case e.State == execution.Scheduled:
			// Given back to scheduled (by its daemon) while this worker started.
			return fmt.Errorf("execution %s: %w", id, ErrNotClaimed)
		case e.State.Terminal():
			f.log.Debug("execution over", "state", e.State)
			return nil
		case e.State == execution.Starting:
			err = f.start(ctx, e)
		case e.State == execution.Running:
			err = f.follow(ctx, e)
		default:
			return fmt.Errorf("execution %s is in an unknown state %q", id, e.State)
		}
		if errors.Is(err, executions.ErrStateChanged) {
			// Someone else moved it (a cancel while starting, another
			// worker): act on the state it is in now.
			f.log.Debug("execution changed under the worker; reading it again", "err", err)
			continue
		}
		if err != nil {
			return err
		}
	}
}

type follower struct {
	d    Deps
	id   string
	ns   string
	name string
	log  *slog.Logger
	kube kubernetes.Interface
	wfs  argov1.WorkflowInterface
	// stepLogs follows the steps' logs once the execution runs.
	stepLogs *logs
	// lease is the worker's hold on the execution, under which it writes
	// (nil until hold took it).
	lease *executions.Lease
}

// transition and update write under the worker's lease: refused with
// executions.ErrLeaseLost once the execution is no longer under it.
func (f *follower) transition(ctx context.Context, from []execution.State, to execution.State, mutate func(*execution.Execution)) (execution.Execution, error) {
	if f.lease == nil {
		return execution.Execution{}, fmt.Errorf("execution %s: not held by this worker: %w", f.id, executions.ErrLeaseLost)
	}
	return f.lease.Transition(ctx, from, to, mutate)
}

func (f *follower) update(ctx context.Context, from []execution.State, mutate func(*execution.Execution)) (execution.Execution, error) {
	if f.lease == nil {
		return execution.Execution{}, fmt.Errorf("execution %s: not held by this worker: %w", f.id, executions.ErrLeaseLost)
	}
	return f.lease.Update(ctx, from, mutate)
}

func newFollower(d Deps, id string) (*follower, error) {
	if d.Executions == nil || d.Kube == nil {
		return nil, errors.New("worker: Deps.Executions and Deps.Kube are required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.PeerID == "" {
		d.PeerID = render.DefaultLocalPeer
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Poll <= 0 {
		d.Poll = DefaultPoll
	}
	if d.LogTimeout <= 0 {
		d.LogTimeout = DefaultLogTimeout
	}
	if d.LeaseTTL <= 0 {
		d.LeaseTTL = DefaultLeaseTTL
	}
	if d.Worker == "" {
		host, _ := os.Hostname()
		d.Worker = fmt.Sprintf("monitord-%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	kube, err := kubernetes.NewForConfig(d.Kube)
	if err != nil {
		return nil, fmt.Errorf("worker: kubernetes client: %w", err)
	}
	ac, err := argo.NewForConfig(d.Kube)
	if err != nil {
		return nil, fmt.Errorf("worker: argo client: %w", err)
	}
	ns := execution.Namespace(id)
	return &follower{d: d, id: id, ns: ns, name: execution.WorkflowName(id),
		log:  d.Logger.With("execution", id),
		kube: kube, wfs: ac.ArgoprojV1alpha1().Workflows(ns)}, nil
}

func (f *follower) now() time.Time { return executions.Stamp(f.d.Now()) }

// start submits the Workflow of a starting execution and moves it to
// running; what cannot run moves it to failed with the reason.
func (f *follower) start(ctx context.Context, e execution.Execution) error {
	if e.CancelRequested {
		// A worker that died after submitting may have left a Workflow.
		if err := f.stop(ctx); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		_, err := f.transition(ctx, []execution.State{execution.Starting}, execution.Cancelled,
			func(x *execution.Execution) { x.Reason = "cancelled before it started" })
		return err
	}
	if reason, err := f.prepared(ctx); err != nil {
		return err
	} else if reason != "" {
		return f.fail(ctx, execution.Starting, reason, "")
	}
	w, err := render.Render(e, render.Options{LocalPeer: f.d.PeerID, Namespace: f.ns})
	if err == nil && f.d.Mutate != nil {
		f.d.Mutate(w)
	}
	if err == nil {
		err = render.Validate(w)
	}
	if err != nil {
		return f.fail(ctx, execution.Starting, fmt.Sprintf("the workflow cannot run: %v", err), "")
	}
	if err := f.waitStart(ctx, e); err != nil {
		return err
	}
	_, err = f.wfs.Create(ctx, w, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		// A worker before this one submitted it and died: follow that one.
		cur, err := f.wfs.Get(ctx, f.name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("execution %s: get Argo Workflow %s/%s: %w", f.id, f.ns, f.name, err)
		}
		if cur.Labels[execution.LabelExecution] != f.id {
			return f.fail(ctx, execution.Starting, fmt.Sprintf("Argo Workflow %s/%s exists and is not this execution's (label %s=%q)",
				f.ns, f.name, execution.LabelExecution, cur.Labels[execution.LabelExecution]), "")
		}
		f.log.Info("re-attaching to the Argo Workflow already submitted", "workflow", f.name)
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return f.fail(ctx, execution.Starting, fmt.Sprintf("the cluster refused the Argo Workflow: %v", err), "")
	case apierrors.IsNotFound(err):
		return f.fail(ctx, execution.Starting, notPrepared(f.ns), "")
	case err != nil:
		return fmt.Errorf("execution %s: submit Argo Workflow %s/%s: %w", f.id, f.ns, f.name, err)
	default:
		f.log.Info("Argo Workflow submitted", "workflow", f.name, "namespace", f.ns)
	}
	_, err = f.transition(ctx, []execution.State{execution.Starting}, execution.Running, func(x *execution.Execution) {
		now := f.now()
		if x.StartedAt == nil {
			x.StartedAt = &now
		}
		x.Namespace, x.Reason = f.ns, ""
	})
	return err
}

// waitStart holds a prepared execution until its booked start: the daemon
// claims it OC_SCHEDULERD_LEAD early so that its namespace, its rendering
// and its validation are done by then, but no step may run before the
// window its bookings hold. The Workflow is submitted at the start rather
// than submitted suspended (spec.suspend) and resumed then: Argo starts a
// Workflow's clock (startedAt, and the activeDeadlineSeconds that bounds
// it to the booked window) when it is created, suspended or not, so a
// suspended submission would take the lead out of the window; and the
// submission stays the one write that starts the run, whose name derives
// from the execution, so a worker taking over after another died (while
// waiting or after submitting) finds what was done and never submits
// twice. The execution is read again every Poll meanwhile: a cancel
// request, or another writer moving it, ends the wait with
// ErrStateChanged for the caller to act on the execution as it is.
func (f *follower) waitStart(ctx context.Context, e execution.Execution) error {
	left := e.Start.Sub(f.d.Now())
	if left <= 0 {
		return nil
	}
	f.log.Info("prepared; waiting for the booked start to submit the Argo Workflow", "start", e.Start, "in", left.Round(time.Millisecond))
	t := time.NewTimer(min(left, f.d.Poll))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		cur, err := f.d.Executions.Get(ctx, f.id)
		if err != nil {
			return err
		}
		if cur.State != execution.Starting || cur.CancelRequested {
			return fmt.Errorf("execution %s changed while waiting for its start (%s, cancel requested: %t): %w",
				f.id, cur.State, cur.CancelRequested, executions.ErrStateChanged)
		}
		left = cur.Start.Sub(f.d.Now())
		if left <= 0 {
			return nil
		}
		t.Reset(min(left, f.d.Poll))
	}
}

func notPrepared(ns string) string {
	return fmt.Sprintf("namespace %s not prepared: oc-datacenter must prepare it first", ns)
}

// prepared says what oc-datacenter has not made yet ("" when all is
// there); an error is the cluster's.
func (f *follower) prepared(ctx context.Context) (string, error) {
	ns, err := f.kube.CoreV1().Namespaces().Get(ctx, f.ns, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return notPrepared(f.ns), nil
	case err != nil:
		return "", fmt.Errorf("execution %s: get namespace %s: %w", f.id, f.ns, err)
	case ns.DeletionTimestamp != nil:
		return fmt.Sprintf("namespace %s is being deleted (released or swept): the execution cannot run in it", f.ns), nil
	}
	// The steps run as the workload account and Argo's executor as its own:
	// both must exist before anything is submitted.
	for _, sa := range []string{execution.WorkloadServiceAccount, execution.ExecutorServiceAccount} {
		_, err = f.kube.CoreV1().ServiceAccounts(f.ns).Get(ctx, sa, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return fmt.Sprintf("service account %s/%s not prepared: oc-datacenter must prepare it first", f.ns, sa), nil
		case err != nil:
			return "", fmt.Errorf("execution %s: get service account %s/%s: %w", f.id, f.ns, sa, err)
		}
	}
	return "", nil
}

// fail moves the execution from state from to failed.
func (f *follower) fail(ctx context.Context, from execution.State, reason, failedStep string) error {
	f.log.Info("execution failed", "reason", reason)
	_, err := f.transition(ctx, []execution.State{from}, execution.Failed, func(x *execution.Execution) {
		now := f.now()
		x.Reason, x.FailedStep, x.FinishedAt = reason, failedStep, &now
	})
	return err
}

// stop asks Argo to stop the Workflow: no new step starts, running ones
// are told to end, and the Workflow ends Failed ("Stopped").
func (f *follower) stop(ctx context.Context) error {
	_, err := f.wfs.Patch(ctx, f.name, types.MergePatchType, []byte(`{"spec":{"shutdown":"Stop"}}`), metav1.PatchOptions{})
	if err == nil {
		f.log.Info("stopping the Argo Workflow", "workflow", f.name)
	}
	return err
}

// run is the following of one running execution.
type run struct {
	*follower
	e       execution.Execution
	plan    plan
	stopped bool
}

// follow watches the Workflow of a running execution until it ends, then
// writes the execution's end. The watch is re-opened from the last version
// seen when it closes, and the Workflow listed again when that version has
// expired.
func (f *follower) follow(ctx context.Context, e execution.Execution) error {
	r := &run{follower: f, e: e}
	tick := time.NewTicker(f.d.Poll)
	defer tick.Stop()
	for {
		w, err := f.wfs.Get(ctx, f.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return r.lost(ctx)
		}
		if err != nil {
			return fmt.Errorf("execution %s: get Argo Workflow %s/%s: %w", f.id, f.ns, f.name, err)
		}
		r.plan = newPlan(e, w, f.d.PeerID)
		if done, err := r.observe(ctx, w); done || err != nil {
			return err
		}
		err = r.watch(ctx, w, tick.C)
		if errors.Is(err, errOver) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Ends of a watch: errRelist when the Workflow must be read again (its
// version expired, it was deleted), errOver when the execution is no
// longer running (ended here or elsewhere).
var (
	errRelist = errors.New("relist")
	errOver   = errors.New("over")
)

// watch follows w from its version: nil when the Workflow must be read
// again (expired version, deletion), errOver when the run is over.
func (r *run) watch(ctx context.Context, w *wfv1.Workflow, tick <-chan time.Time) error {
	rv := w.ResourceVersion
	for {
		wt, err := r.wfs.Watch(ctx, metav1.ListOptions{
			FieldSelector:       fields.OneTermEqualSelector("metadata.name", r.name).String(),
			ResourceVersion:     rv,
			AllowWatchBookmarks: true,
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
				return nil
			}
			return fmt.Errorf("execution %s: watch Argo Workflow %s/%s: %w", r.id, r.ns, r.name, err)
		}
		err = r.events(ctx, wt, &w, &rv, tick)
		wt.Stop()
		switch {
		case errors.Is(err, errRelist):
			return nil
		case err != nil:
			return err
		case r.e.State != execution.Running:
			return errOver
		}
		// The server closed the watch (its timeout): open it again.
	}
}

// events handles one watch's events until it closes (nil), the execution
// ends (its state no longer running), or an error.
func (r *run) events(ctx context.Context, wt watch.Interface, w **wfv1.Workflow, rv *string, tick <-chan time.Time) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick:
			if done, err := r.observe(ctx, *w); done || err != nil {
				return overOr(err)
			}
		case ev, ok := <-wt.ResultChan():
			if !ok {
				return nil
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				next, ok := ev.Object.(*wfv1.Workflow)
				if !ok {
					continue
				}
				*w, *rv = next, next.ResourceVersion
				if done, err := r.observe(ctx, next); done || err != nil {
					return overOr(err)
				}
			case watch.Bookmark:
				if m, err := metaOf(ev.Object); err == nil {
					*rv = m.GetResourceVersion()
				}
			case watch.Deleted:
				return errRelist
			case watch.Error:
				st := apierrors.FromObject(ev.Object)
				if !apierrors.IsGone(st) && !apierrors.IsResourceExpired(st) {
					r.log.Debug("watch error; listing again", "err", st)
				}
				return errRelist
			}
		}
	}
}

// overOr is err, or errOver when observe ended the run without error.
func overOr(err error) error {
	if err != nil {
		return err
	}
	return errOver
}

func metaOf(obj any) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, errors.New("no object metadata")
	}
	return m, nil
}

// observe reads the execution again and brings it up to date with w:
// steps written and announced, a requested cancel passed on to Argo, the
// execution's end written when w has ended. done is true when the run is
// over (the execution is no longer running).
func (r *run) observe(ctx context.Context, w *wfv1.Workflow) (bool, error) {
	e, err := r.d.Executions.Get(ctx, r.id)
	if err != nil {
		return false, err
	}
	r.e = e
	if e.State != execution.Running {
		r.endedElsewhere(ctx, w)
		return true, nil
	}
	r.logs().follow(r.plan, w)
	if _, changes := r.plan.observe(w.Status, e.Steps); len(changes) > 0 {
		if err := r.record(ctx, w); err != nil {
			return false, err
		}
		if r.e.State != execution.Running {
			r.endedElsewhere(ctx, w)
			return true, nil
		}
	}
	completed := w.Status.Phase.Completed()
	if r.e.CancelRequested && !completed && !r.stopped && w.Spec.Shutdown == "" {
		if err := r.stop(ctx); err != nil && !apierrors.IsNotFound(err) {
			return false, fmt.Errorf("execution %s: stop Argo Workflow %s/%s: %w", r.id, r.ns, r.name, err)
		}
		r.stopped = true
	}
	if !completed {
		return false, nil
	}
	return true, r.end(ctx, w)
}

// endedElsewhere stops the Workflow of an execution someone else ended
// (an operator): nothing should go on running for it.
func (r *run) endedElsewhere(ctx context.Context, w *wfv1.Workflow) {
	if !r.e.State.Terminal() || w.Status.Phase.Completed() {
		return
	}
	if err := r.stop(ctx); err != nil && !apierrors.IsNotFound(err) {
		r.log.Warn("could not stop the Argo Workflow of an execution ended elsewhere", "err", err)
	}
}

// record writes the steps as w shows them and announces what moved.
func (r *run) record(ctx context.Context, w *wfv1.Workflow) error {
	var changes []change
	e, err := r.update(ctx, []execution.State{execution.Running}, func(x *execution.Execution) {
		x.Steps, changes = r.plan.observe(w.Status, x.Steps)
	})
	if err != nil {
		if errors.Is(err, executions.ErrStateChanged) {
			r.e = e
			return nil
		}
		return err
	}
	r.e = e
	r.announce(ctx, changes, w)
	return nil
}

func (r *run) announce(ctx context.Context, changes []change, w *wfv1.Workflow) {
	for _, c := range changes {
		if !c.moved() {
			continue
		}
		r.log.Debug("step", "step", c.step.Node, "from", c.from, "to", c.step.State)
		r.publish(ctx, event.ExecutionState(r.id), execution.StateChange{ExecutionID: r.id, WorkflowID: r.e.WorkflowID,
			From: c.from, To: c.step.State, Reason: c.step.Message, Step: c.step.Node, At: r.now()})
	}
}

// logs is the following of the steps' logs, started on first use.
func (r *run) logs() *logs {
	if r.stepLogs == nil {
		r.stepLogs = r.newLogs(r.e.Owner)
	}
	return r.stepLogs
}

func (r *run) publish(ctx context.Context, subject string, data any) {
	if r.d.Publisher == nil {
		return
	}
	if err := r.d.Publisher.Publish(ctx, subject, r.id, r.e.Owner, data); err != nil {
		r.log.Warn("could not publish", "subject", subject, "err", err)
	}
}

// end writes the execution's end from the Workflow's: first the steps'
// last moves (announced before the execution's own end, so that a
// follower sees every step end before the execution does), then the end.
func (r *run) end(ctx context.Context, w *wfv1.Workflow) error {
	to, stepEnd, reason := execution.Failed, execution.Failed, ""
	switch {
	case w.Status.Phase == wfv1.WorkflowSucceeded:
		to = execution.Succeeded
	case r.e.CancelRequested:
		to, stepEnd, reason = execution.Cancelled, execution.Cancelled, "cancelled on request: the Argo Workflow was stopped"
	default:
		reason = fmt.Sprintf("the Argo Workflow ended %s: %s", w.Status.Phase, w.Status.Message)
	}
	if to == execution.Cancelled {
		r.killPods(ctx)
	}
	var changes []change
	_, err := r.update(ctx, []execution.State{execution.Running}, func(x *execution.Execution) {
		var ended []change
		x.Steps, changes = r.plan.observe(w.Status, x.Steps)
		x.Steps, ended = r.plan.finish(x.Steps, to, stepEnd, r.now(), "")
		changes = append(changes, ended...)
	})
	if err != nil {
		return err
	}
	r.announce(ctx, changes, w)
	// The steps' last lines come before the execution's end.
	r.logs().follow(r.plan, w)
	r.logs().drain(r.d.LogTimeout)
	x, err := r.transition(ctx, []execution.State{execution.Running}, to, func(x *execution.Execution) {
		now := r.now()
		x.Reason, x.FailedStep, x.FinishedAt = reason, "", &now
		if to == execution.Failed {
			if s, ok := r.plan.firstFailed(x.Steps); ok {
				x.FailedStep = s.Node
				x.Reason = fmt.Sprintf("step %q failed: %s", s.Node, s.Message)
			}
		}
	})
	if err != nil {
		return err
	}
	r.e = x
	r.log.Info("execution ended", "state", to, "reason", x.Reason, "failed_step", x.FailedStep)
	return nil
}

// killPods deletes the Workflow's pods still pending or running once Argo
// has stopped it: Argo asks their containers to end, which a container may
// ignore (and a fake node cannot do); a cancelled execution must hold
// nothing. A failure is logged: the execution is cancelled all the same.
func (r *run) killPods(ctx context.Context) {
	pods, err := r.kube.CoreV1().Pods(r.ns).List(ctx, metav1.ListOptions{LabelSelector: argoLabelWorkflow + "=" + r.name})
	if err != nil {
		r.log.Warn("could not list the pods of the stopped Workflow", "err", err)
		return
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || (p.Status.Phase != corev1.PodPending && p.Status.Phase != corev1.PodRunning) {
			continue
		}
		err := r.kube.CoreV1().Pods(r.ns).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			r.log.Warn("could not delete a pod of the stopped Workflow", "pod", p.Name, "err", err)
			continue
		}
		r.log.Info("deleted a pod still running after the stop", "pod", p.Name)
	}
}

// lost handles a Workflow that disappeared while the execution ran.
func (r *run) lost(ctx context.Context) error {
	e, err := r.d.Executions.Get(ctx, r.id)
	if err != nil {
		return err
	}
	r.logs().drain(r.d.LogTimeout)
	if e.CancelRequested {
		_, err := r.transition(ctx, []execution.State{execution.Running}, execution.Cancelled, func(x *execution.Execution) {
			now := r.now()
			x.Steps, _ = r.plan.finish(x.Steps, execution.Cancelled, execution.Cancelled, now, "")
			x.Reason = "cancelled on request: the Argo Workflow was deleted"
		})
		return err
	}
	_, err = r.transition(ctx, []execution.State{execution.Running}, execution.Failed, func(x *execution.Execution) {
		now := r.now()
		x.Steps, _ = r.plan.finish(x.Steps, execution.Failed, execution.Failed, now, "the Argo Workflow was deleted")
		x.Reason = fmt.Sprintf("the Argo Workflow %s/%s was deleted while the execution ran", r.ns, r.name)
	})
	return err
}
