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

	"github.com/opencloud/opencloud/services/oc-catalog/client"
	catalogstore "github.com/opencloud/opencloud/services/oc-catalog/internal/store"
	"github.com/opencloud/opencloud/services/oc-catalog/service"
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

// env is one catalog booted in-process on a real store, a real embedded
// NATS and the test token issuer, reached over HTTP.
type env struct {
	t     testing.TB
	iss   *authntest.Issuer
	URL   string
	NATS  *nats.Conn
	store *catalogstore.Resources
}

// backends runs fn against a catalog on each store backend.
func backends(t *testing.T, fn func(t *testing.T, e *env)) {
	for name, open := range map[string]func(testing.TB) store.Store{
		"sqlite": testenv.SQLiteStore,
		"mongo":  testenv.MongoStore,
	} {
		t.Run(name, func(t *testing.T) { fn(t, start(t, open(t))) })
	}
}

func start(t testing.TB, st store.Store) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	nc := testenv.NATS(t)
	iss := authntest.New(t)
	log := testenv.Logger(t)
	if _, bench := t.(*testing.B); bench {
		// Benchmarks measure the service with its access log on, but not
		// the cost of printing it into the benchmark's output.
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	svc, err := service.New(ctx, service.Deps{
		Logger: log, Store: st, NATS: nc, Verifier: iss.Verifier(ctx), PeerID: peerID,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	repo, err := catalogstore.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, iss: iss, URL: srv.URL, NATS: nc, store: repo}
}

// as returns a client acting as p.
func (e *env) as(p authn.Principal) *client.Client {
	return client.New(e.URL, client.StaticToken(e.iss.Token(p)), nil)
}

// count is how many resources are stored, whoever may see them.
func (e *env) count() int64 {
	e.t.Helper()
	n, err := e.store.Count(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// stored reads a resource straight from the store.
func (e *env) stored(id string) resource.Resource {
	e.t.Helper()
	r, err := e.store.Get(context.Background(), id)
	if err != nil {
		e.t.Fatalf("stored %s: %v", id, err)
	}
	return r
}

// create makes a resource as p, failing the test on error.
func (e *env) create(p authn.Principal, in resource.Input) resource.Resource {
	e.t.Helper()
	r, err := e.as(p).Create(context.Background(), in)
	if err != nil {
		e.t.Fatalf("create %q as %s: %v", in.Name, p.Subject, err)
	}
	return r
}

// response is a raw HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// envelope decodes the error envelope of the response, failing if there is none.
func (r response) envelope(t testing.TB) *apierror.Error {
	t.Helper()
	var env struct {
		Error *struct {
			Code    string          `json:"code"`
			Message string          `json:"message"`
			Details json.RawMessage `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil || env.Error == nil || env.Error.Code == "" || env.Error.Message == "" {
		t.Fatalf("status %d: body is not an error envelope: %s", r.Status, r.Body)
	}
	var fields []apierror.FieldError
	_ = json.Unmarshal(env.Error.Details, &fields)
	return &apierror.Error{Status: r.Status, Code: env.Error.Code, Message: env.Error.Message, Details: fields}
}

// do sends a raw request to the service; token "" sends none.
func (e *env) do(method, path, token, body string, header ...string) response {
	e.t.Helper()
	return response(testenv.Do(e.t, method, e.URL+path, token, body, header...))
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

// sample returns a valid input of kind k.
func sample(k resource.Kind, name string) resource.Input {
	in := resource.Input{Kind: k, Name: name, Visibility: resource.Public}
	switch k {
	case resource.KindData:
		in.Data = &resource.Data{Location: "s3://tiles/2024/", Format: "geotiff", SizeBytes: 1 << 30, PersonalData: true, Jurisdiction: "FR"}
	case resource.KindProcessing:
		in.Processing = &resource.Processing{Image: "ghcr.io/acme/ndvi:1.2.0", Command: []string{"/ndvi"}, Args: []string{"--fast"},
			Env: map[string]string{"MODE": "fast"}, Ports: []int{8080}, OpenSource: true,
			Requests: resource.Requests{CPUMillicores: 500, MemoryBytes: 512 << 20, GPUs: 1}}
		in.Pricing = &resource.Pricing{Model: resource.PerUse, Amount: 0.25, Currency: "EUR"}
	case resource.KindStorage:
		in.Storage = &resource.Storage{Endpoint: "https://s3.example.org", Bucket: "shared-results", Region: "eu-west-3",
			CapacityBytes: 1 << 40, Jurisdiction: "EU", Encryption: resource.EncryptionSSES3}
		in.Pricing = &resource.Pricing{Model: resource.Subscription, Amount: 9.5, Currency: "EUR", Period: resource.Month}
	case resource.KindCompute:
		in.Compute = &resource.Compute{ClusterRef: "edge-paris-1", Architecture: "arm64", CPUCores: 16, MemoryBytes: 64 << 30,
			GPUs: 2, GPUModel: "A100", Location: "Paris, DC2", Country: "FR", CarbonIntensity: 56,
			SecurityStandards: []string{"ISO27001", "SecNumCloud"}}
		in.Pricing = &resource.Pricing{Model: resource.PerHour, Amount: 1.2, Currency: "EUR"}
	case resource.KindWorkflow:
		in.Workflow = &resource.Workflow{WorkflowID: "6b0e3c6c-4d0a-4d21-9a43-0e4c1d7b9f10"}
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
