// Package service builds oc-datacenter from its dependencies, for its standalone
// main and for the all-in-one binary.
//
//	@title						OpenCloud datacenter API
//	@version					1.0
//	@description				This peer's Kubernetes side: each execution's namespace, service accounts (the steps' without any right, Argo's executor's), RBAC for Argo's executor and S3 credentials Secrets only the executor may read, removed after a retention period once the execution has ended; the S3 credentials of this peer's storages, kept encrypted (OC_DATACENTER_CREDENTIALS_KEY); the cluster's nodes, published in the catalog as compute resources. Every route needs a bearer token from oc-auth, and the routes that write need the admin role. Without a kubeconfig (OC_KUBECONFIG) the service runs, /datacenter/readyz says so, and the routes needing the cluster answer 503 no_cluster. Errors are {"error": {"code", "message", "details"}}.
//	@BasePath					/datacenter
//	@securityDefinitions.apikey	BearerAuth
//	@in							header
//	@name						Authorization
//	@description				"Bearer " followed by an access token from /auth.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/libs/store"

	catalogclient "github.com/opencloud/opencloud/services/oc-catalog/client"
	schedclient "github.com/opencloud/opencloud/services/oc-scheduler/client"

	"github.com/opencloud/opencloud/services/oc-datacenter/datacenter"
	// Registers the "datacenter" Swagger instance served at /datacenter/swagger/.
	_ "github.com/opencloud/opencloud/services/oc-datacenter/docs"
	"github.com/opencloud/opencloud/services/oc-datacenter/internal/credentials"
	"github.com/opencloud/opencloud/services/oc-datacenter/internal/httpapi"
	"github.com/opencloud/opencloud/services/oc-datacenter/internal/inventory"
	"github.com/opencloud/opencloud/services/oc-datacenter/internal/provision"
	dcstore "github.com/opencloud/opencloud/services/oc-datacenter/internal/store"
)

// Defaults for what Deps leaves empty.
const (
	DefaultPeerID        = "local"
	DefaultGatewayURL    = "http://localhost:8000"
	DefaultCluster       = "local"
	DefaultRetention     = 24 * time.Hour
	DefaultSweepInterval = time.Minute
)

// NoKubeconfig is the readiness check's message on a peer without a cluster.
const NoKubeconfig = "no kubeconfig configured (OC_KUBECONFIG)"

// Deps are what the service is built from.
type Deps struct {
	// Peers, when set, verifies other peers' signed calls; the service
	// opens no route to them, and answers them 403.
	Peers    server.PeerAuthenticator
	Logger   *slog.Logger
	Store    store.Store
	NATS     *nats.Conn
	Verifier authn.Verifier
	Metrics  *server.Metrics // nil: a registry of its own

	PeerID     string       // "": DefaultPeerID
	GatewayURL string       // where oc-catalog and oc-scheduler are reached; "": DefaultGatewayURL
	HTTPClient *http.Client // nil: a client with a 10 s timeout
	// ServiceToken is the services' own identity (an admin), with which the
	// sweep asks oc-scheduler whether executions are over; nil: namespaces
	// are not swept.
	ServiceToken apiclient.TokenSource

	// Kubeconfig is the path of the kubeconfig of this peer's cluster; ""
	// runs the service without a cluster.
	Kubeconfig string
	// Cluster is the cluster's name, the cluster_ref of its computes; "": DefaultCluster.
	Cluster string
	// Retention is how long an ended execution's namespace is kept; 0: DefaultRetention.
	Retention time.Duration
	// SweepInterval is how often Run sweeps; 0: DefaultSweepInterval.
	SweepInterval time.Duration

	// CredentialsKey (32 bytes) seals the S3 credentials of this peer's
	// storages in the store; nil: the service keeps none, and the
	// credentials routes and a prepare naming storages answer 503.
	CredentialsKey []byte
}

// Service is oc-datacenter; it implements server.Component.
type Service struct {
	handler  http.Handler
	prov     *provision.Provisioner // nil without a cluster
	sched    *schedclient.Client    // nil without ServiceToken
	gateway  *apiclient.Client
	token    apiclient.TokenSource
	verifier authn.Verifier
	every    time.Duration
	log      *slog.Logger
}

var _ server.Component = (*Service)(nil)

// New builds the service. A kubeconfig that cannot be loaded stops it; a
// cluster that does not answer only makes it unready.
func New(ctx context.Context, d Deps) (*Service, error) {
	var missing []error
	if d.Logger == nil {
		missing = append(missing, errors.New("Logger"))
	}
	if d.Store == nil {
		missing = append(missing, errors.New("Store"))
	}
	if d.NATS == nil {
		missing = append(missing, errors.New("NATS"))
	}
	if d.Verifier == nil {
		// Without it the API would be open to anyone.
		missing = append(missing, errors.New("Verifier"))
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("datacenter: missing dependencies: %w", errors.Join(missing...))
	}
	if d.PeerID == "" {
		d.PeerID = DefaultPeerID
	}
	if d.GatewayURL == "" {
		d.GatewayURL = DefaultGatewayURL
	}
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if d.Cluster == "" {
		d.Cluster = DefaultCluster
	}
	if !inventory.ValidClusterName(d.Cluster) {
		return nil, fmt.Errorf("datacenter: cluster name %q: expected lowercase letters, digits, '.' and '-' (OC_DATACENTER_CLUSTER)", d.Cluster)
	}
	if d.Retention == 0 {
		d.Retention = DefaultRetention
	}
	if d.Retention < 0 {
		return nil, fmt.Errorf("datacenter: retention %s: expected a positive duration (OC_DATACENTER_RETENTION)", d.Retention)
	}
	if d.SweepInterval <= 0 {
		d.SweepInterval = DefaultSweepInterval
	}
	if d.CredentialsKey != nil && len(d.CredentialsKey) != credentials.KeySize {
		return nil, fmt.Errorf("datacenter: the credentials key has %d bytes, want %d (OC_DATACENTER_CREDENTIALS_KEY: base64 of 32 random bytes)", len(d.CredentialsKey), credentials.KeySize)
	}
	log := d.Logger.With("service", "datacenter")
	var keeper *credentials.Keeper
	if d.CredentialsKey != nil {
		repo, err := dcstore.OpenCredentials(ctx, d.Store)
		if err != nil {
			return nil, fmt.Errorf("datacenter: %w", err)
		}
		if keeper, err = credentials.NewKeeper(repo, d.CredentialsKey); err != nil {
			return nil, fmt.Errorf("datacenter: %w (OC_DATACENTER_CREDENTIALS_KEY)", err)
		}
	} else {
		log.Warn("no credentials key: set OC_DATACENTER_CREDENTIALS_KEY; executions using storages cannot be prepared until then")
	}
	s := &Service{every: d.SweepInterval, log: log, token: d.ServiceToken, verifier: d.Verifier}
	if d.ServiceToken != nil {
		s.sched = schedclient.New(d.GatewayURL, d.ServiceToken, d.HTTPClient)
		s.gateway = apiclient.New(d.GatewayURL, d.ServiceToken, d.HTTPClient)
	}

	kubeCheck := func(context.Context) error { return errors.New(NoKubeconfig) }
	var cluster httpapi.Cluster
	if d.Kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", d.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("datacenter: kubeconfig %s (OC_KUBECONFIG): %w", d.Kubeconfig, err)
		}
		// A hung API server must not hold a request for ever.
		cfg.Timeout = 30 * time.Second
		// Preparing one execution is six requests and more, and the
		// daemon prepares them one after another: client-go's default of 5
		// requests a second would make this client its bottleneck. The
		// API server's own priority and fairness still applies.
		cfg.QPS, cfg.Burst = 50, 100
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, fmt.Errorf("datacenter: kubeconfig %s (OC_KUBECONFIG): %w", d.Kubeconfig, err)
		}
		s.prov = provision.New(cs, d.Retention)
		cluster = kubeCluster{cs: cs, prov: s.prov}
		kubeCheck = func(ctx context.Context) error { return apiReady(ctx, cs, cfg) }
		log.Info("kubernetes cluster configured", "cluster", d.Cluster, "server", cfg.Host, "retention", d.Retention)
		if d.ServiceToken == nil {
			log.Warn("no service identity (OC_SERVICE_CLIENT_SECRET): the namespaces of ended executions are kept until it is set")
		}
	} else {
		log.Warn("no Kubernetes cluster: set OC_KUBECONFIG; executions cannot be prepared until then")
	}

	engine, api := server.New(server.Options{
		Peers: d.Peers,
		Name:  "datacenter", Prefix: "/datacenter", Logger: d.Logger, Metrics: d.Metrics, Verifier: d.Verifier,
		SwaggerInstance: "datacenter",
		Checks: []server.Check{
			{Name: "store", Check: d.Store.Ping},
			{Name: "nats", Check: func(context.Context) error { return broker.Ping(d.NATS) }},
			{Name: "kubernetes", Check: kubeCheck},
		},
	})
	catalog := func(p authn.Principal) httpapi.Catalog {
		return catalogAdapter{c: catalogclient.New(d.GatewayURL, catalogclient.StaticToken(p.Token), d.HTTPClient)}
	}
	httpapi.Register(api, httpapi.Options{Cluster: cluster, ClusterName: d.Cluster, PeerID: d.PeerID,
		Catalog: catalog, Credentials: keeper})
	s.handler = engine
	return s, nil
}

// apiReady asks the API server's /readyz.
func apiReady(ctx context.Context, cs kubernetes.Interface, cfg *rest.Config) error {
	err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error()
	if err != nil {
		return fmt.Errorf("kubernetes API server %s is not ready: %w", cfg.Host, err)
	}
	return nil
}

// Name implements server.Component.
func (s *Service) Name() string { return "datacenter" }

// Prefix implements server.Component.
func (s *Service) Prefix() string { return "/datacenter" }

// Handler implements server.Component.
func (s *Service) Handler() http.Handler { return s.handler }

// Run implements server.Component: every SweepInterval it deletes the
// namespaces of executions that ended more than the retention ago.
// Without a cluster there is nothing to sweep.
func (s *Service) Run(ctx context.Context) error {
	if s.prov == nil {
		return nil
	}
	return server.Every(ctx, s.every, func(ctx context.Context) {
		res, err := s.Sweep(ctx, time.Now())
		if err != nil {
			s.log.WarnContext(ctx, "sweeping execution namespaces failed", "err", err)
		}
		if len(res.Deleted) > 0 {
			s.log.InfoContext(ctx, "swept execution namespaces", "deleted", res.Deleted, "kept", res.Kept)
		}
	})
}

// SweepResult is what one sweep did.
type SweepResult = provision.SweepResult

// Errors of Sweep.
var (
	// ErrNoCluster is Sweep's error on a peer without a cluster.
	ErrNoCluster = errors.New("datacenter: no Kubernetes cluster configured")
	// ErrNoScheduler: oc-scheduler cannot tell which executions are over
	// (no service identity, or it cannot be reached); nothing is swept.
	ErrNoScheduler = errors.New("datacenter: oc-scheduler cannot say which executions are over")
)

// Sweep deletes, once, the namespaces of executions over for more than the
// retention at now (Run calls it periodically); it asks oc-scheduler,
// which owns the executions, with the services' identity. An execution
// oc-scheduler does not know counts as over since its namespace was created.
func (s *Service) Sweep(ctx context.Context, now time.Time) (SweepResult, error) {
	if s.prov == nil {
		return SweepResult{}, ErrNoCluster
	}
	if err := s.schedulerUp(ctx); err != nil {
		return SweepResult{}, err
	}
	return s.prov.Sweep(ctx, now, s.ended)
}

// schedulerUp checks, before a sweep, that oc-scheduler answers and that
// the services' identity may see every execution: only then does "not
// found" mean that an execution does not exist (a gateway without the
// route, or a user's identity, answers 404 too).
func (s *Service) schedulerUp(ctx context.Context) error {
	if s.sched == nil {
		return fmt.Errorf("%w: no service identity (OC_SERVICE_CLIENT_ID, OC_SERVICE_CLIENT_SECRET)", ErrNoScheduler)
	}
	token, err := s.token(ctx)
	if err != nil {
		return fmt.Errorf("%w: obtain the services' token: %w", ErrNoScheduler, err)
	}
	p, err := s.verifier.Verify(ctx, token)
	if err != nil {
		return fmt.Errorf("%w: the services' token is not accepted: %w", ErrNoScheduler, err)
	}
	if !p.IsAdmin() {
		return fmt.Errorf("%w: the services' identity %q is not an admin (check OC_SERVICE_CLIENT_ID)", ErrNoScheduler, p.Subject)
	}
	if err := s.gateway.Health(ctx, schedclient.Prefix); err != nil {
		return fmt.Errorf("%w: %w", ErrNoScheduler, err)
	}
	return nil
}

// ended implements provision.Ended with oc-scheduler's answer.
func (s *Service) ended(ctx context.Context, id string) (time.Time, bool, error) {
	e, err := s.sched.Get(ctx, id)
	var ae *apierror.Error
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound && ae.Code == "not_found" {
		return time.Time{}, true, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("ask oc-scheduler: %w", err)
	}
	if !e.State.Terminal() {
		return time.Time{}, false, nil
	}
	if e.FinishedAt != nil {
		return *e.FinishedAt, true, nil
	}
	return e.UpdatedAt, true, nil
}

// kubeCluster is httpapi.Cluster on a real cluster.
type kubeCluster struct {
	cs   kubernetes.Interface
	prov *provision.Provisioner
}

func (k kubeCluster) Prepare(ctx context.Context, executionID, workflowID string, secrets []provision.S3Secret) (datacenter.Prepared, error) {
	return k.prov.Prepare(ctx, executionID, workflowID, secrets)
}

func (k kubeCluster) Release(ctx context.Context, executionID string) error {
	return k.prov.Release(ctx, executionID)
}

func (k kubeCluster) Nodes(ctx context.Context) ([]datacenter.Node, error) {
	nodes, err := inventory.Nodes(ctx, k.cs)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w: %w", provision.ErrCluster, err)
	}
	return nodes, nil
}

// catalogAdapter is httpapi.Catalog on oc-catalog's client.
type catalogAdapter struct{ c *catalogclient.Client }

func (a catalogAdapter) Get(ctx context.Context, id string) (resource.Resource, error) {
	r, err := a.c.Get(ctx, id)
	if apiclient.Status(err) == http.StatusNotFound {
		return r, fmt.Errorf("resource %s: %w", id, credentials.ErrUnknownStorage)
	}
	return r, err
}

func (a catalogAdapter) Computes(ctx context.Context, tags []string) ([]resource.Resource, error) {
	var out []resource.Resource
	for {
		page, err := a.c.List(ctx, catalogclient.ListOptions{Kind: resource.KindCompute, Tags: tags,
			Sort: []string{"created_at"}, Limit: 200, Offset: len(out)})
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if len(page.Items) == 0 || int64(len(out)) >= page.Total {
			return out, nil
		}
	}
}

func (a catalogAdapter) Create(ctx context.Context, in resource.Input) (resource.Resource, error) {
	return a.c.Create(ctx, in)
}

func (a catalogAdapter) Update(ctx context.Context, id string, version int64, in resource.Input) (resource.Resource, error) {
	return a.c.Update(ctx, id, version, in)
}
