package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	argo "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/testenv"
	wf "github.com/opencloud/opencloud/libs/workflow"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"

	"github.com/opencloud/opencloud/services/oc-monitord/internal/render"
	"github.com/opencloud/opencloud/services/oc-monitord/worker"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// kwok's annotations (tools/k8s/kwok/stages.yaml).
const (
	annotationFail   = "opencloud.io/fail"
	annotationRunFor = "opencloud.io/run-for"
)

// env is one test's world: the shared test cluster, a SQLite store, an
// embedded NATS on which the test listens to the execution's events.
type env struct {
	t     *testing.T
	ctx   context.Context
	kube  kubernetes.Interface
	argo  argo.Interface
	cfg   *rest.Config
	execs *executions.Store
	pub   *broker.Publisher
	nc    *nats.Conn
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := testenv.Cluster(t)
	t.Parallel()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, cfg: cfg}
	if e.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if e.argo, err = argo.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e.ctx = ctx
	ns, err := broker.StartEmbedded(broker.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	if e.nc, err = nats.Connect(ns.ClientURL()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.nc.Close)
	// One connection for the store's events and the worker's: NATS keeps
	// the order of what one connection publishes.
	e.pub = broker.NewPublisher(e.nc, "monitord")
	if e.execs, err = executions.Open(ctx, testenv.SQLiteStore(t), executions.WithEvents(e.pub)); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) deps(mutate func(*wfv1.Workflow)) worker.Deps {
	return worker.Deps{Logger: slog.New(slog.NewTextHandler(e.t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})), Executions: e.execs, Publisher: e.pub, Kube: e.cfg,
		PeerID: "local", Poll: 200 * time.Millisecond, LogTimeout: 3 * time.Second, Mutate: mutate}
}

// events records the execution's state events, in order.
type events struct {
	mu  sync.Mutex
	got []execution.StateChange
	sig chan struct{}
}

func (e *env) listen(id string) *events {
	e.t.Helper()
	ev := &events{sig: make(chan struct{}, 1)}
	// The execution's own subject: a follower of one execution hears no other's.
	sub, err := e.nc.Subscribe(event.ExecutionState(id), func(m *nats.Msg) {
		var env event.Envelope
		var ch execution.StateChange
		if json.Unmarshal(m.Data, &env) != nil || json.Unmarshal(env.Data, &ch) != nil || ch.ExecutionID != id {
			return
		}
		ev.mu.Lock()
		ev.got = append(ev.got, ch)
		ev.mu.Unlock()
		select {
		case ev.sig <- struct{}{}:
		default:
		}
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := e.nc.Flush(); err != nil {
		e.t.Fatal(err)
	}
	return ev
}

func (ev *events) list() []execution.StateChange {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return append([]execution.StateChange(nil), ev.got...)
}

// waitFor waits until an event matching ok arrived.
func (ev *events) waitFor(t *testing.T, ctx context.Context, what string, ok func(execution.StateChange) bool) {
	t.Helper()
	for {
		for _, ch := range ev.list() {
			if ok(ch) {
				return
			}
		}
		select {
		case <-ev.sig:
		case <-ctx.Done():
			t.Fatalf("no event %s; got %v", what, ev.list())
		}
	}
}

// execution is a 3-step workflow: a then b then c, and c also straight
// after a (a fans out to b and c), all on one compute.
func threeSteps() execution.Execution {
	now := executions.Stamp(time.Now())
	ref := func(id string) resource.Ref { return resource.Ref{Peer: "local", ID: id} }
	proc := func(id string, cpu int64) resource.Resource {
		return resource.Resource{ID: id, PeerID: "local", Kind: resource.KindProcessing,
			Processing: &resource.Processing{Image: "alpine:3", Command: []string{"/bin/sh", "-c", "echo " + id},
				Requests: resource.Requests{CPUMillicores: cpu, MemoryBytes: 64 << 20}}}
	}
	return execution.Execution{
		ID: uuid.NewString(), WorkflowID: uuid.NewString(), RequestID: uuid.NewString(), Name: "three steps", Owner: "alice",
		State: execution.Scheduled, Start: now, End: now.Add(10 * time.Minute), CreatedAt: now, UpdatedAt: now,
		Graph: wf.Graph{
			Nodes: []wf.Node{
				{ID: "a", Kind: resource.KindProcessing, Resource: ref("p-a")},
				{ID: "b", Kind: resource.KindProcessing, Resource: ref("p-b")},
				{ID: "c", Kind: resource.KindProcessing, Resource: ref("p-c")},
				{ID: "k8s", Kind: resource.KindCompute, Resource: ref("c-local")},
			},
			Links: []wf.Link{
				{ID: "l1", Kind: wf.LinkCompute, From: "a", To: "k8s"},
				{ID: "l2", Kind: wf.LinkCompute, From: "b", To: "k8s"},
				{ID: "l3", Kind: wf.LinkCompute, From: "c", To: "k8s"},
				{ID: "l4", Kind: wf.LinkDependency, From: "a", To: "b"},
				{ID: "l5", Kind: wf.LinkDependency, From: "b", To: "c"},
				{ID: "l6", Kind: wf.LinkDependency, From: "a", To: "c"},
			},
		},
		Resources: []resource.Resource{
			proc("p-a", 100), proc("p-b", 200), proc("p-c", 300),
			{ID: "c-local", PeerID: "local", Kind: resource.KindCompute, Compute: &resource.Compute{ClusterRef: "local", Architecture: "amd64"}},
		},
	}
}

// withBookedSteps lists x's steps as oc-scheduler books them: every
// processing scheduled, with its requests and compute.
func withBookedSteps(x execution.Execution) execution.Execution {
	req := map[string]resource.Requests{}
	for _, r := range x.Resources {
		if r.Processing != nil {
			req[r.ID] = r.Processing.Requests
		}
	}
	x.Steps = nil
	for _, n := range x.Graph.Nodes {
		if n.Kind == resource.KindProcessing {
			x.Steps = append(x.Steps, execution.Step{Node: n.ID, State: execution.Scheduled, Requests: req[n.Resource.ID],
				Compute: resource.Ref{Peer: "local", ID: "c-local"}})
		}
	}
	return x
}

// stepStates maps each step of x to its state.
func stepStates(x execution.Execution) map[string]execution.State {
	out := map[string]execution.State{}
	for _, s := range x.Steps {
		out[s.Node] = s.State
	}
	return out
}

// book stores x as scheduled and claims it, as oc-scheduler and the daemon do.
func (e *env) book(x execution.Execution) execution.Execution {
	e.t.Helper()
	if _, err := e.execs.Insert(e.ctx, x); err != nil {
		e.t.Fatal(err)
	}
	got, err := e.execs.Transition(e.ctx, x.ID, []execution.State{execution.Scheduled}, execution.Starting, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// prepare makes what oc-datacenter's provision makes for an execution:
// its namespace, the workload's and the executor's service accounts, the
// executor's token Secret, Role and RoleBinding.
func (e *env) prepare(x execution.Execution) {
	e.t.Helper()
	ns := execution.Namespace(x.ID)
	lbl := map[string]string{execution.LabelExecution: x.ID, execution.LabelWorkflow: x.WorkflowID, execution.LabelManaged: "opencloud"}
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: lbl} }
	const role = "oc-executor"
	_, err := e.kube.CoreV1().Namespaces().Create(e.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: lbl}}, metav1.CreateOptions{})
	noToken := false
	for _, sa := range []string{execution.WorkloadServiceAccount, execution.ExecutorServiceAccount} {
		if err == nil {
			_, err = e.kube.CoreV1().ServiceAccounts(ns).Create(e.ctx, &corev1.ServiceAccount{ObjectMeta: meta(sa), AutomountServiceAccountToken: &noToken}, metav1.CreateOptions{})
		}
	}
	if err == nil {
		token := meta(execution.ExecutorTokenSecret)
		token.Annotations = map[string]string{corev1.ServiceAccountNameKey: execution.ExecutorServiceAccount}
		_, err = e.kube.CoreV1().Secrets(ns).Create(e.ctx, &corev1.Secret{ObjectMeta: token, Type: corev1.SecretTypeServiceAccountToken}, metav1.CreateOptions{})
	}
	if err == nil {
		_, err = e.kube.RbacV1().Roles(ns).Create(e.ctx, &rbacv1.Role{ObjectMeta: meta(role), Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflowtaskresults"}, Verbs: []string{"create", "patch"}},
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "watch", "patch"}},
			{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
		}}, metav1.CreateOptions{})
	}
	if err == nil {
		_, err = e.kube.RbacV1().RoleBindings(ns).Create(e.ctx, &rbacv1.RoleBinding{ObjectMeta: meta(role),
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: execution.ExecutorServiceAccount, Namespace: ns}},
		}, metav1.CreateOptions{})
	}
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = e.kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
}

func (e *env) get(id string) execution.Execution {
	e.t.Helper()
	x, err := e.execs.Get(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return x
}

// workflows lists the Argo Workflows made for execution id.
func (e *env) workflows(id string) []wfv1.Workflow {
	e.t.Helper()
	list, err := e.argo.ArgoprojV1alpha1().Workflows(execution.Namespace(id)).List(e.ctx,
		metav1.ListOptions{LabelSelector: execution.LabelExecution + "=" + id})
	if err != nil {
		e.t.Fatal(err)
	}
	return list.Items
}

// annotate returns a Mutate setting an annotation on the pods of step node.
func annotate(node, key, value string) func(*wfv1.Workflow) {
	return func(w *wfv1.Workflow) {
		for i := range w.Spec.Templates {
			t := &w.Spec.Templates[i]
			if t.Metadata.Annotations[render.AnnotationNode] == node {
				t.Metadata.Annotations[key] = value
			}
		}
	}
}

// runState is the sequence of the execution's own state events.
func runStates(evs []execution.StateChange) string {
	var out []string
	for _, ch := range evs {
		if ch.Step == "" {
			out = append(out, string(ch.To))
		}
	}
	return strings.Join(out, " ")
}

// checkOrder checks that every step event falls between the execution's
// running and its end, and that no step announces the same state twice.
func checkOrder(t *testing.T, evs []execution.StateChange) {
	t.Helper()
	phase := 0 // 0 before running, 1 running, 2 ended
	seen := map[string]bool{}
	for _, ch := range evs {
		switch {
		case ch.Step == "" && ch.To == execution.Running:
			phase = 1
		case ch.Step == "" && ch.To.Terminal():
			phase = 2
		case ch.Step != "":
			if phase != 1 {
				t.Errorf("step event %s→%s of %s outside the running execution: %v", ch.From, ch.To, ch.Step, evs)
			}
			k := ch.Step + "/" + string(ch.To)
			if seen[k] {
				t.Errorf("step %s announced %s twice", ch.Step, ch.To)
			}
			seen[k] = true
		}
	}
}

func TestRunsToSuccess(t *testing.T) {
	e := newEnv(t)
	x := threeSteps()
	ev := e.listen(x.ID)
	e.prepare(x)
	e.book(x)
	began := time.Now()
	if err := worker.Follow(e.ctx, e.deps(nil), x.ID); err != nil {
		t.Fatal(err)
	}
	t.Logf("succeeded in %v", time.Since(began))
	got := e.get(x.ID)
	if got.State != execution.Succeeded || got.StartedAt == nil || got.FinishedAt == nil || got.Namespace != execution.Namespace(x.ID) {
		t.Fatalf("execution %s (%s) started %v finished %v ns %q", got.State, got.Reason, got.StartedAt, got.FinishedAt, got.Namespace)
	}
	wfs := e.workflows(x.ID)
	if len(wfs) != 1 || wfs[0].Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("%d Workflows, phase %v", len(wfs), wfs)
	}
	want := map[string]int64{"a": 100, "b": 200, "c": 300}
	if len(got.Steps) != 3 {
		t.Fatalf("steps %+v", got.Steps)
	}
	for i, s := range got.Steps {
		if s.Node != []string{"a", "b", "c"}[i] || s.State != execution.Succeeded || s.StartedAt == nil || s.FinishedAt == nil ||
			s.FinishedAt.Before(*s.StartedAt) || s.Requests.CPUMillicores != want[s.Node] || s.Compute != (resource.Ref{Peer: "local", ID: "c-local"}) {
			t.Errorf("step %d: %+v", i, s)
		}
	}
	// c waited for b, which waited for a.
	if !got.Steps[1].StartedAt.After(*got.Steps[0].StartedAt) || !got.Steps[2].StartedAt.After(*got.Steps[1].StartedAt) {
		t.Errorf("steps did not run in dependency order: %+v", got.Steps)
	}
	ev.waitFor(t, e.ctx, "succeeded", func(ch execution.StateChange) bool { return ch.Step == "" && ch.To == execution.Succeeded })
	evs := ev.list()
	if s := runStates(evs); s != "scheduled starting running succeeded" {
		t.Errorf("execution events %q", s)
	}
	checkOrder(t, evs)
	for _, step := range []string{"a", "b", "c"} {
		n := 0
		for _, ch := range evs {
			if ch.Step == step && ch.To == execution.Succeeded {
				n++
			}
		}
		if n != 1 {
			t.Errorf("step %s: %d succeeded events in %v", step, n, evs)
		}
	}
}

func TestFailingStep(t *testing.T) {
	e := newEnv(t)
	x := threeSteps()
	ev := e.listen(x.ID)
	e.prepare(x)
	e.book(x)
	began := time.Now()
	if err := worker.Follow(e.ctx, e.deps(annotate("b", annotationFail, "true")), x.ID); err != nil {
		t.Fatal(err)
	}
	t.Logf("failed in %v", time.Since(began))
	t.Logf("reason: %s", e.get(x.ID).Reason)
	got := e.get(x.ID)
	if got.State != execution.Failed || got.FailedStep != "b" || !strings.HasPrefix(got.Reason, `step "b" failed: `) {
		t.Fatalf("execution %s, failed step %q, reason %q", got.State, got.FailedStep, got.Reason)
	}
	// c, after b, never ran: skipped, although it was not listed yet.
	states := stepStates(got)
	if len(got.Steps) != 3 || states["a"] != execution.Succeeded || states["b"] != execution.Failed || states["c"] != execution.StepSkipped {
		t.Errorf("steps %+v", got.Steps)
	}
	if wfs := e.workflows(x.ID); len(wfs) != 1 || wfs[0].Status.Phase != wfv1.WorkflowFailed {
		t.Errorf("Workflows %v", wfs)
	}
	ev.waitFor(t, e.ctx, "failed", func(ch execution.StateChange) bool { return ch.Step == "" && ch.To == execution.Failed })
	if s := runStates(ev.list()); s != "scheduled starting running failed" {
		t.Errorf("execution events %q", s)
	}
	if !slices.ContainsFunc(ev.list(), func(ch execution.StateChange) bool { return ch.Step == "c" && ch.To == execution.StepSkipped }) {
		t.Errorf("no event of c skipped: %v", ev.list())
	}
	checkOrder(t, ev.list())
}

// TestFirstStepFails: the steps after a failed first step never run; they
// end skipped, in the store and on NATS, before the execution's end.
func TestFirstStepFails(t *testing.T) {
	e := newEnv(t)
	x := withBookedSteps(threeSteps())
	ev := e.listen(x.ID)
	e.prepare(x)
	e.book(x)
	if err := worker.Follow(e.ctx, e.deps(annotate("a", annotationFail, "true")), x.ID); err != nil {
		t.Fatal(err)
	}
	got := e.get(x.ID)
	if got.State != execution.Failed || got.FailedStep != "a" {
		t.Fatalf("execution %s, failed step %q, reason %q", got.State, got.FailedStep, got.Reason)
	}
	states := stepStates(got)
	if len(got.Steps) != 3 || states["a"] != execution.Failed || states["b"] != execution.StepSkipped || states["c"] != execution.StepSkipped {
		t.Errorf("steps %+v", got.Steps)
	}
	for _, s := range got.Steps[1:] {
		if s.FinishedAt == nil || s.StartedAt != nil || s.Requests.CPUMillicores == 0 {
			t.Errorf("skipped step %+v", s)
		}
	}
	ev.waitFor(t, e.ctx, "failed", func(ch execution.StateChange) bool { return ch.Step == "" && ch.To == execution.Failed })
	for _, step := range []string{"b", "c"} {
		if !slices.ContainsFunc(ev.list(), func(ch execution.StateChange) bool {
			return ch.Step == step && ch.From == execution.Scheduled && ch.To == execution.StepSkipped
		}) {
			t.Errorf("no event of %s skipped: %v", step, ev.list())
		}
	}
	checkOrder(t, ev.list())
}

func TestCancelWhileRunning(t *testing.T) {
	e := newEnv(t)
	x := threeSteps()
	ev := e.listen(x.ID)
	e.prepare(x)
	e.book(x)
	done := make(chan error, 1)
	go func() { done <- worker.Follow(e.ctx, e.deps(annotate("a", annotationRunFor, "5s")), x.ID) }()
	ev.waitFor(t, e.ctx, "a running", func(ch execution.StateChange) bool { return ch.Step == "a" && ch.To == execution.Running })
	began := time.Now()
	if _, err := e.execs.RequestCancel(e.ctx, x.ID); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("cancelled %v after the request", time.Since(began))
	got := e.get(x.ID)
	if got.State != execution.Cancelled || got.FinishedAt == nil {
		t.Fatalf("execution %s (%s)", got.State, got.Reason)
	}
	// a was stopped; b and c never ran and will not: every step is over.
	states := stepStates(got)
	if len(got.Steps) != 3 || !states["a"].Terminal() || states["b"] != execution.Cancelled || states["c"] != execution.Cancelled {
		t.Errorf("steps %+v", got.Steps)
	}
	for _, s := range got.Steps {
		if s.FinishedAt == nil {
			t.Errorf("step %+v", s)
		}
	}
	wfs := e.workflows(x.ID)
	if len(wfs) != 1 || wfs[0].Spec.Shutdown != wfv1.ShutdownStrategyStop || wfs[0].Status.Phase != wfv1.WorkflowFailed {
		t.Fatalf("Workflows %+v", wfs)
	}
	t.Logf("Argo: %s %q", wfs[0].Status.Phase, wfs[0].Status.Message)
	pods, err := e.kube.CoreV1().Pods(execution.Namespace(x.ID)).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		// Deleted (terminating) or ended: nothing holds the compute any more.
		if p.DeletionTimestamp == nil && (p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodPending) {
			t.Errorf("pod %s still %s", p.Name, p.Status.Phase)
		}
	}
	ev.waitFor(t, e.ctx, "cancelled", func(ch execution.StateChange) bool { return ch.Step == "" && ch.To == execution.Cancelled })
	if s := runStates(ev.list()); s != "scheduled starting running cancelled" {
		t.Errorf("execution events %q", s)
	}
	checkOrder(t, ev.list())
}

// TestReattach: a worker dies mid-run; the next finds the Workflow already
// submitted and finishes the execution, each step counted once.
func TestReattach(t *testing.T) {
	e := newEnv(t)
	x := threeSteps()
	ev := e.listen(x.ID)
	e.prepare(x)
	e.book(x)
	ctx, crash := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- worker.Follow(ctx, e.deps(annotate("b", annotationRunFor, "3s")), x.ID) }()
	ev.waitFor(t, e.ctx, "b running", func(ch execution.StateChange) bool { return ch.Step == "b" && ch.To == execution.Running })
	crash()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the crashed worker returned %v", err)
	}
	if got := e.get(x.ID); got.State != execution.Running {
		t.Fatalf("after the crash: %s", got.State)
	}
	// A second worker, as the daemon starts after a restart; Mutate would
	// make c fail, but a re-attach submits nothing.
	if err := worker.Follow(e.ctx, e.deps(annotate("c", annotationFail, "true")), x.ID); err != nil {
		t.Fatal(err)
	}
	got := e.get(x.ID)
	if got.State != execution.Succeeded || len(got.Steps) != 3 {
		t.Fatalf("execution %s (%s), steps %+v", got.State, got.Reason, got.Steps)
	}
	seen := map[string]bool{}
	for _, s := range got.Steps {
		if seen[s.Node] || s.State != execution.Succeeded {
			t.Errorf("step %+v (seen before: %v)", s, seen[s.Node])
		}
		seen[s.Node] = true
	}
	if wfs := e.workflows(x.ID); len(wfs) != 1 || wfs[0].Status.Phase != wfv1.WorkflowSucceeded {
		t.Errorf("%d Workflows: %v", len(wfs), wfs)
	}
	ev.waitFor(t, e.ctx, "succeeded", func(ch execution.StateChange) bool { return ch.Step == "" && ch.To == execution.Succeeded })
	if s := runStates(ev.list()); s != "scheduled starting running succeeded" {
		t.Errorf("execution events %q", s)
	}
	checkOrder(t, ev.list())
	// A third worker on the ended execution has nothing to do.
	if err := worker.Follow(e.ctx, e.deps(nil), x.ID); err != nil {
		t.Errorf("on an ended execution: %v", err)
	}
}

func TestCannotStart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare bool
		edit    func(*execution.Execution)
		reason  string
	}{
		{"render", true, func(x *execution.Execution) { x.Graph.Links = x.Graph.Links[1:] }, `node "a": processing has no compute`},
		{"not prepared", false, nil, "not prepared: oc-datacenter must prepare it first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			x := threeSteps()
			if tc.edit != nil {
				tc.edit(&x)
			}
			if tc.prepare {
				e.prepare(x)
			}
			e.book(x)
			if err := worker.Follow(e.ctx, e.deps(nil), x.ID); err != nil {
				t.Fatal(err)
			}
			got := e.get(x.ID)
			if got.State != execution.Failed || !strings.Contains(got.Reason, tc.reason) || got.FinishedAt == nil {
				t.Errorf("execution %s, reason %q; want failed, %q", got.State, got.Reason, tc.reason)
			}
			if tc.prepare {
				if wfs := e.workflows(x.ID); len(wfs) != 0 {
					t.Errorf("%d Workflows submitted", len(wfs))
				}
			}
		})
	}
}

// TestStates: a scheduled execution is not the worker's; a cancel asked
// while starting ends it without submitting anything.
func TestStates(t *testing.T) {
	e := newEnv(t)
	x := withBookedSteps(threeSteps())
	if _, err := e.execs.Insert(e.ctx, x); err != nil {
		t.Fatal(err)
	}
	if err := worker.Follow(e.ctx, e.deps(nil), x.ID); !errors.Is(err, worker.ErrNotClaimed) {
		t.Fatalf("scheduled: %v", err)
	}
	if _, err := e.execs.Transition(e.ctx, x.ID, []execution.State{execution.Scheduled}, execution.Starting, nil); err != nil {
		t.Fatal(err)
	}
	e.prepare(x)
	if _, err := e.execs.RequestCancel(e.ctx, x.ID); err != nil {
		t.Fatal(err)
	}
	if err := worker.Follow(e.ctx, e.deps(nil), x.ID); err != nil {
		t.Fatal(err)
	}
	got := e.get(x.ID)
	if got.State != execution.Cancelled {
		t.Errorf("cancelled while starting: %s", got.State)
	}
	for _, s := range got.Steps {
		if s.State != execution.Cancelled || s.FinishedAt == nil {
			t.Errorf("step of an execution cancelled before it started: %+v", s)
		}
	}
	if wfs := e.workflows(x.ID); len(wfs) != 0 {
		t.Errorf("%d Workflows submitted", len(wfs))
	}
	if err := worker.Follow(e.ctx, e.deps(nil), "nope"); !errors.Is(err, executions.ErrNotFound) {
		t.Errorf("unknown execution: %v", err)
	}
}

// TestReattachWhileStarting: a worker died after submitting the Workflow
// but before writing running; the next one follows that Workflow.
func TestReattachWhileStarting(t *testing.T) {
	e := newEnv(t)
	x := threeSteps()
	e.prepare(x)
	x = e.book(x)
	w, err := render.Render(x, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.argo.ArgoprojV1alpha1().Workflows(w.Namespace).Create(e.ctx, w, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Were it submitted again, a would fail.
	if err := worker.Follow(e.ctx, e.deps(annotate("a", annotationFail, "true")), x.ID); err != nil {
		t.Fatal(err)
	}
	if got := e.get(x.ID); got.State != execution.Succeeded || len(got.Steps) != 3 {
		t.Fatalf("execution %s (%s), steps %+v", got.State, got.Reason, got.Steps)
	}
	if wfs := e.workflows(x.ID); len(wfs) != 1 {
		t.Errorf("%d Workflows", len(wfs))
	}
}

// TestLeaseKeepsASecondWorkerOut: while a worker follows an execution, a
// second one (another daemon's) is refused; a worker whose lease is taken
// over stops; one stopping cleanly releases the lease, so the next takes
// the execution at once and follows it to its end.
func TestLeaseKeepsASecondWorkerOut(t *testing.T) {
	e := newEnv(t)
	x := threeSteps()
	ev := e.listen(x.ID)
	e.prepare(x)
	e.book(x)
	first := e.deps(annotate("b", annotationRunFor, "4s"))
	first.Worker, first.LeaseTTL = "daemon-1/w1", 900*time.Millisecond
	ctx, stop := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- worker.Follow(ctx, first, x.ID) }()
	ev.waitFor(t, e.ctx, "b running", func(ch execution.StateChange) bool { return ch.Step == "b" && ch.To == execution.Running })

	// Held (and renewed past its first TTL): a second worker is refused.
	time.Sleep(time.Second)
	second := e.deps(nil)
	second.Worker = "daemon-2/w1"
	if err := worker.Follow(e.ctx, second, x.ID); !errors.Is(err, executions.ErrLeaseHeld) {
		t.Fatalf("a second worker while the first lives: %v", err)
	}
	if got := e.get(x.ID); got.Worker != "daemon-1/w1" || got.Attempts != 1 {
		t.Fatalf("held by %q after %d attempts", got.Worker, got.Attempts)
	}
	// The first stops cleanly: its lease is released at once.
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the stopped worker returned %v", err)
	}
	if got := e.get(x.ID); got.WorkerUntil == nil || got.WorkerUntil.After(time.Now()) {
		t.Fatalf("lease not released: until %v", got.WorkerUntil)
	}
	if err := worker.Follow(e.ctx, second, x.ID); err != nil {
		t.Fatal(err)
	}
	got := e.get(x.ID)
	if got.State != execution.Succeeded || got.Worker != "daemon-2/w1" || got.Attempts != 2 {
		t.Fatalf("execution %s by %q after %d attempts", got.State, got.Worker, got.Attempts)
	}
	if wfs := e.workflows(x.ID); len(wfs) != 1 {
		t.Errorf("%d Workflows", len(wfs))
	}
}

// TestLeaseTakenOver: a worker whose lease another took (it stalled past
// its lease) stops following the execution.
func TestLeaseTakenOver(t *testing.T) {
	e := newEnv(t)
	x := threeSteps()
	ev := e.listen(x.ID)
	e.prepare(x)
	e.book(x)
	first := e.deps(annotate("a", annotationRunFor, "5s"))
	first.Worker, first.LeaseTTL = "daemon-1/w1", 900*time.Millisecond
	done := make(chan error, 1)
	go func() { done <- worker.Follow(e.ctx, first, x.ID) }()
	ev.waitFor(t, e.ctx, "a running", func(ch execution.StateChange) bool { return ch.Step == "a" && ch.To == execution.Running })
	// As if its renewals had stopped: the lease is given to another.
	if err := e.execs.Release(e.ctx, x.ID, "daemon-1/w1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.execs.Acquire(e.ctx, x.ID, "daemon-2/w1", time.Now().Add(time.Minute), time.Now()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, executions.ErrLeaseLost) {
			t.Fatalf("the worker whose lease was taken returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the worker whose lease was taken goes on")
	}
	if got := e.get(x.ID); got.State != execution.Running || got.Worker != "daemon-2/w1" {
		t.Fatalf("%s held by %q", got.State, got.Worker)
	}
}

// TestSubmitsAtTheBookedStart: claimed and prepared before its window, an
// execution's Workflow is not submitted, and no step starts, before the
// booked start.
func TestSubmitsAtTheBookedStart(t *testing.T) {
	e := newEnv(t)
	x := threeSteps()
	// Whole seconds: Kubernetes times have no finer grain.
	x.Start = time.Now().Add(5 * time.Second).Truncate(time.Second)
	x.End = x.Start.Add(10 * time.Minute)
	e.prepare(x)
	e.book(x)
	claimed := time.Now()
	if err := worker.Follow(e.ctx, e.deps(nil), x.ID); err != nil {
		t.Fatal(err)
	}
	got := e.get(x.ID)
	if got.State != execution.Succeeded || got.StartedAt == nil || got.StartedAt.Before(x.Start) {
		t.Fatalf("execution %s (%s), started %v; booked start %v", got.State, got.Reason, got.StartedAt, x.Start)
	}
	wfs := e.workflows(x.ID)
	if len(wfs) != 1 {
		t.Fatalf("%d Workflows", len(wfs))
	}
	created := wfs[0].CreationTimestamp.Time
	t.Logf("claimed %v before the start; Workflow created %v after it", x.Start.Sub(claimed).Round(time.Millisecond), created.Sub(x.Start))
	if created.Before(x.Start) {
		t.Errorf("Workflow created at %v, before the booked start %v", created, x.Start)
	}
	for _, s := range got.Steps {
		if s.StartedAt == nil || s.StartedAt.Before(x.Start) {
			t.Errorf("step %s started at %v, before the booked start %v", s.Node, s.StartedAt, x.Start)
		}
	}
}

// TestWaitingForTheStart: a worker waiting for the booked start holds the
// execution; one taking over after it died waits in turn and submits
// once; a cancel while waiting ends the execution with nothing submitted.
func TestWaitingForTheStart(t *testing.T) {
	e := newEnv(t)
	x := withBookedSteps(threeSteps())
	x.Start = time.Now().Add(time.Hour)
	x.End = x.Start.Add(10 * time.Minute)
	e.prepare(x)
	e.book(x)
	ctx, crash := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- worker.Follow(ctx, e.deps(nil), x.ID) }()
	time.Sleep(time.Second)
	crash()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the crashed worker returned %v", err)
	}
	go func() { done <- worker.Follow(e.ctx, e.deps(nil), x.ID) }()
	time.Sleep(time.Second)
	if got := e.get(x.ID); got.State != execution.Starting {
		t.Fatalf("while waiting: %s", got.State)
	}
	if wfs := e.workflows(x.ID); len(wfs) != 0 {
		t.Fatalf("%d Workflows submitted an hour before the start", len(wfs))
	}
	asked := time.Now()
	if _, err := e.execs.RequestCancel(e.ctx, x.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting worker did not see the cancel")
	}
	t.Logf("cancelled %v after the request", time.Since(asked).Round(time.Millisecond))
	got := e.get(x.ID)
	if got.State != execution.Cancelled {
		t.Fatalf("execution %s (%s)", got.State, got.Reason)
	}
	for _, s := range got.Steps {
		if s.State != execution.Cancelled {
			t.Errorf("step %+v", s)
		}
	}
	if wfs := e.workflows(x.ID); len(wfs) != 0 {
		t.Errorf("%d Workflows submitted", len(wfs))
	}
}
