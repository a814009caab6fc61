package worker

import (
	"slices"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"

	"github.com/opencloud/opencloud/services/oc-monitord/internal/render"
)

// StepPending is the state of a step whose pod is created but not running
// yet (see execution.StepPending).
const StepPending = execution.StepPending

// plan knows, for one execution and its Workflow, which graph node each
// Argo template runs and what each step asked for and where.
type plan struct {
	byTemplate map[string]string         // Argo template name → graph node id
	base       map[string]execution.Step // graph node id → the step before it ran
	pos        map[string]int            // graph node id → position in the graph
}

// newPlan reads the node ids from the templates' AnnotationNode (the
// renderer sets it on every step, so a Workflow found in the cluster after
// a crash maps as well as a freshly rendered one) and the figures from the
// execution's snapshot.
func newPlan(e execution.Execution, w *wfv1.Workflow, localPeer string) plan {
	p := plan{byTemplate: map[string]string{}, base: map[string]execution.Step{}, pos: map[string]int{}}
	for _, t := range w.Spec.Templates {
		if id := t.Metadata.Annotations[render.AnnotationNode]; id != "" {
			p.byTemplate[t.Name] = id
		}
	}
	norm := func(r resource.Ref) resource.Ref {
		if r.Peer == "" {
			r.Peer = localPeer
		}
		return r
	}
	snapshot := make(map[resource.Ref]resource.Resource, len(e.Resources))
	for _, r := range e.Resources {
		snapshot[norm(resource.Ref{Peer: r.PeerID, ID: r.ID})] = r
	}
	nodes := make(map[string]wf.Node, len(e.Graph.Nodes))
	for i, n := range e.Graph.Nodes {
		nodes[n.ID] = n
		p.pos[n.ID] = i
	}
	for _, n := range e.Graph.Nodes {
		if n.Kind != resource.KindProcessing {
			continue
		}
		s := execution.Step{Node: n.ID}
		if r, ok := snapshot[norm(n.Resource)]; ok && r.Processing != nil {
			s.Requests = r.Processing.Requests
		}
		for _, l := range e.Graph.Links {
			if l.Kind == wf.LinkCompute && l.From == n.ID {
				if c, ok := nodes[l.To]; ok {
					s.Compute = norm(c.Resource)
				}
			}
		}
		p.base[n.ID] = s
	}
	return p
}

// change is one step written differently from before.
type change struct {
	step execution.Step
	// from is the step's state before ("" when first seen); when it equals
	// step.State only the message or times changed, which is no event.
	from execution.State
	// argoNode is the Argo node id of the step's pod ("" when none).
	argoNode string
}

func (c change) moved() bool { return c.from != c.step.State }

// rank orders step states so that a step never goes back.
func rank(s execution.State) int {
	switch s {
	case StepPending:
		return 0
	case execution.Running:
		return 1
	case "", execution.Scheduled:
		// Not started: the scheduler lists every step as scheduled when it books.
		return -1
	default:
		return 2
	}
}

// stepState maps an Argo node phase to a step state; false for the phases
// that are not a step's progress (skipped, omitted, unknown).
func stepState(p wfv1.NodePhase) (execution.State, bool) {
	switch p {
	case wfv1.NodePending:
		return StepPending, true
	case wfv1.NodeRunning:
		return execution.Running, true
	case wfv1.NodeSucceeded:
		return execution.Succeeded, true
	case wfv1.NodeFailed, wfv1.NodeError:
		return execution.Failed, true
	}
	return "", false
}

// observe maps the Workflow's pod nodes onto the execution's steps: prev
// as stored, next as they are now, and what changed. A step never moves
// back (an older status seen after a newer one changes nothing).
func (p plan) observe(status wfv1.WorkflowStatus, prev []execution.Step) ([]execution.Step, []change) {
	latest := map[string]wfv1.NodeStatus{}
	for _, n := range status.Nodes {
		if n.Type != wfv1.NodeTypePod {
			continue
		}
		id, ok := p.byTemplate[n.TemplateName]
		if !ok {
			continue
		}
		// A retried step has a pod node per attempt: the newest is the step's.
		if cur, seen := latest[id]; seen && !newer(n, cur) {
			continue
		}
		latest[id] = n
	}
	next := slices.Clone(prev)
	at := make(map[string]int, len(next))
	for i, s := range next {
		at[s.Node] = i
	}
	ids := make([]string, 0, len(latest))
	for id := range latest {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return p.pos[a] - p.pos[b] })
	var changes []change
	for _, id := range ids {
		n := latest[id]
		st, ok := stepState(n.Phase)
		if !ok {
			continue
		}
		old, had := execution.Step{}, false
		if i, ok := at[id]; ok {
			old, had = next[i], true
		}
		if had && (rank(old.State) > rank(st) || rank(old.State) == 2) {
			continue
		}
		s := old
		if !had {
			s = p.base[id]
			s.Node = id
		}
		s.State, s.Message = st, n.Message
		if st != StepPending && !n.StartedAt.IsZero() {
			t := executions.Stamp(n.StartedAt.Time)
			s.StartedAt = &t
		}
		if rank(st) == 2 && !n.FinishedAt.IsZero() {
			t := executions.Stamp(n.FinishedAt.Time)
			s.FinishedAt = &t
		}
		if had && sameStep(old, s) {
			continue
		}
		if had {
			next[at[id]] = s
		} else {
			at[id] = len(next)
			next = append(next, s)
		}
		changes = append(changes, change{step: s, from: old.State, argoNode: n.ID})
	}
	slices.SortStableFunc(next, func(a, b execution.Step) int { return p.pos[a.Node] - p.pos[b.Node] })
	return next, changes
}

// finish ends the steps of an execution that ended in state ended: a step
// still pending or running (the Workflow ended without Argo ending it:
// stopped, deadline) becomes to, with msg when given; a step that never
// started, listed or not, becomes ended.UnrunStep() (skipped, or
// cancelled with a cancelled execution), so that no step of an ended
// execution still reads scheduled.
func (p plan) finish(steps []execution.Step, ended, to execution.State, at time.Time, msg string) ([]execution.Step, []change) {
	next := slices.Clone(steps)
	listed := make(map[string]bool, len(next))
	for _, s := range next {
		listed[s.Node] = true
	}
	for id, s := range p.base {
		if !listed[id] {
			s.Node, s.State = id, execution.Scheduled
			next = append(next, s)
		}
	}
	slices.SortStableFunc(next, func(a, b execution.Step) int { return p.pos[a.Node] - p.pos[b.Node] })
	var changes []change
	for i, s := range next {
		from := s.State
		switch {
		case from.Unrun():
			s.State = ended.UnrunStep()
		case rank(from) < 2:
			s.State = to
			if msg != "" {
				s.Message = msg
			}
		default:
			continue
		}
		s.FinishedAt = &at
		next[i] = s
		changes = append(changes, change{step: s, from: from})
	}
	return next, changes
}

// firstFailed is the step that failed first (by end time, then graph
// order), if any.
func (p plan) firstFailed(steps []execution.Step) (execution.Step, bool) {
	var out execution.Step
	found := false
	for _, s := range steps {
		if s.State != execution.Failed {
			continue
		}
		if !found || earlier(s, out, p.pos) {
			out, found = s, true
		}
	}
	return out, found
}

func earlier(a, b execution.Step, pos map[string]int) bool {
	switch {
	case a.FinishedAt != nil && b.FinishedAt != nil && !a.FinishedAt.Equal(*b.FinishedAt):
		return a.FinishedAt.Before(*b.FinishedAt)
	case a.FinishedAt != nil && b.FinishedAt == nil:
		return true
	case a.FinishedAt == nil && b.FinishedAt != nil:
		return false
	}
	return pos[a.Node] < pos[b.Node]
}

func newer(a, b wfv1.NodeStatus) bool {
	if !a.StartedAt.Equal(&b.StartedAt) {
		return b.StartedAt.Before(&a.StartedAt)
	}
	return strings.Compare(a.ID, b.ID) > 0
}

func sameStep(a, b execution.Step) bool {
	return a.State == b.State && a.Message == b.Message && sameTime(a.StartedAt, b.StartedAt) && sameTime(a.FinishedAt, b.FinishedAt)
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
