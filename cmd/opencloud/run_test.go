package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	argo "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/testenv"
	"github.com/opencloud/opencloud/libs/workflow"
	authclient "github.com/opencloud/opencloud/services/oc-auth/client"
)

// TestRunAWorkflow is the end to end: on the project's test
// cluster, through the whole peer's REST API, three 3-step workflows are
// booked in the seed's request shape a few seconds ahead. The first goes
// scheduled → starting → running → succeeded, as its live stream shows,
// with an Argo Workflow that really reached Succeeded; the second has a
// step made to fail and ends failed with that step named; the third is
// cancelled while it runs and its Argo Workflow is stopped.
func TestRunAWorkflow(t *testing.T) {
	cluster := testenv.Cluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p := startPeerEnv(t, t.TempDir(), "127.0.0.1:0", map[string]string{"OC_KUBECONFIG": cluster.Kubeconfig})
	admin := authclient.New(p.base, apiclient.StaticToken(p.login(t, "admin", adminPassword)), nil)
	alice := p.designer(t, admin, "alice")

	kcfg, err := clientcmd.BuildConfigFromFlags("", cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	argoc, kube := argo.NewForConfigOrDie(kcfg), kubernetes.NewForConfigOrDie(kcfg)

	create := func(in resource.Input) resource.Ref {
		t.Helper()
		r, err := alice.catalog.Create(ctx, in)
		if err != nil {
			t.Fatalf("create %s: %v", in.Name, err)
		}
		return resource.Ref{Peer: r.PeerID, ID: r.ID}
	}
	step := func(name string, annotations []resource.Label) resource.Ref {
		return create(resource.Input{Kind: resource.KindProcessing, Name: name, Processing: &resource.Processing{
			Image: "busybox:1.36", Command: []string{"sh", "-c", "echo " + name}, OpenSource: true,
			Requests: resource.Requests{CPUMillicores: 100, MemoryBytes: 64 << 20}, Annotations: annotations}})
	}
	// One node each, so that the three runs do not wait for one another.
	compute := func(node string) resource.Ref {
		return create(resource.Input{Kind: resource.KindCompute, Name: node, Compute: &resource.Compute{
			ClusterRef: "local", Architecture: "amd64", CPUCores: 8, MemoryBytes: 32 << 30,
			NodeSelector: []resource.Label{{Key: "node.opencloud.io/name", Value: node}}}})
	}
	threeSteps := func(name string, b resource.Ref, k8s resource.Ref) string {
		t.Helper()
		a, c := step(name+"-a", nil), step(name+"-c", nil)
		w, err := alice.workflows.Create(ctx, workflow.Input{Name: name, Graph: workflow.Graph{
			Nodes: []workflow.Node{
				{ID: "a", Kind: resource.KindProcessing, Resource: a}, {ID: "b", Kind: resource.KindProcessing, Resource: b},
				{ID: "c", Kind: resource.KindProcessing, Resource: c}, {ID: "k8s", Kind: resource.KindCompute, Resource: k8s}},
			Links: []workflow.Link{
				{ID: "ab", Kind: workflow.LinkDependency, From: "a", To: "b"}, {ID: "bc", Kind: workflow.LinkDependency, From: "b", To: "c"},
				{ID: "ak", Kind: workflow.LinkCompute, From: "a", To: "k8s"}, {ID: "bk", Kind: workflow.LinkCompute, From: "b", To: "k8s"},
				{ID: "ck", Kind: workflow.LinkCompute, From: "c", To: "k8s"}},
		}})
		if err != nil {
			t.Fatalf("create workflow %s: %v", name, err)
		}
		return w.ID
	}
	okFlow := threeSteps("ndvi", step("ndvi-b", nil), compute("node-1"))
	failFlow := threeSteps("broken", step("broken-b", []resource.Label{{Key: "opencloud.io/fail", Value: "true"}}), compute("node-2"))
	longFlow := threeSteps("long", step("long-b", []resource.Label{{Key: "opencloud.io/run-for", Value: "60s"}}), compute("node-1"))

	book := func(workflowID string, in time.Duration, seconds int) execution.Execution {
		t.Helper()
		return bookOnce(t, ctx, alice, workflowID, in, time.Minute, seconds)
	}
	okRun := book(okFlow, 4*time.Second, 20)
	live, err := alice.scheduler.Live(ctx, okRun.ID)
	if err != nil {
		t.Fatal(err)
	}
	failRun := book(failFlow, 4*time.Second, 20)
	longRun := book(longFlow, 4*time.Second+30*time.Second, 60) // after okRun's window on node-1

	// The live stream of the first: the execution's states in order, and
	// each step's.
	var states []execution.State
	steps := map[string][]execution.State{}
	for m := range live {
		if m.Event != "state" {
			continue
		}
		ch := decodeState(t, m)
		if ch.Step != "" {
			steps[ch.Step] = append(steps[ch.Step], ch.To)
			continue
		}
		states = append(states, ch.To)
	}
	if want := []execution.State{execution.Scheduled, execution.Starting, execution.Running, execution.Succeeded}; !slices.Equal(states, want) {
		t.Fatalf("live states %v, want %v", states, want)
	}
	for _, s := range []string{"a", "b", "c"} {
		if got := steps[s]; len(got) == 0 || got[len(got)-1] != execution.Succeeded {
			t.Errorf("step %s: %v", s, got)
		}
	}
	got, err := alice.scheduler.Get(ctx, okRun.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != execution.Succeeded || got.StartedAt == nil || got.StartedAt.Before(okRun.Start.Add(-3*time.Second)) || len(got.Steps) != 3 {
		t.Fatalf("execution %s started %v (booked %v), %d steps", got.State, got.StartedAt, okRun.Start, len(got.Steps))
	}
	for _, s := range got.Steps {
		if s.State != execution.Succeeded || s.StartedAt == nil || s.FinishedAt == nil || s.Requests.CPUMillicores != 100 {
			t.Errorf("step %+v", s)
		}
	}
	wf, err := argoc.ArgoprojV1alpha1().Workflows(execution.Namespace(okRun.ID)).Get(ctx, execution.WorkflowName(okRun.ID), metav1.GetOptions{})
	if err != nil || wf.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("Argo Workflow: %v %v", err, wf.Status.Phase)
	}
	for _, n := range wf.Status.Nodes {
		if n.Type == wfv1.NodeTypePod && n.Phase != wfv1.NodeSucceeded {
			t.Errorf("Argo node %s %s", n.DisplayName, n.Phase)
		}
	}

	// The failing step.
	failed := waitState(t, ctx, alice, failRun.ID, execution.Failed)
	if failed.FailedStep != "b" || failed.Reason == "" {
		t.Errorf("failed execution: step %q, reason %q", failed.FailedStep, failed.Reason)
	}
	for _, s := range failed.Steps {
		want := map[string]execution.State{"a": execution.Succeeded, "b": execution.Failed}[s.Node]
		if want != "" && s.State != want {
			t.Errorf("step %s %s, want %s", s.Node, s.State, want)
		}
	}
	if wf, err := argoc.ArgoprojV1alpha1().Workflows(execution.Namespace(failRun.ID)).Get(ctx, execution.WorkflowName(failRun.ID), metav1.GetOptions{}); err != nil || wf.Status.Phase != wfv1.WorkflowFailed {
		t.Errorf("failed run's Argo Workflow: %v %v", err, wf.Status.Phase)
	}

	// Cancel while running: once b runs, the cancel stops the Argo Workflow.
	deadline := time.Now().Add(90 * time.Second)
	for {
		x, err := alice.scheduler.Get(ctx, longRun.ID)
		if err != nil {
			t.Fatal(err)
		}
		if x.State == execution.Running && slices.ContainsFunc(x.Steps, func(s execution.Step) bool { return s.Node == "b" && s.State == execution.Running }) {
			break
		}
		if x.State.Terminal() || time.Now().After(deadline) {
			t.Fatalf("the long run is %s (%s) with steps %+v", x.State, x.Reason, x.Steps)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := alice.scheduler.Cancel(ctx, longRun.ID); err != nil {
		t.Fatal(err)
	}
	cancelled := waitState(t, ctx, alice, longRun.ID, execution.Cancelled)
	if cancelled.Reason == "" {
		t.Error("no reason for the cancel")
	}
	wf, err = argoc.ArgoprojV1alpha1().Workflows(execution.Namespace(longRun.ID)).Get(ctx, execution.WorkflowName(longRun.ID), metav1.GetOptions{})
	if err != nil || wf.Spec.Shutdown != wfv1.ShutdownStrategyStop || !wf.Status.Phase.Completed() {
		t.Fatalf("cancelled run's Argo Workflow: %v shutdown %q phase %s", err, wf.Spec.Shutdown, wf.Status.Phase)
	}
	pods, err := kube.CoreV1().Pods(execution.Namespace(longRun.ID)).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, pod := range pods.Items {
		if pod.DeletionTimestamp == nil && pod.Status.Phase == corev1.PodRunning {
			t.Errorf("pod %s still running after the cancel", pod.Name)
		}
	}
}

// bookOnce books one run of a workflow in the seed's request shape: a cron
// with seconds firing once, in from now, within a window of the given
// length, each run holding its resources for seconds.
func bookOnce(t *testing.T, ctx context.Context, d designer, workflowID string, in, window time.Duration, seconds int) execution.Execution {
	t.Helper()
	at := time.Now().UTC().Add(in).Truncate(time.Second)
	end := at.Add(window)
	plan, err := d.scheduler.Book(ctx, workflowID, execution.Request{
		Cron: fmt.Sprintf("%d %d %d %d %d *", at.Second(), at.Minute(), at.Hour(), at.Day(), int(at.Month())),
		Mode: execution.Planned, Start: at, End: &end, DurationSeconds: int64(seconds)})
	if err != nil {
		t.Fatalf("book %s: %v", workflowID, err)
	}
	if len(plan.Executions) != 1 {
		t.Fatalf("booked %d executions", len(plan.Executions))
	}
	return plan.Executions[0]
}

func decodeState(t *testing.T, m execution.Live) execution.StateChange {
	t.Helper()
	var ch execution.StateChange
	if err := json.Unmarshal(m.Data, &ch); err != nil {
		t.Fatalf("live message %s: %v", m.Data, err)
	}
	return ch
}

// waitState polls an execution until it is in want (failing on another
// terminal state).
func waitState(t *testing.T, ctx context.Context, d designer, id string, want execution.State) execution.Execution {
	t.Helper()
	for {
		x, err := d.scheduler.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if x.State == want {
			return x
		}
		if x.State.Terminal() {
			t.Fatalf("execution %s is %s (%s), want %s", id, x.State, x.Reason, want)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("execution %s still %s (%s), want %s", id, x.State, x.Reason, want)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
