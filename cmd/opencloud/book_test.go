package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/workflow"
	authclient "github.com/opencloud/opencloud/services/oc-auth/client"
	schedulerclient "github.com/opencloud/opencloud/services/oc-scheduler/client"
)

// TestBookAWorkflow books a workflow on the whole peer with the seed's
// request shape: the scheduler reads the workflow and its resources through
// the gateway with the user's token, and an exclusive compute cannot be
// booked twice for the same window.
func TestBookAWorkflow(t *testing.T) {
	ctx := context.Background()
	p := startPeer(t, t.TempDir(), "127.0.0.1:0")
	admin := authclient.New(p.base, apiclient.StaticToken(p.login(t, "admin", adminPassword)), nil)
	alice, bob := p.designer(t, admin, "alice"), p.designer(t, admin, "bob")
	aliceSched, bobSched := alice.scheduler, bob.scheduler

	create := func(in resource.Input) resource.Ref {
		t.Helper()
		in.Visibility = resource.Public
		r, err := alice.catalog.Create(ctx, in)
		if err != nil {
			t.Fatalf("create %s: %v", in.Name, err)
		}
		return resource.Ref{Peer: r.PeerID, ID: r.ID}
	}
	proc := create(resource.Input{Kind: resource.KindProcessing, Name: "step",
		Processing: &resource.Processing{Image: "busybox:1.36", OpenSource: true}})
	// No capacity declared: the compute runs one execution at a time.
	k8s := create(resource.Input{Kind: resource.KindCompute, Name: "edge",
		Compute: &resource.Compute{ClusterRef: "edge-1", Architecture: "amd64"}})
	w, err := alice.workflows.Create(ctx, workflow.Input{Name: "three steps", Graph: workflow.Graph{
		Nodes: []workflow.Node{
			{ID: "a", Kind: resource.KindProcessing, Resource: proc}, {ID: "b", Kind: resource.KindProcessing, Resource: proc},
			{ID: "c", Kind: resource.KindProcessing, Resource: proc}, {ID: "k8s", Kind: resource.KindCompute, Resource: k8s}},
		Links: []workflow.Link{
			{ID: "ab", Kind: workflow.LinkDependency, From: "a", To: "b"}, {ID: "bc", Kind: workflow.LinkDependency, From: "b", To: "c"},
			{ID: "ak", Kind: workflow.LinkCompute, From: "a", To: "k8s"}, {ID: "bk", Kind: workflow.LinkCompute, From: "b", To: "k8s"},
			{ID: "ck", Kind: workflow.LinkCompute, From: "c", To: "k8s"}},
	}})
	if err != nil {
		t.Fatalf("create workflow: %v", err)
	}

	// The seed's shape: seconds 0-2 of a minute an hour ahead, 1 s each.
	at := time.Now().UTC().Add(time.Hour).Truncate(time.Minute)
	end := at.Add(24 * time.Hour)
	req := execution.Request{Cron: fmt.Sprintf("0-2 %d %d %d %d *", at.Minute(), at.Hour(), at.Day(), int(at.Month())),
		Mode: execution.Planned, Start: at, End: &end, DurationSeconds: 1}
	plan, err := aliceSched.Book(ctx, w.ID, req)
	if err != nil {
		t.Fatalf("book: %v", err)
	}
	if len(plan.Executions) != 3 {
		t.Fatalf("booked %d executions, want 3", len(plan.Executions))
	}
	for i, e := range plan.Executions {
		if e.State != execution.Scheduled || !e.Start.Equal(at.Add(time.Duration(i)*time.Second)) || len(e.Graph.Nodes) != 4 {
			t.Errorf("execution %d = %s at %v with %d nodes", i, e.State, e.Start, len(e.Graph.Nodes))
		}
	}
	// The same windows again: the compute is taken.
	_, err = aliceSched.Book(ctx, w.ID, req)
	if got, ok := schedulerclient.ConflictPlan(err); !ok || len(got.Conflicts) == 0 || got.NextFree == nil {
		t.Errorf("second booking: %v %+v", err, got)
	}
	// Bob can neither book alice's private workflow nor see her executions.
	if _, err := bobSched.Book(ctx, w.ID, req); apiStatus(err) != http.StatusNotFound {
		t.Errorf("bob books alice's workflow: %v", err)
	}
	if page, err := bobSched.List(ctx, schedulerclient.ListOptions{}); err != nil || page.Total != 0 {
		t.Errorf("bob lists %d executions (%v)", page.Total, err)
	}
}
