package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/authn/authntest"
	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"
	wf "github.com/opencloud/opencloud/libs/workflow"

	catalogclient "github.com/opencloud/opencloud/services/oc-catalog/client"
	catalogservice "github.com/opencloud/opencloud/services/oc-catalog/service"
	workflowclient "github.com/opencloud/opencloud/services/oc-workflow/client"
	workflowservice "github.com/opencloud/opencloud/services/oc-workflow/service"
	workspaceservice "github.com/opencloud/opencloud/services/oc-workspace/service"

	"github.com/opencloud/opencloud/services/oc-scheduler/client"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
	"github.com/opencloud/opencloud/services/oc-scheduler/service"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The users of the tests.
var (
	alice = authntest.User("alice", "lab-a")
	bob   = authntest.User("bob", "lab-b")
	root  = authntest.Admin("root")
)

const peerID = "peer-test"

// env is oc-catalog, oc-workspace, oc-workflow and oc-scheduler behind one
// gateway, sharing one store, one embedded NATS and one token issuer.
type env struct {
	t     testing.TB
	ctx   context.Context
	iss   *authntest.Issuer
	gw    *testenv.Gateway
	st    store.Store
	nc    *nats.Conn
	log   *slog.Logger
	execs *executions.Store
	URL   string
	store string
}

// backends runs fn on each store backend.
func backends(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range []struct {
		name string
		open func(testing.TB) store.Store
	}{{"sqlite", testenv.SQLiteStore}, {"mongo", testenv.MongoStore}} {
		t.Run(b.name, func(t *testing.T) {
			e := start(t, b.open(t))
			e.store = b.name
			fn(t, e)
		})
	}
}

func start(t testing.TB, st store.Store) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	nc := testenv.NATS(t)
	log := testenv.Logger(t)
	if _, bench := t.(*testing.B); bench {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e := &env{t: t, ctx: ctx, iss: authntest.New(t), gw: testenv.NewGateway(t), st: st, nc: nc, log: log}
	e.URL = e.gw.URL
	v := e.iss.Verifier(ctx)
	cat, err := catalogservice.New(ctx, catalogservice.Deps{Logger: log, Store: st, NATS: nc, Verifier: v, PeerID: peerID})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := workspaceservice.New(ctx, workspaceservice.Deps{Logger: log, Store: st, NATS: nc, Verifier: v, PeerID: peerID, GatewayURL: e.gw.URL})
	if err != nil {
		t.Fatal(err)
	}
	flow, err := workflowservice.New(ctx, workflowservice.Deps{Logger: log, Store: st, NATS: nc, Verifier: v, PeerID: peerID, GatewayURL: e.gw.URL})
	if err != nil {
		t.Fatal(err)
	}
	e.gw.Mount(cat, ws, flow, e.scheduler(service.Deps{}))
	// The tests move executions as oc-schedulerd and oc-monitord will.
	if e.execs, err = executions.Open(ctx, st, executions.WithEvents(broker.NewPublisher(nc, "monitord"))); err != nil {
		t.Fatal(err)
	}
	return e
}

// scheduler builds an oc-scheduler on the env's store, NATS and gateway;
// d gives what differs.
func (e *env) scheduler(d service.Deps) *service.Service {
	e.t.Helper()
	d.Logger, d.Store, d.NATS, d.Verifier, d.PeerID, d.GatewayURL = e.log, e.st, e.nc, e.iss.Verifier(e.ctx), peerID, e.gw.URL
	svc, err := service.New(e.ctx, d)
	if err != nil {
		e.t.Fatal(err)
	}
	return svc
}

func (e *env) token(p authn.Principal) string { return e.iss.Token(p) }

// as returns a scheduler client acting as p.
func (e *env) as(p authn.Principal) *client.Client {
	return client.New(e.URL, client.StaticToken(e.token(p)), nil)
}

func (e *env) catalog(p authn.Principal) *catalogclient.Client {
	return catalogclient.New(e.URL, catalogclient.StaticToken(e.token(p)), nil)
}

// newResource creates a public resource as alice.
func (e *env) newResource(in resource.Input) resource.Ref {
	e.t.Helper()
	if in.Visibility == "" {
		in.Visibility = resource.Public
	}
	r, err := e.catalog(alice).Create(context.Background(), in)
	if err != nil {
		e.t.Fatalf("create %s resource: %v", in.Kind, err)
	}
	return resource.Ref{Peer: peerID, ID: r.ID}
}

// compute creates a compute of cores cores (0: declaring no capacity).
func (e *env) compute(name string, cores int64) resource.Ref {
	return e.newResource(resource.Input{Kind: resource.KindCompute, Name: name,
		Compute: &resource.Compute{ClusterRef: "edge-" + name, Architecture: "amd64", CPUCores: cores}})
}

// processing creates a processing asking for cpu millicores.
func (e *env) processing(name string, cpu int64) resource.Ref {
	return e.newResource(resource.Input{Kind: resource.KindProcessing, Name: name,
		Processing: &resource.Processing{Image: "ghcr.io/acme/" + name + ":1", Requests: resource.Requests{CPUMillicores: cpu}}})
}

func (e *env) storage(name string) resource.Ref {
	return e.newResource(resource.Input{Kind: resource.KindStorage, Name: name,
		Storage: &resource.Storage{Endpoint: "https://s3.example.org", Bucket: name}})
}

// workflow creates, as p, a workflow of procs processings (each its own
// node on proc) placed on comp, the last writing to storage when given.
func (e *env) workflow(p authn.Principal, name string, proc, comp resource.Ref, procs int, storage *resource.Ref) wf.Workflow {
	e.t.Helper()
	g := wf.Graph{Nodes: []wf.Node{{ID: "k8s", Kind: resource.KindCompute, Resource: comp}}}
	for i := range procs {
		id := "p" + string(rune('1'+i))
		g.Nodes = append(g.Nodes, wf.Node{ID: id, Kind: resource.KindProcessing, Resource: proc})
		g.Links = append(g.Links, wf.Link{ID: "c" + id, Kind: wf.LinkCompute, From: id, To: "k8s"})
		if i > 0 {
			g.Links = append(g.Links, wf.Link{ID: "d" + id, Kind: wf.LinkDependency, From: "p" + string(rune('0'+i)), To: id})
		}
	}
	if storage != nil {
		g.Nodes = append(g.Nodes, wf.Node{ID: "out", Kind: resource.KindStorage, Resource: *storage})
		g.Links = append(g.Links, wf.Link{ID: "w", Kind: wf.LinkStorageWrite, From: "p" + string(rune('0'+procs)), To: "out",
			Source: "/out/result.tif", Destination: "results/result.tif"})
	}
	w, err := workflowclient.New(e.URL, workflowclient.StaticToken(e.token(p)), nil).Create(context.Background(), wf.Input{Name: name, Graph: g})
	if err != nil {
		e.t.Fatalf("create workflow %q: %v", name, err)
	}
	return w
}

// counts are how many executions and bookings are stored.
func (e *env) counts() (int64, int64) {
	e.t.Helper()
	n, err := e.execs.Count(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := e.execs.CountBookings(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n, b
}

// response is a raw HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends a raw request; token "" sends none.
func (e *env) do(method, path, token, body string, header ...string) response {
	e.t.Helper()
	return response(testenv.Do(e.t, method, e.URL+path, token, body, header...))
}

// fields decodes the field errors of a 400 invalid_request.
func (r response) fields(t testing.TB) map[string]string {
	t.Helper()
	var env struct {
		Error struct {
			Code    string                `json:"code"`
			Details []apierror.FieldError `json:"details"`
		} `json:"error"`
	}
	if r.Status != http.StatusBadRequest || json.Unmarshal(r.Body, &env) != nil || env.Error.Code != "invalid_request" {
		t.Fatalf("want a 400 invalid_request, got %d %s", r.Status, r.Body)
	}
	out := map[string]string{}
	for _, f := range env.Error.Details {
		out[f.Field] = f.Problem
	}
	return out
}

// status is the HTTP status of a client error (0 for nil).
func status(err error) int {
	if err == nil {
		return 0
	}
	var ae *apierror.Error
	if errors.As(err, &ae) {
		return ae.Status
	}
	return -1
}

// serve starts an HTTP server for h, closed when the test ends.
func serve(t testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// day is a whole hour a day ahead, so that windows are in the future.
func day() time.Time { return time.Now().UTC().Truncate(time.Hour).Add(24 * time.Hour) }

func ptr[T any](v T) *T { return &v }

// planned is a mode-1 request without cron: one window [at, at+d).
func planned(at time.Time, d time.Duration) execution.Request {
	return execution.Request{Mode: execution.Planned, Start: at, DurationSeconds: int64(d / time.Second)}
}
