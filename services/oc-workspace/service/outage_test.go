package service_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/authn/authntest"
	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"
	"github.com/opencloud/opencloud/libs/workflow"
	"github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/client"
	"github.com/opencloud/opencloud/services/oc-workspace/service"
)

// restartableNATS is an embedded NATS server on a fixed port and store
// directory, so that it can be stopped and started again as a real broker
// outage would.
type restartableNATS struct {
	t    testing.TB
	port int
	dir  string
	emb  *broker.Embedded
}

func newRestartableNATS(t testing.TB) *restartableNATS {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	n := &restartableNATS{t: t, port: port, dir: t.TempDir()}
	n.start()
	t.Cleanup(func() {
		if n.emb != nil {
			n.emb.Shutdown()
		}
	})
	return n
}

func (n *restartableNATS) url() string { return "nats://127.0.0.1:" + strconv.Itoa(n.port) }

func (n *restartableNATS) start() {
	n.t.Helper()
	emb, err := broker.StartEmbedded(broker.EmbeddedOptions{Port: n.port, StoreDir: n.dir})
	if err != nil {
		n.t.Fatal(err)
	}
	n.emb = emb
}

func (n *restartableNATS) stop() {
	n.emb.Shutdown()
	n.emb = nil
}

// TestAreasFollowWorkflowsThroughANATSOutage stops NATS for 30 s while
// oc-workflow renames one shared workflow and deletes another, and restarts
// meanwhile (the events it could not send die with it): once NATS is back,
// the areas reflect both changes.
func TestAreasFollowWorkflowsThroughANATSOutage(t *testing.T) {
	for _, b := range []struct {
		name string
		open func(testing.TB) store.Store
	}{{"sqlite", testenv.SQLiteStore}, {"mongo", testenv.MongoStore}} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			outage(t, b.open(t))
		})
	}
}

func outage(t *testing.T, st store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ns := newRestartableNATS(t)
	log := testenv.Logger(t)
	connect := func(name string) *nats.Conn {
		nc, err := broker.Connect(ctx, ns.url(), name, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	nc := connect("oc-workspace")
	if err := broker.EnsureStream(ctx, nc, time.Hour); err != nil {
		t.Fatal(err)
	}
	iss := authntest.New(t)
	gw := testenv.NewGateway(t)
	wf := &fakeWorkflows{items: map[string]workflow.Workflow{}}
	ws, err := service.New(ctx, service.Deps{Logger: log, Store: st, NATS: nc, Verifier: iss.Verifier(ctx),
		PeerID: peerID, GatewayURL: gw.URL, Workflows: wf,
		ServiceToken: apiclient.StaticToken(iss.Token(services)), ReconcileInterval: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	gw.Mount(ws)
	ran := make(chan struct{})
	go func() { defer close(ran); _ = ws.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ran })

	// oc-workflow: its store, and the events it publishes after each change.
	workflowNATS := connect("oc-workflow")
	pub := broker.NewPublisher(workflowNATS, "workflow")
	change := func(w workflow.Workflow, deleted bool) {
		t.Helper()
		typ := event.WorkflowUpdated
		wf.mu.Lock()
		if deleted {
			delete(wf.items, w.ID)
			typ = event.WorkflowDeleted
		} else {
			wf.items[w.ID] = w
		}
		wf.mu.Unlock()
		if err := pub.Publish(ctx, typ, w.ID, "alice", w); err != nil {
			t.Logf("publish %s: %v (the store is the truth)", typ, err)
		}
	}
	renamed := workflow.Workflow{ID: "wf-renamed", Name: "NDVI", Owner: "alice"}
	deleted := workflow.Workflow{ID: "wf-deleted", Name: "Tiles", Owner: "alice"}
	change(renamed, false)
	change(deleted, false)
	c := client.New(gw.URL, client.StaticToken(iss.Token(alice)), nil)
	a := must(c.CreateArea(ctx, workspace.AreaInput{Name: "Outage"}))(t)
	for _, id := range []string{renamed.ID, deleted.ID} {
		a = must(c.Share(ctx, a.ID, workspace.SharedWorkflow, resource.Ref{ID: id}))(t)
	}

	ns.stop()
	renamed.Name = "NDVI 2"
	change(renamed, false)
	change(deleted, true)
	// oc-workflow restarts while NATS is down.
	workflowNATS.Close()
	pub = broker.NewPublisher(connect("oc-workflow"), "workflow")
	time.Sleep(30 * time.Second)
	ns.start()

	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		a = must(c.GetArea(ctx, a.ID))(t)
		if len(a.Shared) == 1 && a.Shared[0].Ref.ID == renamed.ID && a.Shared[0].Name == "NDVI 2" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("15 s after NATS came back, the area shares %+v; want only %s named %q", a.Shared, renamed.ID, renamed.Name)
		}
	}
}
