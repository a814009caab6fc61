package service_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/client"
)

func TestWorkspaceCRUD(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tiles := e.resource(alice, data("Tiles", false, "FR"))
		ndvi := e.resource(alice, processing("NDVI", true))

		// An empty peer is this peer's; duplicates collapse.
		w := must(e.as(alice).CreateWorkspace(ctx, workspace.Input{Name: "Paris NDVI", Description: "study",
			Resources: []resource.Ref{{ID: tiles.ID}, tiles, ndvi}}))(t)
		if w.Owner != "alice" || w.Version != 1 || len(w.Resources) != 2 || w.Resources[0].Ref != tiles || w.Resources[1].Ref != ndvi {
			t.Fatalf("created = %+v", w)
		}
		got := must(e.as(alice).GetWorkspace(ctx, w.ID))(t)
		if got.Name != "Paris NDVI" || got.Version != 1 || !got.CreatedAt.Equal(w.CreatedAt) {
			t.Errorf("get = %+v, want %+v", got, w)
		}

		// Replace needs the version, refuses a stale one.
		_, err := e.as(alice).UpdateWorkspace(ctx, w.ID, 0, workspace.Input{Name: "x"})
		if status(err) != http.StatusPreconditionRequired {
			t.Errorf("replace without version: %v, want 428", err)
		}
		up := must(e.as(alice).UpdateWorkspace(ctx, w.ID, 1, workspace.Input{Name: "Paris NDVI v2", Resources: []resource.Ref{ndvi}}))(t)
		if up.Version != 2 || len(up.Resources) != 1 || !up.Resources[0].AddedAt.Equal(w.Resources[1].AddedAt) {
			t.Errorf("replaced = %+v (an entry kept keeps its added_at)", up)
		}
		_, err = e.as(alice).UpdateWorkspace(ctx, w.ID, 1, workspace.Input{Name: "stale"})
		if ae := apiErr(t, err); ae.Status != http.StatusConflict || ae.Code != "version_conflict" {
			t.Errorf("stale replace: %v", err)
		}
		resp := e.do(http.MethodPut, "/workspace/workspaces/"+w.ID, e.iss.Token(alice), `{"name":"stale","version":1}`)
		if resp.Status != http.StatusConflict || !contains(string(resp.Body), `"current_version":2`) {
			t.Errorf("stale replace details: %d %s", resp.Status, resp.Body)
		}

		// Add (twice: a no-op) and remove.
		w2 := must(e.as(alice).AddResource(ctx, w.ID, tiles))(t)
		w3 := must(e.as(alice).AddResource(ctx, w.ID, resource.Ref{ID: tiles.ID}))(t)
		if len(w2.Resources) != 2 || w3.Version != w2.Version {
			t.Errorf("add twice: %+v then %+v", w2, w3)
		}
		w4 := must(e.as(alice).RemoveResource(ctx, w.ID, tiles))(t)
		if len(w4.Resources) != 1 || w4.Resources[0].Ref != ndvi {
			t.Errorf("removed: %+v", w4)
		}
		if _, err := e.as(alice).RemoveResource(ctx, w.ID, tiles); status(err) != http.StatusNotFound {
			t.Errorf("remove absent: %v, want 404", err)
		}

		// List: own ones only, sorted, filtered.
		must(e.as(alice).CreateWorkspace(ctx, workspace.Input{Name: "Another"}))(t)
		must(e.as(bob).CreateWorkspace(ctx, workspace.Input{Name: "Bob's"}))(t)
		page := must(e.as(alice).ListWorkspaces(ctx, client.WorkspaceListOptions{}))(t)
		if page.Total != 2 || page.Items[0].Name != "Another" || page.Items[1].Name != "Paris NDVI v2" {
			t.Errorf("alice's list = %+v", page)
		}
		page = must(e.as(alice).ListWorkspaces(ctx, client.WorkspaceListOptions{Query: "paris", Sort: []string{"-created_at"}}))(t)
		if page.Total != 1 || page.Items[0].ID != w.ID {
			t.Errorf("q=paris: %+v", page)
		}
		page = must(e.as(root).ListWorkspaces(ctx, client.WorkspaceListOptions{Owner: "bob"}))(t)
		if page.Total != 1 || page.Items[0].Owner != "bob" {
			t.Errorf("root, owner=bob: %+v", page)
		}

		// Delete with a stale version is refused; then deleted.
		if err := e.as(alice).DeleteWorkspace(ctx, w.ID, 1); status(err) != http.StatusConflict {
			t.Errorf("stale delete: %v", err)
		}
		if err := e.as(alice).DeleteWorkspace(ctx, w.ID, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := e.as(alice).GetWorkspace(ctx, w.ID); status(err) != http.StatusNotFound {
			t.Errorf("get deleted: %v", err)
		}
	})
}

func TestWorkspaceResolvedResources(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tiles := e.resource(alice, data("Tiles", false, "FR"))
		gone := e.resource(alice, processing("Gone", true))
		hidden := e.resource(bob, resource.Input{Kind: resource.KindData, Name: "Bob's secret", Visibility: resource.Private,
			Data: &resource.Data{Location: "s3://secret"}})
		remote := resource.Ref{Peer: "partner-b", ID: "r-42"}
		w := must(e.as(alice).CreateWorkspace(ctx, workspace.Input{Name: "Mixed",
			Resources: []resource.Ref{tiles, gone, hidden, remote}}))(t)
		if err := e.catalog(alice).Delete(ctx, gone.ID, 0); err != nil {
			t.Fatal(err)
		}

		page := must(e.as(alice).WorkspaceResources(ctx, w.ID, 0, 0))(t)
		if page.Total != 4 || len(page.Items) != 4 {
			t.Fatalf("resolved = %+v", page)
		}
		if it := page.Items[0]; !it.Available || it.Resource == nil || it.Resource.Name != "Tiles" || it.Ref != tiles {
			t.Errorf("tiles = %+v", it)
		}
		for i, want := range []string{"does not exist", "does not exist", "is not known to this peer"} {
			it := page.Items[i+1]
			if it.Available || it.Resource != nil || !contains(it.Reason, want) || it.AddedAt.IsZero() {
				t.Errorf("item %d = %+v, want unavailable because %q", i+1, it, want)
			}
		}
		// Paged.
		page = must(e.as(alice).WorkspaceResources(ctx, w.ID, 2, 3))(t)
		if page.Total != 4 || len(page.Items) != 1 || page.Items[0].Ref != remote {
			t.Errorf("page 2 = %+v", page)
		}
		// An admin sees the private resource of bob resolved.
		page = must(e.as(root).WorkspaceResources(ctx, w.ID, 0, 0))(t)
		if !page.Items[2].Available {
			t.Errorf("root sees %+v", page.Items[2])
		}
	})
}

func TestWorkspaceAccess(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tiles := e.resource(alice, data("Tiles", false, "FR"))
		w := must(e.as(alice).CreateWorkspace(ctx, workspace.Input{Name: "Alice's", Resources: []resource.Ref{tiles}}))(t)

		// Not shared: bob can neither read nor change it.
		if _, err := e.as(bob).GetWorkspace(ctx, w.ID); status(err) != http.StatusNotFound {
			t.Errorf("bob get: %v, want 404", err)
		}
		if _, err := e.as(bob).UpdateWorkspace(ctx, w.ID, 1, workspace.Input{Name: "mine"}); status(err) != http.StatusNotFound {
			t.Errorf("bob replace: %v, want 404", err)
		}
		if _, err := e.as(bob).WorkspaceResources(ctx, w.ID, 0, 0); status(err) != http.StatusNotFound {
			t.Errorf("bob resources: %v, want 404", err)
		}

		// Shared in an area bob is a member of: he reads it, still cannot change it.
		a := must(e.as(alice).CreateArea(ctx, workspace.AreaInput{Name: "Consortium", Members: []string{"bob"}}))(t)
		must(e.as(alice).Share(ctx, a.ID, workspace.SharedWorkspace, resource.Ref{ID: w.ID}))(t)
		if got, err := e.as(bob).GetWorkspace(ctx, w.ID); err != nil || got.ID != w.ID {
			t.Errorf("bob get shared: %v", err)
		}
		page := must(e.as(bob).ListWorkspaces(ctx, client.WorkspaceListOptions{}))(t)
		if page.Total != 1 || page.Items[0].ID != w.ID {
			t.Errorf("bob's list = %+v", page)
		}
		page = must(e.as(bob).ListWorkspaces(ctx, client.WorkspaceListOptions{AreaID: a.ID}))(t)
		if page.Total != 1 {
			t.Errorf("bob's list in the area = %+v", page)
		}
		if _, err := e.as(carol).ListWorkspaces(ctx, client.WorkspaceListOptions{AreaID: a.ID}); status(err) != http.StatusNotFound {
			t.Errorf("carol lists a foreign area's workspaces: %v, want 404", err)
		}
		if _, err := e.as(bob).UpdateWorkspace(ctx, w.ID, 1, workspace.Input{Name: "mine"}); status(err) != http.StatusForbidden {
			t.Errorf("bob replace shared: %v, want 403", err)
		}
		if _, err := e.as(bob).AddResource(ctx, w.ID, tiles); status(err) != http.StatusForbidden {
			t.Errorf("bob add to shared: %v, want 403", err)
		}
		if err := e.as(bob).DeleteWorkspace(ctx, w.ID, 0); status(err) != http.StatusForbidden {
			t.Errorf("bob delete shared: %v, want 403", err)
		}
		// Bob cannot share what he does not own.
		if _, err := e.as(bob).Share(ctx, a.ID, workspace.SharedWorkspace, resource.Ref{ID: w.ID}); status(err) != http.StatusForbidden {
			t.Errorf("bob shares alice's workspace: %v, want 403", err)
		}
		// Carol, not a member, still cannot read it.
		if _, err := e.as(carol).GetWorkspace(ctx, w.ID); status(err) != http.StatusNotFound {
			t.Errorf("carol get: %v, want 404", err)
		}
		if got := must(e.as(alice).GetWorkspace(ctx, w.ID))(t); got.Version != 1 {
			t.Errorf("the workspace changed: %+v", got)
		}
	})
}

func TestWorkflowWorkspace(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tiles := e.resource(alice, data("Tiles", false, "FR"))
		ndvi := e.resource(alice, processing("NDVI", true))
		wf := "6b0e3c6c-4d0a-4d21-9a43-0e4c1d7b9f10"

		w := must(e.as(alice).PutWorkflowWorkspace(ctx, wf, workspace.WorkflowWorkspace{Name: "NDVI", Owner: "alice",
			Resources: []resource.Ref{{ID: tiles.ID}}, WorkflowVersion: 1}))(t)
		if w.Name != "NDVI_workspace" || w.WorkflowID != wf || w.Owner != "alice" || len(w.Resources) != 1 || w.Resources[0].Ref != tiles {
			t.Fatalf("created = %+v", w)
		}
		// Idempotent.
		again := must(e.as(alice).PutWorkflowWorkspace(ctx, wf, workspace.WorkflowWorkspace{Name: "NDVI", Owner: "alice",
			Resources: []resource.Ref{tiles}, WorkflowVersion: 1}))(t)
		if again.ID != w.ID || again.Version != w.Version {
			t.Errorf("same put again = %+v", again)
		}
		v3 := must(e.as(alice).PutWorkflowWorkspace(ctx, wf, workspace.WorkflowWorkspace{Name: "NDVI", Owner: "alice",
			Resources: []resource.Ref{tiles, ndvi}, WorkflowVersion: 3}))(t)
		if v3.ID != w.ID || len(v3.Resources) != 2 {
			t.Errorf("v3 = %+v", v3)
		}
		// An older update arriving late is ignored.
		late := must(e.as(alice).PutWorkflowWorkspace(ctx, wf, workspace.WorkflowWorkspace{Name: "NDVI old", Owner: "alice",
			Resources: []resource.Ref{}, WorkflowVersion: 2}))(t)
		if late.Version != v3.Version || len(late.Resources) != 2 || late.Name != "NDVI_workspace" {
			t.Errorf("late v2 = %+v, want v3 kept", late)
		}
		page := must(e.as(alice).ListWorkspaces(ctx, client.WorkspaceListOptions{WorkflowID: wf}))(t)
		if page.Total != 1 || page.Items[0].ID != w.ID {
			t.Errorf("list by workflow = %+v", page)
		}

		// Hand changes to its resources are refused, naming the workflow; renaming is fine.
		_, err := e.as(alice).AddResource(ctx, w.ID, resource.Ref{ID: "other"})
		if ae := apiErr(t, err); ae.Status != http.StatusConflict || ae.Code != "managed_by_workflow" || !contains(ae.Message, wf) {
			t.Errorf("hand add: %v", err)
		}
		if _, err := e.as(alice).RemoveResource(ctx, w.ID, tiles); status(err) != http.StatusConflict {
			t.Errorf("hand remove: %v", err)
		}
		if _, err := e.as(alice).UpdateWorkspace(ctx, w.ID, v3.Version, workspace.Input{Name: "x", Resources: []resource.Ref{tiles}}); status(err) != http.StatusConflict {
			t.Errorf("hand replace of resources: %v", err)
		}
		renamed := must(e.as(alice).UpdateWorkspace(ctx, w.ID, v3.Version, workspace.Input{Name: "Renamed", Description: "d"}))(t)
		if renamed.Name != "Renamed" || len(renamed.Resources) != 2 {
			t.Errorf("renamed = %+v", renamed)
		}

		// Only the owner (or an admin) may set it.
		if _, err := e.as(bob).PutWorkflowWorkspace(ctx, wf, workspace.WorkflowWorkspace{Name: "NDVI", Owner: "alice", WorkflowVersion: 9}); status(err) != http.StatusForbidden {
			t.Errorf("bob puts for alice: %v, want 403", err)
		}
		if _, err := e.as(bob).PutWorkflowWorkspace(ctx, wf, workspace.WorkflowWorkspace{Name: "NDVI", Owner: "bob", WorkflowVersion: 9}); status(err) != http.StatusForbidden {
			t.Errorf("bob takes alice's: %v, want 403", err)
		}
		byRoot := must(e.as(root).PutWorkflowWorkspace(ctx, wf, workspace.WorkflowWorkspace{Name: "NDVI", Owner: "bob", WorkflowVersion: 10}))(t)
		if byRoot.Owner != "bob" {
			t.Errorf("root gives it to bob: %+v", byRoot)
		}

		if err := e.as(alice).DeleteWorkflowWorkspace(ctx, wf); status(err) != http.StatusNotFound {
			t.Errorf("alice deletes bob's: %v, want 404", err)
		}
		if err := e.as(bob).DeleteWorkflowWorkspace(ctx, wf); err != nil {
			t.Fatal(err)
		}
		if err := e.as(bob).DeleteWorkflowWorkspace(ctx, wf); status(err) != http.StatusNotFound {
			t.Errorf("delete again: %v, want 404", err)
		}
	})
}

func contains(s, sub string) bool { return len(sub) == 0 || indexOf(s, sub) >= 0 }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestCreateIsIdempotent(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		in := workspace.Input{Name: "Once"}
		first := must(e.as(alice).CreateWorkspaceOnce(ctx, "key-1", in))(t)
		again := must(e.as(alice).CreateWorkspaceOnce(ctx, "key-1", in))(t)
		if again.ID != first.ID {
			t.Errorf("retry created %s, want %s", again.ID, first.ID)
		}
		if n, err := e.workspaces.Count(ctx); err != nil || n != 1 {
			t.Errorf("%d workspaces stored (%v), want 1", n, err)
		}
		if _, err := e.as(alice).CreateWorkspaceOnce(ctx, "key-1", workspace.Input{Name: "Other"}); status(err) != http.StatusUnprocessableEntity {
			t.Errorf("same key, other body: %v, want 422", err)
		}
	})
}
