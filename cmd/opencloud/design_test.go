package main

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/workflow"
	"github.com/opencloud/opencloud/libs/workspace"
	authclient "github.com/opencloud/opencloud/services/oc-auth/client"
	catalogclient "github.com/opencloud/opencloud/services/oc-catalog/client"
	schedulerclient "github.com/opencloud/opencloud/services/oc-scheduler/client"
	workflowclient "github.com/opencloud/opencloud/services/oc-workflow/client"
	workspaceclient "github.com/opencloud/opencloud/services/oc-workspace/client"
)

// designer is one signed-in user's clients of the whole peer.
type designer struct {
	subject   string
	catalog   *catalogclient.Client
	workflows *workflowclient.Client
	spaces    *workspaceclient.Client
	scheduler *schedulerclient.Client
}

func (p *peer) designer(t *testing.T, admin *authclient.Client, name string) designer {
	t.Helper()
	u, err := admin.CreateUser(context.Background(), authclient.NewUser{Username: name, Password: name + "-password-123"})
	if err != nil {
		t.Fatalf("create user %s: %v", name, err)
	}
	tok := apiclient.StaticToken(p.login(t, name, name+"-password-123"))
	return designer{subject: u.ID, catalog: catalogclient.New(p.base, tok, nil),
		workflows: workflowclient.New(p.base, tok, nil), spaces: workspaceclient.New(p.base, tok, nil),
		scheduler: schedulerclient.New(p.base, tok, nil)}
}

func apiStatus(err error) int {
	var ae *apierror.Error
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// TestDesignAWorkflow drives the design side of the whole peer through its
// gateway, services calling each other with the user's token as they do in
// production: catalog resources, a workflow and its own workspace, a
// refused graph, a collaborative area with a rule book, and who sees what.
func TestDesignAWorkflow(t *testing.T) {
	ctx := context.Background()
	p := startPeer(t, t.TempDir(), "127.0.0.1:0")
	admin := authclient.New(p.base, apiclient.StaticToken(p.login(t, "admin", adminPassword)), nil)
	alice, bob, carol := p.designer(t, admin, "alice"), p.designer(t, admin, "bob"), p.designer(t, admin, "carol")

	create := func(in resource.Input) resource.Ref {
		t.Helper()
		if in.Visibility == "" {
			in.Visibility = resource.Public
		}
		r, err := alice.catalog.Create(ctx, in)
		if err != nil {
			t.Fatalf("create %s: %v", in.Name, err)
		}
		return resource.Ref{Peer: r.PeerID, ID: r.ID}
	}
	tiles := create(resource.Input{Kind: resource.KindData, Name: "tiles", Data: &resource.Data{Location: "s3://tiles/", Jurisdiction: "FR"}})
	ndvi := create(resource.Input{Kind: resource.KindProcessing, Name: "ndvi",
		Processing: &resource.Processing{Image: "ghcr.io/acme/ndvi:1", OpenSource: true}})
	closed := create(resource.Input{Kind: resource.KindProcessing, Name: "closed-model",
		Processing: &resource.Processing{Image: "ghcr.io/acme/closed:1"}})
	k8s := create(resource.Input{Kind: resource.KindCompute, Name: "edge",
		Compute: &resource.Compute{ClusterRef: "edge-1", Architecture: "amd64", Country: "FR"}})
	out := create(resource.Input{Kind: resource.KindStorage, Name: "results", Visibility: resource.Private,
		Storage: &resource.Storage{Endpoint: "https://s3.example.org", Bucket: "results", Jurisdiction: "FR"}})

	node := func(id string, k resource.Kind, ref resource.Ref) workflow.Node {
		return workflow.Node{ID: id, Kind: k, Resource: ref}
	}
	graph := workflow.Graph{
		Nodes: []workflow.Node{node("tiles", resource.KindData, tiles), node("ndvi", resource.KindProcessing, ndvi),
			node("k8s", resource.KindCompute, k8s), node("out", resource.KindStorage, out)},
		Links: []workflow.Link{
			{ID: "l1", Kind: workflow.LinkData, From: "tiles", To: "ndvi"},
			{ID: "l2", Kind: workflow.LinkCompute, From: "ndvi", To: "k8s"},
			{ID: "l3", Kind: workflow.LinkStorageWrite, From: "ndvi", To: "out", Source: "/out/ndvi.tif", Destination: "ndvi/"},
		},
	}

	// A valid workflow is saved, and its workspace holds exactly what it uses.
	w, err := alice.workflows.Create(ctx, workflow.Input{Name: "ndvi-paris", Graph: graph})
	if err != nil {
		t.Fatalf("create workflow: %v", err)
	}
	if w.WorkspaceID == "" || !w.WorkspaceInSync {
		t.Fatalf("workflow's workspace: %q in sync %v", w.WorkspaceID, w.WorkspaceInSync)
	}
	ws, err := alice.spaces.GetWorkspace(ctx, w.WorkspaceID)
	if err != nil {
		t.Fatal(err)
	}
	refs := func(ws workspace.Workspace) []resource.Ref {
		var out []resource.Ref
		for _, e := range ws.Resources {
			out = append(out, e.Ref)
		}
		return out
	}
	if ws.Name != "ndvi-paris_workspace" || ws.WorkflowID != w.ID || !sameRefs(refs(ws), []resource.Ref{tiles, ndvi, k8s, out}) {
		t.Errorf("workspace = %q for %q holding %v", ws.Name, ws.WorkflowID, refs(ws))
	}
	resolved, err := alice.spaces.WorkspaceResources(ctx, w.WorkspaceID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resolved.Items {
		if !r.Available || r.Resource == nil {
			t.Errorf("resolved %v: available %v (%s)", r.Ref, r.Available, r.Reason)
		}
	}

	// A graph with a processing without compute and a dependency loop is
	// refused with both problems at once.
	bad := workflow.Graph{
		Nodes: []workflow.Node{node("a", resource.KindProcessing, ndvi), node("b", resource.KindProcessing, ndvi),
			node("k8s", resource.KindCompute, k8s)},
		Links: []workflow.Link{
			{ID: "ab", Kind: workflow.LinkDependency, From: "a", To: "b"},
			{ID: "ba", Kind: workflow.LinkDependency, From: "b", To: "a"},
			{ID: "ac", Kind: workflow.LinkCompute, From: "a", To: "k8s"},
		},
	}
	_, err = alice.workflows.Create(ctx, workflow.Input{Name: "loop", Graph: bad})
	v, ok := workflowclient.Problems(err)
	if !ok {
		t.Fatalf("bad graph: %v", err)
	}
	codes := map[string]bool{}
	for _, pr := range v.Problems {
		codes[pr.Code] = true
	}
	if !codes[workflow.ProblemCycle] || !codes[workflow.ProblemNoCompute] {
		t.Errorf("problems = %+v", v.Problems)
	}

	// Bob sees nothing of alice's until she shares it.
	if _, err := bob.workflows.Get(ctx, w.ID); apiStatus(err) != http.StatusNotFound {
		t.Errorf("bob reads alice's workflow: %v", err)
	}
	if _, err := bob.spaces.GetWorkspace(ctx, w.WorkspaceID); apiStatus(err) != http.StatusNotFound {
		t.Errorf("bob reads alice's workspace: %v", err)
	}

	// A collaborative area that admits open-source processings only.
	area, err := alice.spaces.CreateArea(ctx, workspace.AreaInput{Name: "consortium", Members: []string{bob.subject},
		Rules: []workspace.Rule{{Kind: workspace.RuleOpenSource}}})
	if err != nil {
		t.Fatalf("create area: %v", err)
	}
	if _, err := alice.spaces.Share(ctx, area.ID, workspace.SharedWorkflow, resource.Ref{Peer: tiles.Peer, ID: w.ID}); err != nil {
		t.Fatalf("share the workflow: %v", err)
	}
	var ae *apierror.Error
	if _, err := alice.spaces.Share(ctx, area.ID, workspace.SharedResource, closed); !errors.As(err, &ae) || ae.Code != "rule_broken" {
		t.Errorf("sharing a closed-source processing: %v", err)
	}
	// What areas hold the workflow, and their rules, is not told to who may not read it.
	if _, err := carol.spaces.CheckWorkflow(ctx, workspace.WorkflowCheck{WorkflowID: w.ID, Usage: workflow.UsageOf(graph)}); apiStatus(err) != http.StatusNotFound {
		t.Errorf("carol checks alice's workflow against its areas: %v", err)
	}
	if _, err := carol.workflows.Get(ctx, w.ID); apiStatus(err) != http.StatusNotFound {
		t.Errorf("carol, in no area, reads the shared workflow: %v", err)
	}
	if got, err := bob.workflows.Get(ctx, w.ID); err != nil || got.ID != w.ID {
		t.Errorf("bob reads the shared workflow: %v", err)
	}
	if _, err := bob.workflows.Update(ctx, w.ID, w.Version, workflow.Input{Name: "mine now", Graph: graph}); apiStatus(err) != http.StatusForbidden {
		t.Errorf("bob changes the shared workflow: %v", err)
	}

	// Removing a node from the graph removes it from the workspace.
	less := workflow.Graph{Nodes: graph.Nodes[1:3], Links: graph.Links[1:2]}
	if w, err = alice.workflows.Update(ctx, w.ID, w.Version, workflow.Input{Name: w.Name, Graph: less}); err != nil {
		t.Fatalf("update: %v", err)
	}
	if ws, err = alice.spaces.GetWorkspace(ctx, w.WorkspaceID); err != nil || !sameRefs(refs(ws), []resource.Ref{ndvi, k8s}) {
		t.Errorf("workspace after the update: %v %v", refs(ws), err)
	}
	graph = less
	// The change reaches the area through NATS: wait for it before reading
	// the area's version.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		hist, err := alice.spaces.History(ctx, area.ID, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist.Items) > 0 && hist.Items[0].Type == workspace.OpItemUpdated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workflow's update never reached the area: %+v", hist.Items)
		}
	}

	// Alice cannot bring the closed-source processing into the shared workflow.
	more := graph
	more.Nodes = append(slices.Clone(graph.Nodes), node("closed", resource.KindProcessing, closed))
	more.Links = append(slices.Clone(graph.Links),
		workflow.Link{ID: "l4", Kind: workflow.LinkDependency, From: "ndvi", To: "closed"},
		workflow.Link{ID: "l5", Kind: workflow.LinkCompute, From: "closed", To: "k8s"})
	_, err = alice.workflows.Update(ctx, w.ID, w.Version, workflow.Input{Name: w.Name, Graph: more})
	v, ok = workflowclient.Problems(err)
	if !ok || !slices.ContainsFunc(v.Problems, func(pr workflow.Problem) bool {
		return pr.Code == workflow.ProblemRuleBroken && pr.Area == area.ID && pr.Node == "closed"
	}) {
		t.Errorf("rule-breaking change: %v %+v", err, v.Problems)
	}

	// Computes only from another peer: the rule book change reports the
	// shared workflow's compute.
	area, err = alice.spaces.GetArea(ctx, area.ID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := alice.spaces.SetRules(ctx, area.ID, area.Version, []workspace.Rule{
		{Kind: workspace.RuleOpenSource}, {Kind: workspace.RuleComputePeers, Peers: []string{"partner-b"}}})
	if err != nil {
		t.Fatalf("set rules: %v", err)
	}
	if len(res.Report.Violations) != 1 || res.Report.Violations[0].Resource != k8s || res.Report.Violations[0].RuleKind != workspace.RuleComputePeers {
		t.Errorf("report after the rule change = %+v", res.Report)
	}
	// The history says who did what, newest first.
	hist, err := bob.spaces.History(ctx, area.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []workspace.OpType
	for _, op := range hist.Items {
		types = append(types, op.Type)
		if op.Stamp.By != alice.subject || op.Stamp.At.IsZero() {
			t.Errorf("op %s by %q at %v, want alice", op.Type, op.Stamp.By, op.Stamp.At)
		}
	}
	if want := []workspace.OpType{workspace.OpRulesChanged, workspace.OpItemUpdated, workspace.OpShared, workspace.OpCreated}; !slices.Equal(types, want) {
		t.Errorf("history = %v, want %v", types, want)
	}
}

func sameRefs(a, b []resource.Ref) bool {
	if len(a) != len(b) {
		return false
	}
	for _, r := range b {
		if !slices.Contains(a, r) {
			return false
		}
	}
	return true
}
