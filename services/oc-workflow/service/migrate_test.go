package service_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/testenv"
	wf "github.com/opencloud/opencloud/libs/workflow"

	catalogservice "github.com/opencloud/opencloud/services/oc-catalog/service"
	workspaceservice "github.com/opencloud/opencloud/services/oc-workspace/service"

	"github.com/opencloud/opencloud/services/oc-workflow/client"
	"github.com/opencloud/opencloud/services/oc-workflow/service"
)

// Workflows saved while this peer went by "local" (OC_PEER_ID's old
// default) reference its resources by its real peer id once it starts with
// one, their workspaces still in step, even when two processes start
// together; a second start changes nothing.
func TestLocalPeerIDsBecomeThisPeers(t *testing.T) {
	backends(t, func(t *testing.T, base *env) {
		ctx := context.Background()
		old := peer(t, base, "")
		r := old.seed()
		for _, ref := range []*resource.Ref{&r.Data, &r.Proc, &r.Storage, &r.Compute} {
			ref.Peer = "" // this peer's, as a client may send them
		}
		in := pipeline("NDVI", r)
		in.Graph.Nodes[1].Resource.Peer = "local"
		w, err := old.as(alice).Create(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if got := w.Graph.Nodes[0].Resource.Peer; got != "local" || !w.WorkspaceInSync {
			t.Fatalf("before: node peer %q, workspace in sync %v; want local, true", got, w.WorkspaceInSync)
		}
		// A workflow stored with references that name no peer at all.
		bare := wf.Workflow{ID: uuid.NewString(), Name: "Bare", Owner: alice.Subject, Tags: []string{}, Graph: in.Graph}
		bare.Graph.Nodes = append([]wf.Node(nil), in.Graph.Nodes...)
		for i := range bare.Graph.Nodes {
			bare.Graph.Nodes[i].Resource.Peer = ""
		}
		if _, err := base.repo.Insert(ctx, bare); err != nil {
			t.Fatal(err)
		}

		key, err := peerid.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		self := key.PeerID().String()
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				if _, err := boot(base, self); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		now := peer(t, base, self)
		// Read by an admin first: the owner's read would bring the workspace
		// in step again itself.
		got, err := now.as(root).Get(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.WorkspaceInSync {
			t.Error("the workflow's workspace is no longer in step")
		}
		c := now.as(alice)
		after := map[string]int64{}
		for _, id := range []string{w.ID, bare.ID} {
			got, err := c.Get(ctx, id)
			if err != nil {
				t.Fatalf("workflow %s: %v", id, err)
			}
			after[id] = got.Version
			for _, n := range got.Graph.Nodes {
				if n.Resource.Peer != self {
					t.Errorf("workflow %s, node %s: peer %q, want %s", id, n.ID, n.Resource.Peer, self)
				}
			}
			if got.Version != 2 {
				t.Errorf("workflow %s: version %d, want 2 (rewritten once)", id, got.Version)
			}
		}
		ws, err := now.workspaces(alice).GetWorkspace(ctx, got.WorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		for _, entry := range ws.Resources {
			if entry.Ref.Peer != self {
				t.Errorf("the workflow's workspace holds %s, want peer %s", entry.Ref, self)
			}
		}
		uses, err := c.List(ctx, client.ListOptions{Uses: &resource.Ref{Peer: self, ID: r.Compute.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if uses.Total != 2 {
			t.Errorf("%d workflows use %s/%s, want 2", uses.Total, self, r.Compute.ID)
		}
		ex, err := c.Export(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ex.ExportedBy != self || ex.Graph.Nodes[1].Resource.Peer != self {
			t.Errorf("export: exported_by %q, node peer %q; want %s", ex.ExportedBy, ex.Graph.Nodes[1].Resource.Peer, self)
		}

		c = peer(t, base, self).as(alice)
		for id, v := range after {
			got, err := c.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != v {
				t.Errorf("workflow %s: version %d after a second start, %d before: it was written again", id, got.Version, v)
			}
		}
	})
}

// peer boots oc-catalog, oc-workspace and oc-workflow of peer id on the
// store, NATS and token issuer of base, behind a gateway of their own.
func peer(t *testing.T, base *env, id string) *env {
	t.Helper()
	e, err := boot(base, id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func boot(base *env, id string) (*env, error) {
	e := *base
	e.gw = testenv.NewGateway(e.t)
	e.URL = e.gw.URL
	cat, err := catalogservice.New(e.ctx, catalogservice.Deps{Logger: e.log, Store: e.st, NATS: e.nc, Verifier: e.iss.Verifier(e.ctx), PeerID: id})
	if err != nil {
		return nil, err
	}
	ws, err := workspaceservice.New(e.ctx, workspaceservice.Deps{Logger: e.log, Store: e.st, NATS: e.nc, Verifier: e.iss.Verifier(e.ctx),
		PeerID: id, GatewayURL: e.gw.URL})
	if err != nil {
		return nil, err
	}
	flow, err := service.New(e.ctx, service.Deps{Logger: e.log, Store: e.st, NATS: e.nc, Verifier: e.iss.Verifier(e.ctx),
		PeerID: id, GatewayURL: e.gw.URL})
	if err != nil {
		return nil, err
	}
	e.gw.Mount(cat, ws, flow)
	return &e, nil
}
