package service_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/authn/authntest"
	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"
	"github.com/opencloud/opencloud/libs/workflow"
	"github.com/opencloud/opencloud/libs/workspace"

	catalogservice "github.com/opencloud/opencloud/services/oc-catalog/service"
	"github.com/opencloud/opencloud/services/oc-workspace/client"
	wsstore "github.com/opencloud/opencloud/services/oc-workspace/internal/store"
	wsdomain "github.com/opencloud/opencloud/services/oc-workspace/internal/workspace"
	"github.com/opencloud/opencloud/services/oc-workspace/service"
)

// Workspaces, areas and area histories written while this peer went by
// "local" (OC_PEER_ID's old default) name it by its real peer id once it
// starts with one — and so what they share stays visible, findable and
// within its rules — even when two processes start together; a second
// start changes nothing.
func TestLocalPeerIDsBecomeThisPeers(t *testing.T) {
	for name, open := range map[string]func(testing.TB) store.Store{"sqlite": testenv.SQLiteStore, "mongo": testenv.MongoStore} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st, nc, iss := open(t), testenv.NATS(t), authntest.New(t)
			flows := &fakeWorkflows{items: map[string]workflow.Workflow{}}
			old := bootPeer(t, st, nc, iss, flows, "")

			local := func(in resource.Input) resource.Ref {
				return resource.Ref{Peer: "local", ID: old.resource(alice, in).ID}
			}
			tiles, ndvi, k8s := local(data("Tiles", false, "FR")), local(processing("NDVI", true)), local(compute("K8s", "FR"))
			bucket := local(storage("Results", resource.Private, "FR"))
			ws := must(old.as(alice).CreateWorkspace(ctx, workspace.Input{Name: "Study",
				Resources: []resource.Ref{{ID: tiles.ID}, ndvi}}))(t)
			wfID := "6b0e3c6c-4d0a-4d21-9a43-0e4c1d7b9f10"
			// The workflow as oc-workflow serves it, its references on peer.
			flow := func(peer string, version int64) workflow.Workflow {
				on := func(r resource.Ref) resource.Ref { return resource.Ref{Peer: peer, ID: r.ID} }
				return workflow.Workflow{ID: wfID, Name: "NDVI", Owner: "alice", Version: version, Graph: workflow.Graph{
					Nodes: []workflow.Node{{ID: "p", Kind: resource.KindProcessing, Resource: on(ndvi)},
						{ID: "c", Kind: resource.KindCompute, Resource: on(k8s)}, {ID: "s", Kind: resource.KindStorage, Resource: on(bucket)}},
					Links: []workflow.Link{{ID: "l1", Kind: workflow.LinkCompute, From: "p", To: "c"},
						{ID: "l2", Kind: workflow.LinkStorageWrite, From: "p", To: "s", Source: "/o", Destination: "o"}}}}
			}
			flows.put(flow("local", 1))
			a := must(old.as(alice).CreateArea(ctx, workspace.AreaInput{Name: "Consortium", Members: []string{"bob"},
				Peers: []string{"partner-b"},
				Rules: []workspace.Rule{{ID: "here", Kind: workspace.RuleComputePeers, Peers: []string{"local"}}}}))(t)
			for _, s := range []struct {
				kind workspace.SharedKind
				ref  resource.Ref
			}{{workspace.SharedWorkspace, resource.Ref{ID: ws.ID}}, {workspace.SharedWorkflow, resource.Ref{Peer: "local", ID: wfID}},
				{workspace.SharedResource, tiles}, {workspace.SharedResource, bucket}} {
				a = must(old.as(alice).Share(ctx, a.ID, s.kind, s.ref))(t)
			}
			a = must(old.as(alice).Unshare(ctx, a.ID, workspace.SharedResource, bucket))(t)
			a = must(old.as(alice).SetRules(ctx, a.ID, a.Version, []workspace.Rule{
				{ID: "here", Kind: workspace.RuleComputePeers, Peers: []string{"local"}},
				{ID: "eu", Kind: workspace.RuleJurisdictions, Jurisdictions: []string{"EU"}}}))(t).Area
			if a.Shared[0].Ref.Peer != "local" || a.Members[0].Stamp.Peer != "local" {
				t.Fatalf("before: the area names this peer %q and %q, want local", a.Shared[0].Ref.Peer, a.Members[0].Stamp.Peer)
			}
			// A workspace stored with a reference naming no peer at all.
			bare := wsdomain.Record{Workspace: workspace.Workspace{ID: "8d0b6c1e-0000-4000-8000-000000000001", Name: "Bare", Owner: "alice",
				Resources: []workspace.Entry{{Ref: resource.Ref{ID: tiles.ID}, AddedAt: time.Now().UTC().Truncate(time.Millisecond)}},
				CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}}
			if _, err := old.workspaces.Insert(ctx, bare); err != nil {
				t.Fatal(err)
			}

			key, err := peerid.GenerateKey(nil)
			if err != nil {
				t.Fatal(err)
			}
			self := key.PeerID().String()
			flows.put(flow(self, 2)) // oc-workflow rewrites its references as it starts
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					if _, err := startPeer(t, st, nc, iss, flows, self); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			now := bootPeer(t, st, nc, iss, flows, self)

			versions := map[string]int64{}
			for _, id := range []string{ws.ID, bare.ID} {
				w := must(now.as(alice).GetWorkspace(ctx, id))(t)
				versions[id] = w.Version
				for _, entry := range w.Resources {
					if entry.Ref.Peer != self {
						t.Errorf("workspace %s holds %s, want peer %s", w.Name, entry.Ref, self)
					}
				}
			}
			got := must(now.as(alice).GetArea(ctx, a.ID))(t)
			versions[a.ID] = got.Version
			checkArea(t, got, self)
			if want := []string{"partner-b"}; len(got.Peers) != 1 || got.Peers[0].Peer != want[0] {
				t.Errorf("member peers %+v, want partner-b only", got.Peers)
			}
			history := must(now.as(alice).History(ctx, a.ID, 100, 0))(t)
			for _, op := range history.Items {
				if op.Stamp.Peer != self || strings.Contains(string(op.Data), `"local"`) || strings.Contains(string(op.Data), `"peer":""`) {
					t.Errorf("history: %s by peer %q with %s; want every peer %s", op.Type, op.Stamp.Peer, op.Data, self)
				}
			}
			var created workspace.Area
			if err := json.Unmarshal(history.Items[len(history.Items)-1].Data, &created); err != nil {
				t.Fatal(err)
			}
			if created.Rules[0].Peers[0] != self {
				t.Errorf("history: the area was created with rule peers %v, want %s", created.Rules[0].Peers, self)
			}
			for _, path := range []string{"/workspace/areas/" + a.ID, "/workspace/areas/" + a.ID + "/history?limit=100"} {
				if r := now.do(http.MethodGet, path, now.iss.Token(alice), ""); r.Status != http.StatusOK || strings.Contains(string(r.Body), `"local"`) {
					t.Errorf("GET %s: %d %s; want no peer named local", path, r.Status, r.Body)
				}
			}

			// What the area shares is this peer's, so members see it and
			// lists find it by this peer's id.
			shared := must(now.as(bob).ListWorkspaces(ctx, client.WorkspaceListOptions{AreaID: a.ID}))(t)
			if shared.Total != 1 || shared.Items[0].ID != ws.ID {
				t.Errorf("bob sees %d workspaces shared in the area, want the study", shared.Total)
			}
			for _, o := range []client.AreaListOptions{{WorkflowID: wfID}, {WorkspaceID: ws.ID}, {Resource: self + "/" + tiles.ID}} {
				if page := must(now.as(bob).ListAreas(ctx, o))(t); page.Total != 1 {
					t.Errorf("areas listed by %+v: %d, want 1", o, page.Total)
				}
			}
			if rep := must(now.as(alice).Violations(ctx, a.ID))(t); len(rep.Violations) != 0 || len(rep.Unchecked) != 0 {
				t.Errorf("violations %+v, unchecked %+v; want none: every resource is this peer's, the compute too", rep.Violations, rep.Unchecked)
			}

			again := bootPeer(t, st, nc, iss, flows, self)
			for id, v := range versions {
				var version int64
				if id == a.ID {
					version = must(again.as(alice).GetArea(ctx, id))(t).Version
				} else {
					version = must(again.as(alice).GetWorkspace(ctx, id))(t).Version
				}
				if version != v {
					t.Errorf("%s: version %d after a second start, %d before: it was written again", id, version, v)
				}
			}
			if h := must(again.as(alice).History(ctx, a.ID, 100, 0))(t); !slices.EqualFunc(h.Items, history.Items, func(x, y workspace.Op) bool {
				return x.ID == y.ID && string(x.Data) == string(y.Data) && x.Stamp == y.Stamp
			}) {
				t.Error("the area's history changed at a second start")
			}
		})
	}
}

// checkArea fails t for every peer id of a that is not self (member peers
// aside: they are other peers).
func checkArea(t *testing.T, a workspace.Area, self string) {
	t.Helper()
	var peers []string
	for _, m := range a.Members {
		peers = append(peers, m.Stamp.Peer)
	}
	for _, s := range a.Shared {
		peers = append(peers, s.Ref.Peer, s.Stamp.Peer)
		for _, r := range append(s.Usage.Resources, s.Usage.Writes...) {
			peers = append(peers, r.Peer)
		}
	}
	for _, r := range a.Rules {
		peers = append(peers, r.Stamp.Peer)
		peers = append(peers, r.Peers...)
	}
	if len(a.Shared) != 3 || len(a.Rules) != 2 {
		t.Fatalf("the area shares %d items with %d rules, want 3 and 2", len(a.Shared), len(a.Rules))
	}
	for _, p := range peers {
		if p != self {
			t.Errorf("the area names peer %q, want %s: %+v", p, self, a)
			return
		}
	}
}

// bootPeer is startPeer failing t on error.
func bootPeer(t *testing.T, st store.Store, nc *nats.Conn, iss *authntest.Issuer, flows *fakeWorkflows, id string) *env {
	t.Helper()
	e, err := startPeer(t, st, nc, iss, flows, id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// startPeer boots oc-catalog and oc-workspace of peer id on st behind a
// gateway of their own.
func startPeer(t testing.TB, st store.Store, nc *nats.Conn, iss *authntest.Issuer, flows *fakeWorkflows, id string) (*env, error) {
	ctx, log, gw := t.Context(), testenv.Logger(t), testenv.NewGateway(t)
	cat, err := catalogservice.New(ctx, catalogservice.Deps{Logger: log, Store: st, NATS: nc, Verifier: iss.Verifier(ctx), PeerID: id})
	if err != nil {
		return nil, err
	}
	ws, err := service.New(ctx, service.Deps{Logger: log, Store: st, NATS: nc, Verifier: iss.Verifier(ctx),
		PeerID: id, GatewayURL: gw.URL, Workflows: flows})
	if err != nil {
		return nil, err
	}
	gw.Mount(cat, ws)
	w, a, o, err := wsstore.Open(ctx, st)
	if err != nil {
		return nil, err
	}
	return &env{t: t, iss: iss, URL: gw.URL, NATS: nc, workspaces: w, areas: a, ops: o, workflows: flows}, nil
}
