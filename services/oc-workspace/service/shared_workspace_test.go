package service_test

import (
	"context"
	"slices"
	"testing"

	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/workspace"
)

// TestSharedWorkspaceFollowsItsAreas: a workspace shared in an area may not
// take in what the area's rules refuse, and the area's copy of what it
// holds follows its changes.
func TestSharedWorkspaceFollowsItsAreas(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		open := e.resource(alice, processing("Open", true))
		closed := e.resource(alice, processing("Closed", false))
		fr := e.resource(alice, data("French", false, "FR"))

		ws := must(e.as(alice).CreateWorkspace(ctx, workspace.Input{Name: "study", Resources: []resource.Ref{open}}))(t)
		a := must(e.as(alice).CreateArea(ctx, workspace.AreaInput{Name: "Open science",
			Rules: []workspace.Rule{{ID: "r-open", Kind: workspace.RuleOpenSource}}}))(t)
		must(e.as(alice).Share(ctx, a.ID, workspace.SharedWorkspace, resource.Ref{ID: ws.ID}))(t)

		// Adding a closed-source processing, by hand or by a replace, is refused; nothing is written.
		_, err := e.as(alice).AddResource(ctx, ws.ID, closed)
		if vs := refused(t, err, "r-open"); vs[0].Resource != closed {
			t.Errorf("violation = %+v", vs[0])
		}
		_, err = e.as(alice).UpdateWorkspace(ctx, ws.ID, ws.Version, workspace.Input{Name: "study", Resources: []resource.Ref{open, closed}})
		refused(t, err, "r-open")
		if got := must(e.as(alice).GetWorkspace(ctx, ws.ID))(t); got.Version != ws.Version || len(got.Resources) != 1 {
			t.Errorf("workspace after refusals = v%d with %d resources", got.Version, len(got.Resources))
		}

		// What the rules allow goes in, and the area's copy follows.
		must(e.as(alice).AddResource(ctx, ws.ID, fr))(t)
		usage := func() []resource.Ref {
			got := must(e.as(alice).GetArea(ctx, a.ID))(t)
			i := slices.IndexFunc(got.Shared, func(s workspace.Shared) bool { return s.Kind == workspace.SharedWorkspace })
			if i < 0 {
				return nil
			}
			return got.Shared[i].Usage.Resources
		}
		if got := usage(); !slices.Equal(got, []resource.Ref{open, fr}) {
			t.Errorf("area's copy after the add = %v", got)
		}
		if h := e.history(a.ID); h[0].Type != workspace.OpItemUpdated || h[0].Stamp.By != "alice" {
			t.Errorf("last op = %s by %s", h[0].Type, h[0].Stamp.By)
		}
		must(e.as(alice).RemoveResource(ctx, ws.ID, open))(t)
		if got := usage(); !slices.Equal(got, []resource.Ref{fr}) {
			t.Errorf("area's copy after the removal = %v", got)
		}

		// A deleted workspace leaves the area.
		if err := e.as(alice).DeleteWorkspace(ctx, ws.ID, 0); err != nil {
			t.Fatal(err)
		}
		if got := must(e.as(alice).GetArea(ctx, a.ID))(t); len(got.Shared) != 0 {
			t.Errorf("area after the delete shares %+v", got.Shared)
		}
		if h := e.history(a.ID); h[0].Type != workspace.OpUnshared {
			t.Errorf("last op = %s, want %s", h[0].Type, workspace.OpUnshared)
		}
	})
}
