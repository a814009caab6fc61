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
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"
	wf "github.com/opencloud/opencloud/libs/workflow"

	catalogclient "github.com/opencloud/opencloud/services/oc-catalog/client"
	catalogservice "github.com/opencloud/opencloud/services/oc-catalog/service"
	workspaceclient "github.com/opencloud/opencloud/services/oc-workspace/client"
	workspaceservice "github.com/opencloud/opencloud/services/oc-workspace/service"

	"github.com/opencloud/opencloud/services/oc-workflow/client"
	workflowstore "github.com/opencloud/opencloud/services/oc-workflow/internal/store"
	"github.com/opencloud/opencloud/services/oc-workflow/service"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The users of the tests.
var (
	alice = authntest.User("alice", "lab-a")
	bob   = authntest.User("bob", "lab-b")
	root  = authntest.Admin("root")
)

const peerID = "peer-test"

// env is oc-catalog, oc-workspace and oc-workflow behind one gateway,
// sharing one store, one embedded NATS and one token issuer.
type env struct {
	t     testing.TB
	ctx   context.Context
	iss   *authntest.Issuer
	gw    *testenv.Gateway
	st    store.Store
	nc    *nats.Conn
	log   *slog.Logger
	repo  *workflowstore.Workflows
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
	cat, err := catalogservice.New(ctx, catalogservice.Deps{Logger: log, Store: st, NATS: nc, Verifier: e.iss.Verifier(ctx), PeerID: peerID})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := workspaceservice.New(ctx, workspaceservice.Deps{Logger: log, Store: st, NATS: nc, Verifier: e.iss.Verifier(ctx),
		PeerID: peerID, GatewayURL: e.gw.URL})
	if err != nil {
		t.Fatal(err)
	}
	e.gw.Mount(cat, ws, e.workflowService(peerID, e.gw.URL))
	if e.repo, err = workflowstore.Open(ctx, st); err != nil {
		t.Fatal(err)
	}
	return e
}

// workflowService builds an oc-workflow of peer peer reaching the other
// services at gateway.
func (e *env) workflowService(peer, gateway string) *service.Service {
	e.t.Helper()
	svc, err := service.New(e.ctx, service.Deps{Logger: e.log, Store: e.st, NATS: e.nc, Verifier: e.iss.Verifier(e.ctx),
		PeerID: peer, GatewayURL: gateway})
	if err != nil {
		e.t.Fatal(err)
	}
	return svc
}

func (e *env) token(p authn.Principal) string { return e.iss.Token(p) }

// as returns a workflow client acting as p.
func (e *env) as(p authn.Principal) *client.Client {
	return client.New(e.URL, client.StaticToken(e.token(p)), nil)
}

func (e *env) catalog(p authn.Principal) *catalogclient.Client {
	return catalogclient.New(e.URL, catalogclient.StaticToken(e.token(p)), nil)
}

func (e *env) workspaces(p authn.Principal) *workspaceclient.Client {
	return workspaceclient.New(e.URL, workspaceclient.StaticToken(e.token(p)), nil)
}

// count is how many workflows are stored, whoever owns them.
func (e *env) count() int64 {
	e.t.Helper()
	n, err := e.repo.Count(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// resources are catalog resources of each kind for building graphs.
type resources struct {
	Data, Proc, ClosedProc, Storage, Compute resource.Ref
}

// newResource creates a resource of kind k in the catalog as p.
func (e *env) newResource(p authn.Principal, k resource.Kind, name string, vis resource.Visibility, openSource bool) resource.Ref {
	e.t.Helper()
	in := resource.Input{Kind: k, Name: name, Visibility: vis}
	switch k {
	case resource.KindData:
		in.Data = &resource.Data{Location: "s3://tiles/2024/", Format: "geotiff", Jurisdiction: "FR"}
	case resource.KindProcessing:
		in.Processing = &resource.Processing{Image: "ghcr.io/acme/ndvi:1.2.0", OpenSource: openSource}
	case resource.KindStorage:
		in.Storage = &resource.Storage{Endpoint: "https://s3.example.org", Bucket: "shared-results", Jurisdiction: "FR"}
	case resource.KindCompute:
		in.Compute = &resource.Compute{ClusterRef: "edge-paris-1", Architecture: "arm64", CPUCores: 16, MemoryBytes: 64 << 30, Country: "FR"}
	}
	r, err := e.catalog(p).Create(context.Background(), in)
	if err != nil {
		e.t.Fatalf("create %s resource: %v", k, err)
	}
	return resource.Ref{Peer: peerID, ID: r.ID}
}

// seed creates public resources of alice's, one of each kind and a
// processing that is not open source.
func (e *env) seed() resources {
	return resources{
		Data:       e.newResource(alice, resource.KindData, "Tiles", resource.Public, false),
		Proc:       e.newResource(alice, resource.KindProcessing, "NDVI", resource.Public, true),
		ClosedProc: e.newResource(alice, resource.KindProcessing, "Closed NDVI", resource.Public, false),
		Storage:    e.newResource(alice, resource.KindStorage, "Results", resource.Public, false),
		Compute:    e.newResource(alice, resource.KindCompute, "Cluster", resource.Public, false),
	}
}

// pipeline is data → p1 → p2, each processing on the compute, p1 reading
// the storage and p2 writing to it.
func pipeline(name string, r resources) wf.Input {
	return wf.Input{Name: name, Description: "Vegetation index over Paris", Tags: []string{"ndvi", "paris"}, Graph: wf.Graph{
		Nodes: []wf.Node{
			{ID: "tiles", Kind: resource.KindData, Resource: r.Data, Position: wf.Position{X: 0, Y: 0}},
			{ID: "p1", Kind: resource.KindProcessing, Resource: r.Proc, Name: "Prepare", Position: wf.Position{X: 200, Y: 0}},
			{ID: "p2", Kind: resource.KindProcessing, Resource: r.Proc, Position: wf.Position{X: 400, Y: 0}},
			{ID: "k8s", Kind: resource.KindCompute, Resource: r.Compute, Position: wf.Position{X: 300, Y: 150}},
			{ID: "out", Kind: resource.KindStorage, Resource: r.Storage, Position: wf.Position{X: 600, Y: 0}},
		},
		Links: []wf.Link{
			{ID: "l1", Kind: wf.LinkData, From: "tiles", To: "p1"},
			{ID: "l2", Kind: wf.LinkDependency, From: "p1", To: "p2"},
			{ID: "l3", Kind: wf.LinkCompute, From: "p1", To: "k8s"},
			{ID: "l4", Kind: wf.LinkCompute, From: "p2", To: "k8s"},
			{ID: "l5", Kind: wf.LinkStorageRead, From: "out", To: "p1", Source: "inputs/", Destination: "/data/in"},
			{ID: "l6", Kind: wf.LinkStorageWrite, From: "p2", To: "out", Source: "/data/out/ndvi.tif", Destination: "results/ndvi.tif"},
		},
	}}
}

// create makes a workflow as p, failing the test on error.
func (e *env) create(p authn.Principal, in wf.Input) wf.Workflow {
	e.t.Helper()
	w, err := e.as(p).Create(context.Background(), in)
	if err != nil {
		e.t.Fatalf("create %q as %s: %v", in.Name, p.Subject, err)
	}
	return w
}

// response is a raw HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends a raw request to the service; token "" sends none.
func (e *env) do(method, path, token, body string, header ...string) response {
	e.t.Helper()
	return response(testenv.Do(e.t, method, e.URL+path, token, body, header...))
}

// envelope decodes an error envelope whose details are kept raw.
func (r response) envelope(t testing.TB) (code, message string, details json.RawMessage) {
	t.Helper()
	var env struct {
		Error *struct {
			Code    string          `json:"code"`
			Message string          `json:"message"`
			Details json.RawMessage `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil || env.Error == nil || env.Error.Code == "" || env.Error.Message == "" {
		t.Fatalf("status %d: body is not an error envelope: %.500s", r.Status, r.Body)
	}
	return env.Error.Code, env.Error.Message, env.Error.Details
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

// problems returns the validation of an invalid_workflow error, failing otherwise.
func problems(t testing.TB, err error) wf.Validation {
	t.Helper()
	v, ok := client.Problems(err)
	if !ok || status(err) != http.StatusBadRequest {
		t.Fatalf("got %v, want a 400 invalid_workflow", err)
	}
	return v
}

// waitFor receives one message or fails after a few seconds.
func waitFor(t testing.TB, ch <-chan *nats.Msg) *nats.Msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
		return nil
	}
}

// serve starts an HTTP server for h, closed when the test ends.
func serve(t testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
