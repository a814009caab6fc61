package service_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/testenv"

	catalogservice "github.com/opencloud/opencloud/services/oc-catalog/service"
	workflowservice "github.com/opencloud/opencloud/services/oc-workflow/service"
	workspaceservice "github.com/opencloud/opencloud/services/oc-workspace/service"

	"github.com/opencloud/opencloud/services/oc-scheduler/client"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
	"github.com/opencloud/opencloud/services/oc-scheduler/service"
)

// Executions and bookings made while this peer went by "local" (OC_PEER_ID's
// old default) name it by its real peer id once it starts with one, so that
// what they hold stays held — even when two processes start together, and
// without taking an execution from the worker following it; a second start
// changes nothing.
func TestLocalPeerIDsBecomeThisPeers(t *testing.T) {
	backends(t, func(t *testing.T, base *env) {
		ctx := context.Background()
		old := stack(t, base, "")
		comp, proc := old.compute("solo", 0), old.processing("ndvi", 500)
		comp.Peer, proc.Peer = "", "local"
		w := old.workflow(alice, "Solo", proc, comp, 1, nil)
		at := day()
		first, err := old.as(alice).Book(ctx, w.ID, planned(at, 10*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		running, err := old.as(alice).Book(ctx, w.ID, planned(at.Add(time.Hour), 10*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if got := first.Executions[0].Steps[0].Compute.Peer; got != "local" {
			t.Fatalf("before: the step runs on peer %q, want local", got)
		}
		// The second one is followed by a worker, under its lease.
		now := executions.Stamp(time.Now())
		if _, err := base.execs.Claim(ctx, running.Executions[0].ID, "d1/w", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		lease, _, err := base.execs.Hold(ctx, running.Executions[0].ID, "d1/w", now.Add(time.Hour), now)
		if err != nil {
			t.Fatal(err)
		}
		// A booking stored with a resource naming no peer at all.
		if err := base.execs.InsertBooking(ctx, executions.Booked{RequestID: "legacy", Booking: execution.Booking{ID: "legacy",
			ExecutionID: "legacy", WorkflowID: w.ID, Resource: resource.Ref{ID: comp.ID}, Kind: resource.KindCompute,
			Start: at.Add(2 * time.Hour), End: at.Add(3 * time.Hour)}}); err != nil {
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
				if _, err := startStack(base, self); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		cur := stack(t, base, self)
		here := resource.Ref{Peer: self, ID: comp.ID}

		versions := map[string]int64{}
		for _, id := range []string{first.Executions[0].ID, running.Executions[0].ID} {
			x, err := cur.as(alice).Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			versions[id] = x.Version
			var peers []string
			for _, n := range x.Graph.Nodes {
				peers = append(peers, n.Resource.Peer)
			}
			for _, r := range x.Resources {
				peers = append(peers, r.PeerID)
			}
			for _, s := range x.Steps {
				peers = append(peers, s.Compute.Peer)
			}
			for _, p := range peers {
				if p != self {
					t.Errorf("execution %s names peer %q, want %s: %+v", id, p, self, x)
					break
				}
			}
			if r := cur.do(http.MethodGet, "/scheduler/executions/"+id, cur.token(alice), ""); r.Status != http.StatusOK || strings.Contains(string(r.Body), `"local"`) {
				t.Errorf("GET execution %s: %d %s; want no peer named local", id, r.Status, r.Body)
			}
		}
		held, err := cur.as(alice).Bookings(ctx, client.BookingOptions{Resource: here, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if held.Total != 3 {
			t.Errorf("%d bookings on %s, want 3 (both executions and the bare one)", held.Total, here)
		}
		for _, b := range held.Items {
			if b.Resource != here {
				t.Errorf("booking %s on %s, want %s", b.ID, b.Resource, here)
			}
		}
		// The window the first execution holds is still taken.
		_, err = cur.as(alice).Book(ctx, w.ID, planned(at, 10*time.Minute))
		if plan, ok := client.ConflictPlan(err); !ok || len(plan.Conflicts) != 1 || plan.Conflicts[0].Resource != here ||
			plan.Conflicts[0].Held[0].ExecutionID != first.Executions[0].ID {
			t.Errorf("booking the held window again: %v, want a conflict with execution %s on %s", err, first.Executions[0].ID, here)
		}
		// The worker still holds its execution, and writes what the
		// migration wrote.
		if err := lease.Renew(ctx, now.Add(2*time.Hour)); err != nil {
			t.Errorf("the worker lost its lease: %v", err)
		}
		x, err := lease.Update(ctx, []execution.State{execution.Starting}, func(x *execution.Execution) { x.Namespace = "exec-ns" })
		if err != nil || x.Steps[0].Compute.Peer != self {
			t.Errorf("the worker's write: %v, step on peer %q; want it written, on %s", err, x.Steps[0].Compute.Peer, self)
		}
		versions[x.ID] = x.Version

		again := stack(t, base, self)
		for id, v := range versions {
			x, err := again.as(alice).Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if x.Version != v {
				t.Errorf("execution %s: version %d after a second start, %d before: it was written again", id, x.Version, v)
			}
		}
	})
}

// stack is startStack failing t on error.
func stack(t *testing.T, base *env, peer string) *env {
	t.Helper()
	e, err := startStack(base, peer)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// startStack boots oc-catalog, oc-workspace, oc-workflow and oc-scheduler
// of peer on the store, NATS and token issuer of base, behind a gateway of
// their own.
func startStack(base *env, peer string) (*env, error) {
	e := *base
	e.gw = testenv.NewGateway(e.t)
	e.URL = e.gw.URL
	v := e.iss.Verifier(e.ctx)
	cat, err := catalogservice.New(e.ctx, catalogservice.Deps{Logger: e.log, Store: e.st, NATS: e.nc, Verifier: v, PeerID: peer})
	if err != nil {
		return nil, err
	}
	ws, err := workspaceservice.New(e.ctx, workspaceservice.Deps{Logger: e.log, Store: e.st, NATS: e.nc, Verifier: v, PeerID: peer, GatewayURL: e.gw.URL})
	if err != nil {
		return nil, err
	}
	flow, err := workflowservice.New(e.ctx, workflowservice.Deps{Logger: e.log, Store: e.st, NATS: e.nc, Verifier: v, PeerID: peer, GatewayURL: e.gw.URL})
	if err != nil {
		return nil, err
	}
	sched, err := service.New(e.ctx, service.Deps{Logger: e.log, Store: e.st, NATS: e.nc, Verifier: v, PeerID: peer, GatewayURL: e.gw.URL})
	if err != nil {
		return nil, err
	}
	e.gw.Mount(cat, ws, flow, sched)
	return &e, nil
}
