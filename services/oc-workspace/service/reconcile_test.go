package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/authn/authntest"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/testenv"
	"github.com/opencloud/opencloud/libs/workflow"
	"github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/service"
)

// services is the services' own identity at oc-auth: an admin.
var services = authntest.Admin("oc-services")

// reconciling has the service reconcile its areas every interval as p.
func reconciling(p authn.Principal, interval time.Duration) option {
	return func(d *service.Deps, iss *authntest.Issuer) {
		d.ServiceToken = apiclient.StaticToken(iss.Token(p))
		d.ReconcileInterval = interval
	}
}

// Changes that reached the areas by no event are caught up by the periodic
// reconciliation: a renamed workflow, a deleted workflow, a workspace
// deleted behind the areas' back.
func TestReconcileCatchesUpWithoutEvents(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		renamed := workflow.Workflow{ID: "wf-renamed", Name: "NDVI", Owner: "alice", Version: 1}
		gone := workflow.Workflow{ID: "wf-gone", Name: "Tiles", Owner: "alice", Version: 1}
		e.workflows.put(renamed)
		e.workflows.put(gone)
		ws := must(e.as(alice).CreateWorkspace(ctx, workspace.Input{Name: "Inputs"}))(t)
		a := must(e.as(alice).CreateArea(ctx, workspace.AreaInput{Name: "Reconciled"}))(t)
		for _, s := range []struct {
			kind workspace.SharedKind
			id   string
		}{{workspace.SharedWorkflow, renamed.ID}, {workspace.SharedWorkflow, gone.ID}, {workspace.SharedWorkspace, ws.ID}} {
			a = must(e.as(alice).Share(ctx, a.ID, s.kind, resource.Ref{ID: s.id}))(t)
		}
		renamed.Name, renamed.Version = "NDVI 2", 2
		e.workflows.put(renamed)
		e.workflows.mu.Lock()
		delete(e.workflows.items, gone.ID)
		e.workflows.mu.Unlock()
		if err := e.workspaces.Delete(ctx, ws.ID, 0); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() bool {
			a = must(e.as(alice).GetArea(ctx, a.ID))(t)
			return len(a.Shared) == 1 && a.Shared[0].Ref.ID == renamed.ID && a.Shared[0].Name == "NDVI 2"
		})
		if op := e.history(a.ID)[0]; op.Stamp.By != "oc-workspace" {
			t.Errorf("a reconciled change is stamped by %q, want oc-workspace", op.Stamp.By)
		}
	}, reconciling(services, 200*time.Millisecond))
}

// An identity that is not an admin does not see every workflow: the
// workflows it cannot read are not taken as deleted.
func TestReconcileNeedsAnAdminIdentity(t *testing.T) {
	e := start(t, testenv.SQLiteStore(t), reconciling(bob, 100*time.Millisecond))
	ctx := context.Background()
	w := workflow.Workflow{ID: "wf-kept", Name: "NDVI", Owner: "alice", Version: 1}
	e.workflows.put(w)
	a := must(e.as(alice).CreateArea(ctx, workspace.AreaInput{Name: "Kept"}))(t)
	must(e.as(alice).Share(ctx, a.ID, workspace.SharedWorkflow, resource.Ref{ID: w.ID}))(t)
	e.workflows.mu.Lock()
	delete(e.workflows.items, w.ID)
	e.workflows.mu.Unlock()
	time.Sleep(time.Second)
	if a := must(e.as(alice).GetArea(ctx, a.ID))(t); len(a.Shared) != 1 {
		t.Errorf("reconciled as a user, the area shares %+v; want the workflow kept", a.Shared)
	}
}

// An event older than what an area holds changes nothing: events can come
// late (a retried delivery) or after a reconciliation read a newer version.
func TestStaleWorkflowEventsAreIgnored(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		w := workflow.Workflow{ID: "wf-ordered", Name: "v1", Owner: "alice", Version: 1}
		e.workflows.put(w)
		a := must(e.as(alice).CreateArea(ctx, workspace.AreaInput{Name: "Ordered"}))(t)
		must(e.as(alice).Share(ctx, a.ID, workspace.SharedWorkflow, resource.Ref{ID: w.ID}))(t)
		v3 := workflow.Workflow{ID: w.ID, Name: "v3", Owner: "alice", Version: 3}
		v2 := workflow.Workflow{ID: w.ID, Name: "v2", Owner: "alice", Version: 2}
		publish(t, e.NATS, event.WorkflowUpdated, v3)
		eventually(t, func() bool { return must(e.as(alice).GetArea(ctx, a.ID))(t).Shared[0].Name == "v3" })
		publish(t, e.NATS, event.WorkflowUpdated, v2)
		// An event after it shows the late one was handled.
		other := must(e.as(alice).CreateArea(ctx, workspace.AreaInput{Name: "Marker"}))(t)
		marker := workflow.Workflow{ID: "wf-marker", Name: "m1", Owner: "alice", Version: 1}
		e.workflows.put(marker)
		must(e.as(alice).Share(ctx, other.ID, workspace.SharedWorkflow, resource.Ref{ID: marker.ID}))(t)
		marker.Name, marker.Version = "m2", 2
		publish(t, e.NATS, event.WorkflowUpdated, marker)
		eventually(t, func() bool { return must(e.as(alice).GetArea(ctx, other.ID))(t).Shared[0].Name == "m2" })
		if got := must(e.as(alice).GetArea(ctx, a.ID))(t).Shared[0].Name; got != "v3" {
			t.Errorf("after a late event of version 2, the area shows %q; want v3", got)
		}
	})
}
