// Package service builds oc-workspace from its dependencies, so that its
// standalone main and the all-in-one binary run it the same way.
//
//	@title						OpenCloud workspace API
//	@version					1.0
//	@description				Workspaces (a user's named selections of resources, local or a partner peer's) and collaborative areas (members, member peers, shared workspaces, workflows and resources, a rule book, a history). Every route needs a bearer token from oc-auth; errors are {"error": {"code", "message", "details"}}.
//	@BasePath					/workspace
//	@securityDefinitions.apikey	BearerAuth
//	@in							header
//	@name						Authorization
//	@description				"Bearer " followed by an access token from /auth.
package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/idempotency"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/workflow"

	catalogclient "github.com/opencloud/opencloud/services/oc-catalog/client"
	// Registers the "workspace" Swagger instance served at /workspace/swagger/.
	_ "github.com/opencloud/opencloud/services/oc-workspace/docs"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/area"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/httpapi"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/migrate"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/replica"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/resolve"
	wsstore "github.com/opencloud/opencloud/services/oc-workspace/internal/store"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/workflows"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/workspace"
)

// Defaults.
const (
	DefaultPeerID     = "local"
	DefaultGatewayURL = "http://localhost:8000"
	// MaxBodyBytes bounds request bodies: 10000 references of a workspace
	// are under a megabyte.
	MaxBodyBytes = 2 << 20
	// PruneInterval is how often expired idempotency keys are deleted.
	PruneInterval = time.Hour
	// DefaultReconcileInterval is how often the shared workflows and
	// workspaces of the areas are read again from their owners.
	DefaultReconcileInterval = 5 * time.Minute
	// eventTimeout bounds the handling of one workflow event.
	eventTimeout = 30 * time.Second
)

// Deps is what the service needs from its process.
type Deps struct {
	// Peers, when set, verifies other peers' signed calls; the service
	// opens no route to them, and answers them 403.
	Peers    server.PeerAuthenticator
	Logger   *slog.Logger
	Store    store.Store
	NATS     *nats.Conn
	Verifier authn.Verifier
	Metrics  *server.Metrics // nil: a registry of its own
	// PeerID is this peer's id ("": DefaultPeerID); a reference with an
	// empty peer is normalised to it.
	PeerID string
	// GatewayURL is where the other services are reached, without a
	// trailing slash ("": DefaultGatewayURL).
	GatewayURL string
	HTTPClient *http.Client // nil: a client with a 10 s timeout
	// Workflows overrides how workflows are read (tests); nil reads them
	// from oc-workflow through GatewayURL.
	Workflows workflows.Fetcher
	// ServiceToken is the services' own identity (an admin), with which
	// the areas' shared workflows are read again from oc-workflow at start
	// and every ReconcileInterval, so that a workflow event lost while NATS
	// was down is made up for; nil: only their events keep them in step.
	ServiceToken apiclient.TokenSource
	// ReconcileInterval is how often the areas are reconciled; 0:
	// DefaultReconcileInterval.
	ReconcileInterval time.Duration
	// Directory is the peers this peer knows, whose keys check the ops
	// of shared areas; with Peers and ServiceToken, areas are shared with
	// their member peers.
	Directory *federation.Directory
	// ReplicateInterval is how often every shared area is exchanged with
	// every member peer (0: replica.DefaultInterval).
	ReplicateInterval time.Duration
}

// Service is oc-workspace; it implements server.Component.
type Service struct {
	handler   http.Handler
	keys      *idempotency.Keys
	log       *slog.Logger
	nats      *nats.Conn
	areas     *area.Service
	token     apiclient.TokenSource // nil: workflows are not reconciled
	verifier  authn.Verifier
	reconcile time.Duration
	// replicator shares the areas with member peers (nil: not shared).
	replicator *replica.Replicator
}

var _ server.Component = (*Service)(nil)

// New opens the service's collections, subscribes to workflow events (until
// ctx ends) and builds its HTTP handler.
func New(ctx context.Context, d Deps) (*Service, error) {
	var missing []error
	for _, dep := range []struct {
		name string
		ok   bool
	}{{"Logger", d.Logger != nil}, {"Store", d.Store != nil}, {"NATS", d.NATS != nil},
		// Without a verifier the API would be open to anyone.
		{"Verifier", d.Verifier != nil}} {
		if !dep.ok {
			missing = append(missing, errors.New(dep.name))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("workspace: missing dependencies: %w", errors.Join(missing...))
	}
	if d.PeerID == "" {
		d.PeerID = DefaultPeerID
	}
	if _, err := migrate.LocalPeerIDs(ctx, d.Store, d.PeerID, d.Logger.With("service", "workspace")); err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	if d.GatewayURL == "" {
		d.GatewayURL = DefaultGatewayURL
	}
	d.GatewayURL = strings.TrimRight(d.GatewayURL, "/")
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if d.Workflows == nil {
		d.Workflows = &workflows.HTTP{GatewayURL: d.GatewayURL, Client: d.HTTPClient}
	}
	if d.ReconcileInterval == 0 {
		d.ReconcileInterval = DefaultReconcileInterval
	}
	if d.ReconcileInterval < 0 {
		return nil, fmt.Errorf("workspace: reconcile interval %s: expected a positive duration (OC_WORKSPACE_RECONCILE)", d.ReconcileInterval)
	}
	log := d.Logger.With("service", "workspace")
	if d.ServiceToken == nil {
		log.Warn("no service identity: the workflows shared in areas follow oc-workflow's events only, and a change whose event is lost is not caught up")
	}
	wsRepo, areaRepo, ops, err := wsstore.Open(ctx, d.Store)
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	keys, err := idempotency.New(ctx, d.Store, idempotency.Options{Collection: "workspace_idempotency_keys"})
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	resolver := &resolve.Catalog{PeerID: d.PeerID, Client: func(token string) resolve.Lookuper {
		return catalogclient.New(d.GatewayURL, catalogclient.StaticToken(token), d.HTTPClient)
	}, Remote: &federation.Lookups{Gateway: d.GatewayURL, HTTP: d.HTTPClient}}
	events := broker.NewPublisher(d.NATS, "workspace")
	ws := workspace.NewService(wsRepo, nil, resolver, events, d.PeerID, log)
	areas := area.NewService(area.Deps{Repo: areaRepo, Ops: ops, Workspaces: ws, Workflows: d.Workflows,
		Resolver: resolver, Events: events, PeerID: d.PeerID, Logger: log})
	ws.SetSharing(areas)
	areaRepo.Self = d.PeerID
	var repl *replica.Replicator
	if d.Peers != nil && d.ServiceToken != nil && d.Directory != nil {
		repl = replica.New(areas, d.GatewayURL, d.ServiceToken, d.ReplicateInterval, log)
		areas.SetReplication(replica.Signer{Gateway: d.GatewayURL, Token: d.ServiceToken, Client: d.HTTPClient},
			replica.Keys{Dir: d.Directory}, repl.Announce)
	}

	engine, api := server.New(server.Options{
		Peers: d.Peers,
		Name:  "workspace", Prefix: "/workspace", Logger: d.Logger, Metrics: d.Metrics, Verifier: d.Verifier,
		Checks: []server.Check{
			{Name: "store", Check: d.Store.Ping},
			{Name: "nats", Check: func(context.Context) error { return broker.Ping(d.NATS) }},
		},
		SwaggerInstance: "workspace",
		MaxBodyBytes:    MaxBodyBytes,
		PeerRoutes:      httpapi.FederationRoutes,
	})
	httpapi.Register(api, ws, areas, d.PeerID, keys.Middleware())
	httpapi.RegisterFederation(api, areas)
	return &Service{handler: engine, keys: keys, log: log, nats: d.NATS, areas: areas,
		token: d.ServiceToken, verifier: d.Verifier, reconcile: d.ReconcileInterval, replicator: repl}, nil
}

// followWorkflows keeps the workflows shared in areas in step with
// oc-workflow's events until ctx ends, through a durable consumer: events
// published while this service was down are handled when it is back, and
// replicas share the work.
func followWorkflows(ctx context.Context, nc *nats.Conn, areas *area.Service, log *slog.Logger) error {
	return broker.Consume(ctx, nc, broker.ConsumerOptions{
		Durable: "oc-workspace-workflows", Subjects: []string{event.WorkflowUpdated, event.WorkflowDeleted},
		Timeout: eventTimeout, Logger: log,
	}, func(ctx context.Context, subject string, env event.Envelope) error {
		var w workflow.Workflow
		if err := json.Unmarshal(env.Data, &w); err != nil || w.ID == "" {
			log.WarnContext(ctx, "workflow event ignored: its data is not a workflow", "subject", subject, "id", env.ID)
			return nil
		}
		return areas.WorkflowChanged(ctx, env.Actor, w, subject == event.WorkflowDeleted)
	})
}

// Name implements server.Component.
func (s *Service) Name() string { return "workspace" }

// Prefix implements server.Component.
func (s *Service) Prefix() string { return "/workspace" }

// Handler implements server.Component.
func (s *Service) Handler() http.Handler { return s.handler }

// Run implements server.Component until ctx is done: it follows
// oc-workflow's events into the areas, reconciles the areas with the
// owners of what they share at start and every ReconcileInterval, and
// prunes expired idempotency keys every PruneInterval. If one of these
// stops with an error, Run stops the others and returns it.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	loops := []func(context.Context) error{
		func(ctx context.Context) error { return followWorkflows(ctx, s.nats, s.areas, s.log) },
		func(ctx context.Context) error {
			s.reconcileAreas(ctx)
			return server.Every(ctx, s.reconcile, s.reconcileAreas)
		},
		func(ctx context.Context) error {
			if s.replicator == nil {
				return nil
			}
			return s.replicator.Run(ctx)
		},
		func(ctx context.Context) error {
			return server.Every(ctx, PruneInterval, func(ctx context.Context) {
				if n, err := s.keys.Prune(ctx); err != nil {
					s.log.WarnContext(ctx, "pruning idempotency keys failed", "err", err)
				} else if n > 0 {
					s.log.DebugContext(ctx, "pruned idempotency keys", "count", n)
				}
			})
		},
	}
	errc := make(chan error, len(loops))
	for _, loop := range loops {
		go func() {
			err := loop(ctx)
			if err != nil && ctx.Err() == nil {
				cancel(err)
			}
			errc <- err
		}()
	}
	for range loops {
		<-errc
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// reconcileAreas runs one area.Reconcile with the services' identity.
func (s *Service) reconcileAreas(ctx context.Context) {
	token, err := s.serviceToken(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "the shared workflows are not reconciled this time", "err", err)
	}
	done, err := s.areas.Reconcile(ctx, token)
	if err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "reconciling the areas did not read every shared item; the next round retries", "err", err)
	}
	s.log.DebugContext(ctx, "areas reconciled", "workflows", done.Workflows, "workspaces", done.Workspaces)
}

// serviceToken returns a token of the services' identity, "" without one.
// The token must be an admin's: another identity sees only some
// workflows, and the others would look deleted.
func (s *Service) serviceToken(ctx context.Context) (string, error) {
	if s.token == nil {
		return "", nil
	}
	token, err := s.token(ctx)
	if err != nil {
		return "", fmt.Errorf("obtain the services' token (OC_SERVICE_CLIENT_ID, OC_SERVICE_CLIENT_SECRET): %w", err)
	}
	p, err := s.verifier.Verify(ctx, token)
	if err != nil {
		return "", fmt.Errorf("the services' token is not accepted: %w", err)
	}
	if !p.IsAdmin() {
		return "", fmt.Errorf("the services' identity %q is not an admin (check OC_SERVICE_CLIENT_ID)", p.Subject)
	}
	return token, nil
}
