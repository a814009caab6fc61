package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/authn/authntest"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"

	catalogclient "github.com/opencloud/opencloud/services/oc-catalog/client"
	catalogservice "github.com/opencloud/opencloud/services/oc-catalog/service"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
	schedulerservice "github.com/opencloud/opencloud/services/oc-scheduler/service"

	"github.com/opencloud/opencloud/services/oc-datacenter/client"
	"github.com/opencloud/opencloud/services/oc-datacenter/service"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The users of the tests, and the services' own identity.
var (
	alice    = authntest.User("alice", "lab-a")
	root     = authntest.Admin("root")
	services = authntest.Admin("oc-services")
)

const (
	peerID      = "peer-test"
	clusterName = "test-cluster"
	retention   = time.Hour
)

// env is oc-catalog, oc-scheduler and oc-datacenter behind one gateway,
// sharing an embedded NATS and a token issuer; oc-scheduler keeps its
// executions in a store of its own, which execs writes the tests'
// executions to. With a cluster, kube is an admin client of it for the
// tests to look at what the service made.
type env struct {
	t     testing.TB
	ctx   context.Context
	iss   *authntest.Issuer
	URL   string
	dc    *service.Service
	execs *executions.Store
	kube  kubernetes.Interface // nil without a cluster
	base  service.Deps         // what the env's datacenter was built from
	st    store.Store
}

// backends runs fn on each store backend.
func backends(t *testing.T, fn func(t *testing.T, st store.Store)) {
	for _, b := range []struct {
		name string
		open func(testing.TB) store.Store
	}{{"sqlite", testenv.SQLiteStore}, {"mongo", testenv.MongoStore}} {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open(t)) })
	}
}

// credentialsKey is the tests' OC_DATACENTER_CREDENTIALS_KEY.
var credentialsKey = []byte("0123456789abcdef0123456789abcdef")

// noCredentialsKey builds the env's datacenter without a credentials key.
func noCredentialsKey(d *service.Deps) { d.CredentialsKey = nil }

// withCluster starts the env on the project's test cluster (the test is
// skipped when it is not built).
func withCluster(t testing.TB, st store.Store, opts ...func(*service.Deps)) *env {
	t.Helper()
	c := testenv.Cluster(t)
	e := start(t, st, c.Kubeconfig, opts...)
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if e.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return e
}

func start(t testing.TB, st store.Store, kubeconfig string, opts ...func(*service.Deps)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	nc := testenv.NATS(t)
	log := testenv.Logger(t)
	iss := authntest.New(t)
	v := iss.Verifier(ctx)
	gw := testenv.NewGateway(t)
	cat, err := catalogservice.New(ctx, catalogservice.Deps{Logger: log, Store: st, NATS: nc, Verifier: v, PeerID: peerID})
	if err != nil {
		t.Fatal(err)
	}
	// The scheduler family alone holds the executions: oc-datacenter asks
	// oc-scheduler, with the services' identity.
	schedStore := testenv.SQLiteStore(t)
	sched, err := schedulerservice.New(ctx, schedulerservice.Deps{Logger: log, Store: schedStore, NATS: nc, Verifier: v,
		PeerID: peerID, GatewayURL: gw.URL})
	if err != nil {
		t.Fatal(err)
	}
	base := service.Deps{Logger: log, Store: st, NATS: nc, Verifier: v, PeerID: peerID,
		GatewayURL: gw.URL, Kubeconfig: kubeconfig, Cluster: clusterName, Retention: retention, CredentialsKey: credentialsKey,
		ServiceToken: apiclient.StaticToken(iss.Token(services))}
	for _, o := range opts {
		o(&base)
	}
	dc, err := service.New(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	gw.Mount(cat, dc, sched)
	execs, err := executions.Open(ctx, schedStore)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, iss: iss, URL: gw.URL, dc: dc, execs: execs, base: base, st: st}
}

// deps are the env's Deps with the non-zero fields of d over them.
func (e *env) deps(d service.Deps) service.Deps {
	out := e.base
	if d.Kubeconfig != "" {
		out.Kubeconfig = d.Kubeconfig
	}
	if d.Cluster != "" {
		out.Cluster = d.Cluster
	}
	if d.Retention != 0 {
		out.Retention = d.Retention
	}
	if d.SweepInterval != 0 {
		out.SweepInterval = d.SweepInterval
	}
	if d.CredentialsKey != nil {
		out.CredentialsKey = d.CredentialsKey
	}
	return out
}

func (e *env) token(p authn.Principal) string { return e.iss.Token(p) }

// as returns a datacenter client acting as p.
func (e *env) as(p authn.Principal) *client.Client {
	return client.New(e.URL, client.StaticToken(e.token(p)), nil)
}

func (e *env) catalog(p authn.Principal) *catalogclient.Client {
	return catalogclient.New(e.URL, catalogclient.StaticToken(e.token(p)), nil)
}

// do sends a raw request; token "" sends none.
func (e *env) do(method, path, token, body string) testenv.Response {
	e.t.Helper()
	return testenv.Do(e.t, method, e.URL+path, token, body)
}

// newExecution returns a fresh execution id whose namespace is released
// when the test ends, whatever the test did with it.
func (e *env) newExecution() string {
	id := uuid.NewString()
	if e.kube != nil {
		e.t.Cleanup(func() {
			err := e.kube.CoreV1().Namespaces().Delete(context.Background(), execution.Namespace(id), metav1.DeleteOptions{})
			// A namespace already being deleted answers Conflict.
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				e.t.Errorf("clean up namespace of %s: %v", id, err)
			}
		})
	}
	return id
}

// namespaceGone waits until the namespace is deleted, or is being deleted
// when finished is false.
func (e *env) namespaceGone(name string, finished bool) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ns, err := e.kube.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		if err != nil {
			e.t.Fatal(err)
		}
		if !finished && ns.DeletionTimestamp != nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("namespace %s still there after 60 s (phase %s)", name, ns.Status.Phase)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// alive reports whether the namespace exists and is not being deleted.
func (e *env) alive(name string) bool {
	e.t.Helper()
	ns, err := e.kube.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return ns.DeletionTimestamp == nil
}

// apiErr is the *apierror.Error of a client call, failing when there is none.
func apiErr(t testing.TB, err error) *apierror.Error {
	t.Helper()
	var ae *apierror.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want an API error, got %v", err)
	}
	return ae
}

// envelope decodes a raw error answer.
func envelope(t testing.TB, r testenv.Response) apierror.Error {
	t.Helper()
	var env struct {
		Error struct {
			Code    string                `json:"code"`
			Message string                `json:"message"`
			Details []apierror.FieldError `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil || env.Error.Code == "" || env.Error.Message == "" {
		t.Fatalf("status %d: body is not an error envelope: %s", r.Status, r.Body)
	}
	return apierror.Error{Status: r.Status, Code: env.Error.Code, Message: env.Error.Message, Details: env.Error.Details}
}
