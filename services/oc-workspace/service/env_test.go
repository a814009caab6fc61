package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/authn/authntest"
	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"
	"github.com/opencloud/opencloud/libs/workflow"

	catalogclient "github.com/opencloud/opencloud/services/oc-catalog/client"
	catalogservice "github.com/opencloud/opencloud/services/oc-catalog/service"
	"github.com/opencloud/opencloud/services/oc-workspace/client"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/errs"
	wsstore "github.com/opencloud/opencloud/services/oc-workspace/internal/store"
	"github.com/opencloud/opencloud/services/oc-workspace/service"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The users of the tests.
var (
	alice = authntest.User("alice", "lab-a")
	bob   = authntest.User("bob", "lab-b")
	carol = authntest.User("carol", "lab-a")
	root  = authntest.Admin("root")
)

const peerID = "peer-test"

// env is the catalog and oc-workspace booted in-process behind one
// gateway, on one real store, one embedded NATS and the test token issuer.
type env struct {
	t          testing.TB
	iss        *authntest.Issuer
	URL        string
	NATS       *nats.Conn
	workspaces *wsstore.Workspaces
	areas      *wsstore.Areas
	ops        *wsstore.Ops
	workflows  *fakeWorkflows
}

// backends runs fn against the services on each store backend.
func backends(t *testing.T, fn func(t *testing.T, e *env), opts ...option) {
	for _, b := range []struct {
		name string
		open func(testing.TB) store.Store
	}{{"sqlite", testenv.SQLiteStore}, {"mongo", testenv.MongoStore}} {
		t.Run(b.name, func(t *testing.T) { fn(t, start(t, b.open(t), opts...)) })
	}
}

// option changes what the service of an env is built from.
type option func(d *service.Deps, iss *authntest.Issuer)

func start(t testing.TB, st store.Store, opts ...option) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	nc := testenv.NATS(t)
	iss := authntest.New(t)
	log := testenv.Logger(t)
	gw := testenv.NewGateway(t)
	cat, err := catalogservice.New(ctx, catalogservice.Deps{Logger: log, Store: st, NATS: nc, Verifier: iss.Verifier(ctx), PeerID: peerID})
	if err != nil {
		t.Fatal(err)
	}
	wf := &fakeWorkflows{items: map[string]workflow.Workflow{}}
	deps := service.Deps{Logger: log, Store: st, NATS: nc, Verifier: iss.Verifier(ctx),
		PeerID: peerID, GatewayURL: gw.URL, Workflows: wf}
	for _, o := range opts {
		o(&deps, iss)
	}
	ws, err := service.New(ctx, deps)
	if err != nil {
		t.Fatal(err)
	}
	gw.Mount(cat, ws)
	ran := make(chan struct{})
	go func() { defer close(ran); _ = ws.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ran })
	// Events published before the service's consumer exists would not reach it.
	js, _ := nc.JetStream()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := js.ConsumerInfo(broker.StreamName, "oc-workspace-workflows"); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the workflow events consumer was not created: %v", err)
		}
	}
	w, a, o, err := wsstore.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, iss: iss, URL: gw.URL, NATS: nc, workspaces: w, areas: a, ops: o, workflows: wf}
}

// fakeWorkflows stands in for oc-workflow: workflows by id, readable by
// their owner and admins only.
type fakeWorkflows struct {
	mu    sync.Mutex
	items map[string]workflow.Workflow
}

func (f *fakeWorkflows) put(w workflow.Workflow) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items[w.ID] = w
}

// Get implements workflows.Fetcher; the token's subject is not checked
// here (oc-workflow does it), only presence.
func (f *fakeWorkflows) Get(_ context.Context, token, id string) (workflow.Workflow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, ok := f.items[id]
	if !ok || token == "" {
		return workflow.Workflow{}, errs.NotFound("workflow")
	}
	return w, nil
}

// as returns a workspace client acting as p.
func (e *env) as(p authn.Principal) *client.Client {
	return client.New(e.URL, client.StaticToken(e.iss.Token(p)), nil)
}

// catalog returns a catalog client acting as p.
func (e *env) catalog(p authn.Principal) *catalogclient.Client {
	return catalogclient.New(e.URL, catalogclient.StaticToken(e.iss.Token(p)), nil)
}

// resource creates a catalog resource as p and returns its reference.
func (e *env) resource(p authn.Principal, in resource.Input) resource.Ref {
	e.t.Helper()
	r, err := e.catalog(p).Create(context.Background(), in)
	if err != nil {
		e.t.Fatalf("create resource %q: %v", in.Name, err)
	}
	return resource.Ref{Peer: peerID, ID: r.ID}
}

// must returns v, failing the test given to the result if err is not nil:
// must(c.Get(ctx, id))(t).
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
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

// apiErr returns the *apierror.Error of err, failing if it is not one.
func apiErr(t testing.TB, err error) *apierror.Error {
	t.Helper()
	var ae *apierror.Error
	if !errors.As(err, &ae) {
		t.Fatalf("expected an API error, got %v", err)
	}
	return ae
}

// response is a raw HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// fields decodes the field errors of an error envelope.
func (r response) fields(t testing.TB) []apierror.FieldError {
	t.Helper()
	var env struct {
		Error *struct {
			Code    string                `json:"code"`
			Message string                `json:"message"`
			Details []apierror.FieldError `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil || env.Error == nil || env.Error.Message == "" {
		t.Fatalf("status %d: body is not an error envelope: %s", r.Status, r.Body)
	}
	return env.Error.Details
}

// do sends a raw request to the service; token "" sends none.
func (e *env) do(method, path, token, body string, header ...string) response {
	e.t.Helper()
	return response(testenv.Do(e.t, method, e.URL+path, token, body, header...))
}

// Sample resources.
func data(name string, personal bool, jurisdiction string) resource.Input {
	return resource.Input{Kind: resource.KindData, Name: name, Visibility: resource.Public,
		Data: &resource.Data{Location: "s3://tiles/" + name, PersonalData: personal, Jurisdiction: jurisdiction}}
}

func processing(name string, open bool) resource.Input {
	return resource.Input{Kind: resource.KindProcessing, Name: name, Visibility: resource.Public,
		Processing: &resource.Processing{Image: "ghcr.io/acme/" + strings.ToLower(name) + ":1", OpenSource: open}}
}

func compute(name, country string) resource.Input {
	return resource.Input{Kind: resource.KindCompute, Name: name, Visibility: resource.Public,
		Compute: &resource.Compute{ClusterRef: "c-" + strings.ToLower(name), Architecture: "amd64", Country: country}}
}

func storage(name string, v resource.Visibility, jurisdiction string) resource.Input {
	in := resource.Input{Kind: resource.KindStorage, Name: name, Visibility: v,
		Storage: &resource.Storage{Endpoint: "https://s3.example.org", Bucket: "b-" + strings.ReplaceAll(strings.ToLower(name), " ", "-"), Jurisdiction: jurisdiction}}
	if v == resource.Groups {
		in.Groups = []string{"lab-a"}
	}
	return in
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

func clientAll() client.AreaListOptions { return client.AreaListOptions{Limit: 200} }
