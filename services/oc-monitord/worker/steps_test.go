package worker

import (
	"slices"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"

	"github.com/opencloud/opencloud/services/oc-monitord/internal/render"
)

var t0 = time.Date(2026, 11, 21, 14, 30, 0, 0, time.UTC)

func at(s int) *time.Time {
	t := t0.Add(time.Duration(s) * time.Second)
	return &t
}

func testPlan() plan {
	e := execution.Execution{
		Graph: wf.Graph{
			Nodes: []wf.Node{
				{ID: "fetch", Kind: resource.KindProcessing, Resource: resource.Ref{ID: "p1"}},
				{ID: "ndvi.v2", Kind: resource.KindProcessing, Resource: resource.Ref{Peer: "local", ID: "p2"}},
				{ID: "k", Kind: resource.KindCompute, Resource: resource.Ref{ID: "c1"}},
			},
			Links: []wf.Link{
				{ID: "l1", Kind: wf.LinkCompute, From: "fetch", To: "k"},
				{ID: "l2", Kind: wf.LinkCompute, From: "ndvi.v2", To: "k"},
				{ID: "l3", Kind: wf.LinkDependency, From: "fetch", To: "ndvi.v2"},
			},
		},
		Resources: []resource.Resource{
			{ID: "p1", PeerID: "local", Kind: resource.KindProcessing, Processing: &resource.Processing{Requests: resource.Requests{CPUMillicores: 500}}},
			{ID: "p2", Kind: resource.KindProcessing, Processing: &resource.Processing{Requests: resource.Requests{GPUs: 1}}},
		},
	}
	w := &wfv1.Workflow{Spec: wfv1.WorkflowSpec{Templates: []wfv1.Template{
		{Name: "main"},
		{Name: "fetch", Metadata: wfv1.Metadata{Annotations: map[string]string{render.AnnotationNode: "fetch"}}},
		{Name: "ndvi-v2", Metadata: wfv1.Metadata{Annotations: map[string]string{render.AnnotationNode: "ndvi.v2"}}},
	}}}
	return newPlan(e, w, "local")
}

func pod(id, tmpl string, phase wfv1.NodePhase, started, finished int, msg string) wfv1.NodeStatus {
	n := wfv1.NodeStatus{ID: id, Type: wfv1.NodeTypePod, TemplateName: tmpl, Phase: phase, Message: msg}
	if started >= 0 {
		n.StartedAt = metav1.NewTime(*at(started))
	}
	if finished >= 0 {
		n.FinishedAt = metav1.NewTime(*at(finished))
	}
	return n
}

func status(nodes ...wfv1.NodeStatus) wfv1.WorkflowStatus {
	s := wfv1.WorkflowStatus{Nodes: wfv1.Nodes{}}
	for _, n := range nodes {
		s.Nodes[n.ID] = n
	}
	return s
}

func TestObserve(t *testing.T) {
	p := testPlan()
	compute := resource.Ref{Peer: "local", ID: "c1"}
	fetch := func(st execution.State, start, end *time.Time, msg string) execution.Step {
		return execution.Step{Node: "fetch", State: st, StartedAt: start, FinishedAt: end, Message: msg,
			Requests: resource.Requests{CPUMillicores: 500}, Compute: compute}
	}
	ndvi := func(st execution.State, start, end *time.Time, msg string) execution.Step {
		return execution.Step{Node: "ndvi.v2", State: st, StartedAt: start, FinishedAt: end, Message: msg,
			Requests: resource.Requests{GPUs: 1}, Compute: compute}
	}
	for _, tc := range []struct {
		name   string
		status wfv1.WorkflowStatus
		prev   []execution.Step
		want   []execution.Step
		moved  []string // step:from>to of the changes that are events
	}{
		{name: "nothing yet", status: status(), want: nil},
		{name: "dag and skipped nodes are not steps",
			status: status(
				wfv1.NodeStatus{ID: "w", Type: wfv1.NodeTypeDAG, TemplateName: "main", Phase: wfv1.NodeRunning},
				wfv1.NodeStatus{ID: "s", Type: wfv1.NodeTypeSkipped, TemplateName: "ndvi-v2", Phase: wfv1.NodeOmitted},
				pod("x", "unknown", wfv1.NodeRunning, 0, -1, ""))},
		{name: "a step booked as scheduled starts",
			status: status(pod("n1", "fetch", wfv1.NodeRunning, 1, -1, "")),
			prev:   []execution.Step{fetch(execution.Scheduled, nil, nil, "")},
			want:   []execution.Step{fetch(execution.Running, at(1), nil, "")},
			moved:  []string{"fetch:scheduled>running"}},
		{name: "pending has no times",
			status: status(pod("n1", "fetch", wfv1.NodePending, 0, -1, "ContainerCreating")),
			want:   []execution.Step{fetch(StepPending, nil, nil, "ContainerCreating")},
			moved:  []string{"fetch:>pending"}},
		{name: "running",
			status: status(pod("n1", "fetch", wfv1.NodeRunning, 1, -1, "")),
			prev:   []execution.Step{fetch(StepPending, nil, nil, "ContainerCreating")},
			want:   []execution.Step{fetch(execution.Running, at(1), nil, "")},
			moved:  []string{"fetch:pending>running"}},
		{name: "succeeded then the next one pending, in graph order",
			status: status(pod("n2", "ndvi-v2", wfv1.NodePending, 3, -1, ""), pod("n1", "fetch", wfv1.NodeSucceeded, 1, 3, "")),
			prev:   []execution.Step{fetch(execution.Running, at(1), nil, "")},
			want:   []execution.Step{fetch(execution.Succeeded, at(1), at(3), ""), ndvi(StepPending, nil, nil, "")},
			moved:  []string{"fetch:running>succeeded", "ndvi.v2:>pending"}},
		{name: "failed and error are failed",
			status: status(pod("n1", "fetch", wfv1.NodeFailed, 1, 2, "Error (exit code 1)"), pod("n2", "ndvi-v2", wfv1.NodeError, 1, 2, "pod deleted")),
			want:   []execution.Step{fetch(execution.Failed, at(1), at(2), "Error (exit code 1)"), ndvi(execution.Failed, at(1), at(2), "pod deleted")},
			moved:  []string{"fetch:>failed", "ndvi.v2:>failed"}},
		{name: "never back from an end",
			status: status(pod("n1", "fetch", wfv1.NodeRunning, 1, -1, "")),
			prev:   []execution.Step{fetch(execution.Succeeded, at(1), at(3), "")},
			want:   []execution.Step{fetch(execution.Succeeded, at(1), at(3), "")}},
		{name: "never back to pending",
			status: status(pod("n1", "fetch", wfv1.NodePending, 0, -1, "")),
			prev:   []execution.Step{fetch(execution.Running, at(1), nil, "")},
			want:   []execution.Step{fetch(execution.Running, at(1), nil, "")}},
		{name: "a new message is written, not announced",
			status: status(pod("n1", "fetch", wfv1.NodePending, 0, -1, "Unschedulable")),
			prev:   []execution.Step{fetch(StepPending, nil, nil, "")},
			want:   []execution.Step{fetch(StepPending, nil, nil, "Unschedulable")},
			moved:  []string{}},
		{name: "a retried step is its newest attempt",
			status: status(pod("n1", "fetch", wfv1.NodeFailed, 1, 2, "first"), pod("n3", "fetch", wfv1.NodeRunning, 5, -1, "")),
			want:   []execution.Step{fetch(execution.Running, at(5), nil, "")},
			moved:  []string{"fetch:>running"}},
		{name: "unchanged is no change",
			status: status(pod("n1", "fetch", wfv1.NodeSucceeded, 1, 3, "")),
			prev:   []execution.Step{fetch(execution.Succeeded, at(1), at(3), "")},
			want:   []execution.Step{fetch(execution.Succeeded, at(1), at(3), "")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changes := p.observe(tc.status, tc.prev)
			if len(got) != len(tc.want) {
				t.Fatalf("steps %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if !sameStep(got[i], tc.want[i]) || got[i].Node != tc.want[i].Node || got[i].Requests != tc.want[i].Requests || got[i].Compute != tc.want[i].Compute {
					t.Errorf("step %d: %+v, want %+v", i, got[i], tc.want[i])
				}
			}
			var moved []string
			for _, c := range changes {
				if c.moved() {
					moved = append(moved, c.step.Node+":"+string(c.from)+">"+string(c.step.State))
				}
			}
			if len(moved) != len(tc.moved) {
				t.Fatalf("moves %v, want %v", moved, tc.moved)
			}
			for i := range moved {
				if moved[i] != tc.moved[i] {
					t.Errorf("moves %v, want %v", moved, tc.moved)
				}
			}
		})
	}
}

func TestFinishAndFirstFailed(t *testing.T) {
	p := testPlan()
	steps := []execution.Step{
		{Node: "fetch", State: execution.Failed, FinishedAt: at(5), Message: "late"},
		{Node: "ndvi.v2", State: execution.Running, StartedAt: at(1)},
	}
	got, changes := p.finish(steps, execution.Cancelled, execution.Cancelled, *at(9), "")
	if got[0].State != execution.Failed || got[1].State != execution.Cancelled || !got[1].FinishedAt.Equal(*at(9)) ||
		len(changes) != 1 || changes[0].from != execution.Running {
		t.Errorf("finish: %+v %+v", got, changes)
	}
	if steps[1].State != execution.Running {
		t.Error("finish changed its input")
	}
	steps[1] = execution.Step{Node: "ndvi.v2", State: execution.Failed, FinishedAt: at(2), Message: "early"}
	if s, ok := p.firstFailed(steps); !ok || s.Node != "ndvi.v2" {
		t.Errorf("first failed: %+v %v", s, ok)
	}
	steps[1].FinishedAt = at(5)
	if s, _ := p.firstFailed(steps); s.Node != "fetch" {
		t.Errorf("same end: the first in the graph, got %s", s.Node)
	}
	if _, ok := p.firstFailed(steps[:0]); ok {
		t.Error("no step failed")
	}
}

// TestFinishUnrun: the steps that never started end skipped (listed as
// booked or not listed yet), or cancelled with a cancelled execution; the
// ones that started end as the Workflow's end says.
func TestFinishUnrun(t *testing.T) {
	p := testPlan()
	for _, tc := range []struct {
		name      string
		steps     []execution.Step
		ended, to execution.State
		want      []string // node:state
		moves     []string // node:from>to
	}{
		{"failed first, second booked", []execution.Step{
			{Node: "fetch", State: execution.Failed, FinishedAt: at(3)},
			{Node: "ndvi.v2", State: execution.Scheduled},
		}, execution.Failed, execution.Failed, []string{"fetch:failed", "ndvi.v2:skipped"}, []string{"ndvi.v2:scheduled>skipped"}},
		{"failed first, second not listed", []execution.Step{
			{Node: "fetch", State: execution.Failed, FinishedAt: at(3)},
		}, execution.Failed, execution.Failed, []string{"fetch:failed", "ndvi.v2:skipped"}, []string{"ndvi.v2:scheduled>skipped"}},
		{"nothing listed, succeeded", nil, execution.Succeeded, execution.Failed,
			[]string{"fetch:skipped", "ndvi.v2:skipped"}, []string{"fetch:scheduled>skipped", "ndvi.v2:scheduled>skipped"}},
		{"cancelled while the first ran", []execution.Step{
			{Node: "fetch", State: execution.Running, StartedAt: at(1)},
			{Node: "ndvi.v2", State: execution.Scheduled},
		}, execution.Cancelled, execution.Cancelled, []string{"fetch:cancelled", "ndvi.v2:cancelled"},
			[]string{"fetch:running>cancelled", "ndvi.v2:scheduled>cancelled"}},
		{"stopped while pending", []execution.Step{
			{Node: "fetch", State: StepPending},
		}, execution.Failed, execution.Failed, []string{"fetch:failed", "ndvi.v2:skipped"},
			[]string{"fetch:pending>failed", "ndvi.v2:scheduled>skipped"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changes := p.finish(tc.steps, tc.ended, tc.to, *at(9), "")
			var states, moves []string
			for _, s := range got {
				states = append(states, s.Node+":"+string(s.State))
				if s.State.Unrun() || s.FinishedAt == nil {
					t.Errorf("step %+v not ended", s)
				}
			}
			for _, c := range changes {
				moves = append(moves, c.step.Node+":"+string(c.from)+">"+string(c.step.State))
			}
			if !slices.Equal(states, tc.want) || !slices.Equal(moves, tc.moves) {
				t.Errorf("steps %v, moves %v; want %v, %v", states, moves, tc.want, tc.moves)
			}
			if len(got) == 2 && got[1].Node == "ndvi.v2" && got[1].Requests.GPUs != 1 && len(tc.steps) < 2 {
				t.Errorf("a step not listed lacks its figures: %+v", got[1])
			}
		})
	}
}
