package service_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/testenv"
	wf "github.com/opencloud/opencloud/libs/workflow"
	"github.com/opencloud/opencloud/libs/workspace"

	catalogclient "github.com/opencloud/opencloud/services/oc-catalog/client"
	catalogservice "github.com/opencloud/opencloud/services/oc-catalog/service"
	workspaceservice "github.com/opencloud/opencloud/services/oc-workspace/service"

	"github.com/opencloud/opencloud/services/oc-workflow/client"
)

func refsOf(ws workspace.Workspace) []resource.Ref {
	var out []resource.Ref
	for _, e := range ws.Resources {
		out = append(out, e.Ref)
	}
	return out
}

// TestOwnedWorkspace: the workspace a workflow owns holds exactly the
// resources its graph uses, follows its changes and goes with it.
func TestOwnedWorkspace(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.seed()
		w := e.create(alice, pipeline("Paris", r))
		ws, err := e.workspaces(alice).GetWorkspace(ctx, w.WorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		want := []resource.Ref{r.Data, r.Proc, r.Compute, r.Storage}
		if ws.Name != "Paris_workspace" || ws.Owner != "alice" || ws.WorkflowID != w.ID || !sameRefs(refsOf(ws), want) {
			t.Errorf("workspace = %+v, want %v named Paris_workspace", ws, want)
		}

		// Remove the data node and its link.
		in := pipeline("Paris", r)
		in.Graph.Nodes = in.Graph.Nodes[1:]
		in.Graph.Links = in.Graph.Links[1:]
		up, err := e.as(alice).Update(ctx, w.ID, w.Version, in)
		if err != nil {
			t.Fatal(err)
		}
		if !up.WorkspaceInSync || up.WorkspaceID != w.WorkspaceID {
			t.Errorf("after update: %+v", up)
		}
		ws, err = e.workspaces(alice).GetWorkspace(ctx, w.WorkspaceID)
		if err != nil || !sameRefs(refsOf(ws), []resource.Ref{r.Proc, r.Compute, r.Storage}) {
			t.Errorf("after update: %v %v", refsOf(ws), err)
		}

		if err := e.as(alice).Delete(ctx, w.ID, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := e.workspaces(alice).GetWorkspace(ctx, w.WorkspaceID); status(err) != http.StatusNotFound {
			t.Errorf("workspace after delete: %v, want 404", err)
		}
	})
}

func sameRefs(a, b []resource.Ref) bool {
	key := func(r resource.Ref) string { return r.String() }
	as, bs := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		as[i] = key(a[i])
	}
	for i := range b {
		bs[i] = key(b[i])
	}
	slices.Sort(as)
	slices.Sort(bs)
	return slices.Equal(as, bs)
}

// TestWorkspaceOutOfSync: a workflow saved while oc-workspace cannot be
// reached is kept, marked out of sync, and the owner's next read carries it.
func TestWorkspaceOutOfSync(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.seed()
		// A second gateway with the catalog but no oc-workspace yet.
		gw2 := testenv.NewGateway(t)
		cat, err := catalogservice.New(e.ctx, catalogservice.Deps{Logger: e.log, Store: e.st, NATS: e.nc, Verifier: e.iss.Verifier(e.ctx), PeerID: peerID})
		if err != nil {
			t.Fatal(err)
		}
		gw2.Mount(cat, e.workflowService(peerID, gw2.URL))
		c := client.New(gw2.URL, client.StaticToken(e.token(alice)), nil)
		w, err := c.Create(ctx, pipeline("Offline", r))
		if err != nil {
			t.Fatal(err)
		}
		if w.WorkspaceInSync || w.WorkspaceID != "" {
			t.Errorf("created without oc-workspace: %+v", w)
		}
		ws, err := workspaceservice.New(e.ctx, workspaceservice.Deps{Logger: e.log, Store: e.st, NATS: e.nc, Verifier: e.iss.Verifier(e.ctx),
			PeerID: peerID, GatewayURL: gw2.URL})
		if err != nil {
			t.Fatal(err)
		}
		gw2.Mount(ws)
		got, err := c.Get(ctx, w.ID)
		if err != nil || !got.WorkspaceInSync || got.WorkspaceID == "" || got.Version != w.Version {
			t.Fatalf("owner's read: %+v %v", got, err)
		}
		if again, _ := c.Get(ctx, w.ID); !again.WorkspaceInSync || again.WorkspaceID != got.WorkspaceID {
			t.Errorf("second read: %+v", again)
		}
	})
}

// TestAccess: bob can neither read, change, delete nor list alice's
// workflow until she shares it in an area he is a member of; then he can
// read and list it, still not change it.
func TestAccess(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.seed()
		w := e.create(alice, pipeline("Alice's", r))
		b := e.as(bob)
		if _, err := b.Get(ctx, w.ID); status(err) != http.StatusNotFound {
			t.Errorf("bob get: %v", err)
		}
		if _, err := b.Update(ctx, w.ID, w.Version, pipeline("Bob's now", r)); status(err) != http.StatusNotFound {
			t.Errorf("bob update: %v", err)
		}
		if err := b.Delete(ctx, w.ID, 0); status(err) != http.StatusNotFound {
			t.Errorf("bob delete: %v", err)
		}
		if _, err := b.Export(ctx, w.ID); status(err) != http.StatusNotFound {
			t.Errorf("bob export: %v", err)
		}
		if page, err := b.List(ctx, client.ListOptions{Owner: "alice"}); err != nil || page.Total != 0 {
			t.Errorf("bob list: %+v %v", page, err)
		}

		area, err := e.workspaces(alice).CreateArea(ctx, workspace.AreaInput{Name: "Consortium", Members: []string{"bob"}})
		if err != nil {
			t.Fatal(err)
		}
		if page, err := b.List(ctx, client.ListOptions{Area: area.ID}); err != nil || page.Total != 0 {
			t.Errorf("bob lists the empty area: %+v %v", page, err)
		}
		if _, err := e.workspaces(alice).Share(ctx, area.ID, workspace.SharedWorkflow, resource.Ref{Peer: peerID, ID: w.ID}); err != nil {
			t.Fatal(err)
		}
		got, err := b.Get(ctx, w.ID)
		if err != nil || got.ID != w.ID {
			t.Fatalf("bob get after sharing: %v", err)
		}
		page, err := b.List(ctx, client.ListOptions{Area: area.ID})
		if err != nil || page.Total != 1 || page.Items[0].ID != w.ID {
			t.Errorf("bob list area: %+v %v", page, err)
		}
		if _, err := b.Update(ctx, w.ID, w.Version, pipeline("Bob's now", r)); status(err) != http.StatusForbidden {
			t.Errorf("bob update after sharing: %v, want 403", err)
		}
		if err := b.Delete(ctx, w.ID, 0); status(err) != http.StatusForbidden {
			t.Errorf("bob delete after sharing: %v, want 403", err)
		}
		if _, err := b.Publish(ctx, w.ID, wf.Publish{Visibility: resource.Public}); status(err) != http.StatusForbidden {
			t.Errorf("bob publish after sharing: %v, want 403", err)
		}
		// bob may copy what he may read: the copy is his.
		cp, err := b.Duplicate(ctx, w.ID, "")
		if err != nil || cp.Owner != "bob" || cp.Name != "Alice's (copy)" {
			t.Errorf("bob duplicate: %+v %v", cp, err)
		}
		// An area bob is not in is a 404.
		other, err := e.workspaces(alice).CreateArea(ctx, workspace.AreaInput{Name: "Private club"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.List(ctx, client.ListOptions{Area: other.ID}); status(err) != http.StatusNotFound {
			t.Errorf("bob lists an area he is not in: %v", err)
		}
		if got, err := e.as(alice).Get(ctx, w.ID); err != nil || got.Version != w.Version {
			t.Errorf("alice's workflow changed: %+v %v", got, err)
		}
	})
}

// TestAreaRules: a change to a shared workflow that breaks a rule of the
// area is refused with the area and the rule named.
func TestAreaRules(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.seed()
		w := e.create(alice, pipeline("Open", r))
		area, err := e.workspaces(alice).CreateArea(ctx, workspace.AreaInput{Name: "Open science",
			Rules: []workspace.Rule{{ID: "only-open", Kind: workspace.RuleOpenSource}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.workspaces(alice).Share(ctx, area.ID, workspace.SharedWorkflow, resource.Ref{Peer: peerID, ID: w.ID}); err != nil {
			t.Fatal(err)
		}
		in := pipeline("Open", r)
		in.Graph.Nodes[2].Resource = r.ClosedProc
		_, err = e.as(alice).Update(ctx, w.ID, w.Version, in)
		v := problems(t, err)
		if len(v.Problems) != 1 {
			t.Fatalf("problems = %+v", v.Problems)
		}
		p := v.Problems[0]
		if p.Code != wf.ProblemRuleBroken || p.Area != area.ID || p.Rule != "only-open" || p.Node != "p2" ||
			p.Field != "graph.nodes[2].resource" || !strings.Contains(p.Message, `"Open science"`) || !strings.Contains(p.Message, "open_source_processings") {
			t.Errorf("problem = %+v", p)
		}
		// Validate with workflow_id says the same; without, nothing.
		if v, err := e.as(alice).Validate(ctx, in, w.ID); err != nil || v.Valid || v.Problems[0].Code != wf.ProblemRuleBroken {
			t.Errorf("validate with workflow_id: %+v %v", v, err)
		}
		if v, err := e.as(alice).Validate(ctx, in, ""); err != nil || !v.Valid {
			t.Errorf("validate without: %+v %v", v, err)
		}
		if got, _ := e.as(alice).Get(ctx, w.ID); got.Version != w.Version {
			t.Errorf("refused change written: version %d", got.Version)
		}
	})
}

func TestDuplicateExportImport(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.seed()
		w := e.create(alice, pipeline(`Quoted "name" été`, r))
		cp, err := e.as(alice).Duplicate(ctx, w.ID, "")
		if err != nil || cp.ID == w.ID || cp.Name != w.Name+" (copy)" || cp.Version != 1 || cp.WorkspaceID == w.WorkspaceID {
			t.Fatalf("duplicate: %+v %v", cp, err)
		}
		named, err := e.as(alice).Duplicate(ctx, w.ID, "Lyon")
		if err != nil || named.Name != "Lyon" {
			t.Errorf("named duplicate: %+v %v", named, err)
		}

		resp := e.do(http.MethodGet, "/workflow/workflows/"+w.ID+"/export", e.token(alice), "")
		if resp.Status != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment; filename") {
			t.Fatalf("export: %d %v", resp.Status, resp.Header)
		}
		var ex wf.Export
		if err := json.Unmarshal(resp.Body, &ex); err != nil {
			t.Fatal(err)
		}
		if ex.Format != wf.ExportFormat || ex.ExportedBy != peerID || ex.Name != w.Name || len(ex.Graph.Nodes) != 5 {
			t.Errorf("export = %+v", ex)
		}
		for _, n := range ex.Graph.Nodes {
			if n.Resource.Peer != peerID {
				t.Errorf("exported ref %+v without this peer", n.Resource)
			}
		}

		// Back on the same peer: a new workflow with the same graph.
		back, err := e.as(alice).Import(ctx, ex)
		if err != nil || back.ID == w.ID || !sameGraph(back.Graph, w.Graph) || len(back.Warnings) != 0 {
			t.Errorf("import here: %+v %v", back, err)
		}

		// On another peer: the references still point at this one, as
		// warnings since that peer cannot reach it yet.
		other := serve(t, e.workflowService("peer-b", e.gw.URL).Handler())
		ob := client.New(other, client.StaticToken(e.token(alice)), nil)
		imported, err := ob.Import(ctx, ex)
		if err != nil {
			t.Fatalf("import on peer-b: %v", err)
		}
		if !sameGraph(imported.Graph, w.Graph) || len(imported.Warnings) != 5 || imported.Warnings[0].Code != wf.ProblemUnavailable ||
			!strings.Contains(imported.Warnings[0].Message, `peer "peer-test" is not known to this peer`) {
			t.Errorf("import on peer-b: graph equal %v, warnings %+v", sameGraph(imported.Graph, w.Graph), imported.Warnings)
		}

		ex.Format = "opencloud.workflow/v2"
		_, err = e.as(alice).Import(ctx, ex)
		if v := problems(t, err); len(v.Problems) != 1 || v.Problems[0].Field != "format" {
			t.Errorf("wrong format: %+v", v)
		}
	})
}

func sameGraph(a, b wf.Graph) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestPublish(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.seed()
		w := e.create(alice, pipeline("Published", r))
		resp := e.do(http.MethodPost, "/workflow/workflows/"+w.ID+"/publish", e.token(alice),
			`{"visibility":"public","short_description":"NDVI in one click","pricing":{"model":"per_use","amount":2,"currency":"EUR"}}`)
		if resp.Status != http.StatusCreated {
			t.Fatalf("publish: %d %s", resp.Status, resp.Body)
		}
		var res resource.Resource
		if err := json.Unmarshal(resp.Body, &res); err != nil {
			t.Fatal(err)
		}
		if res.Kind != resource.KindWorkflow || res.Name != "Published" || res.Workflow == nil || res.Workflow.WorkflowID != w.ID ||
			res.ShortDescription != "NDVI in one click" || res.Pricing.Model != resource.PerUse || !slices.Equal(res.Owners, []string{"alice"}) {
			t.Errorf("catalog resource = %+v", res)
		}
		if got, err := e.catalog(bob).Get(ctx, res.ID); err != nil || got.Kind != resource.KindWorkflow {
			t.Errorf("bob reads the public resource: %v", err)
		}
		after, err := e.as(alice).Get(ctx, w.ID)
		if err != nil || after.PublishedAs != res.ID || !after.WorkspaceInSync {
			t.Errorf("workflow after publish: %+v %v", after, err)
		}

		again, err := e.as(alice).Publish(ctx, w.ID, wf.Publish{Visibility: resource.Private})
		if err != nil || again.ID != res.ID || again.Visibility != resource.Private {
			t.Fatalf("publish again: %+v %v", again, err)
		}
		if _, err := e.catalog(bob).Get(ctx, res.ID); status(err) != http.StatusNotFound {
			t.Errorf("bob reads the private resource: %v", err)
		}
		page, err := e.catalog(alice).List(ctx, catalogclient.ListOptions{Kind: resource.KindWorkflow})
		if err != nil || page.Total != 1 {
			t.Errorf("catalog has %d workflow resources, %v", page.Total, err)
		}
		resp = e.do(http.MethodPost, "/workflow/workflows/"+w.ID+"/publish", e.token(alice), `{"visibility":"groups"}`)
		if resp.Status != http.StatusBadRequest || !strings.Contains(string(resp.Body), "groups") {
			t.Errorf("groups without a list: %d %s", resp.Status, resp.Body)
		}
	})
}

func TestEvents(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.seed()
		ch := make(chan *nats.Msg, 16)
		sub, err := e.nc.ChanSubscribe("oc.workflow.>", ch)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Unsubscribe() }()
		if err := e.nc.Flush(); err != nil {
			t.Fatal(err)
		}
		expect := func(typ string, want wf.Workflow) {
			t.Helper()
			m := waitFor(t, ch)
			var env event.Envelope
			if err := json.Unmarshal(m.Data, &env); err != nil {
				t.Fatal(err)
			}
			var got wf.Workflow
			if err := json.Unmarshal(env.Data, &got); err != nil {
				t.Fatal(err)
			}
			if m.Subject != typ || env.Source != "workflow" || env.Subject != want.ID || env.Actor != "alice" ||
				got.ID != want.ID || got.Version != want.Version || !sameGraph(got.Graph, want.Graph) {
				t.Errorf("event %s = %+v (%+v), want %s of version %d", m.Subject, env, got, typ, want.Version)
			}
		}
		w := e.create(alice, pipeline("Evented", r))
		expect(event.WorkflowCreated, w)
		up, err := e.as(alice).Update(ctx, w.ID, w.Version, pipeline("Evented twice", r))
		if err != nil {
			t.Fatal(err)
		}
		expect(event.WorkflowUpdated, up)
		if err := e.as(alice).Delete(ctx, w.ID, 0); err != nil {
			t.Fatal(err)
		}
		expect(event.WorkflowDeleted, up)

		bad := pipeline("Refused", r)
		bad.Graph.Links = nil
		_, _ = e.as(alice).Create(ctx, bad)
		select {
		case m := <-ch:
			t.Errorf("event after a refusal: %s", m.Subject)
		case <-time.After(200 * time.Millisecond):
		}
	})
}
