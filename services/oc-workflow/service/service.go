// Package service builds oc-workflow from its dependencies, so that its
// standalone main and the all-in-one binary run it the same way.
//
//	@title						OpenCloud workflow API
//	@version					1.0
//	@description				Workflow graphs — data, processings, storages and computes joined by links — with their validation (every problem at once, with the node or link concerned and what to change), the rules of the collaborative areas sharing them, export and import, and publication to the catalog. Every route needs a bearer token from oc-auth; errors are {"error": {"code", "message", "details"}}.
//	@BasePath					/workflow
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

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/idempotency"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/libs/store"

	// Registers the "workflow" Swagger instance served at /workflow/swagger/.
	_ "github.com/opencloud/opencloud/services/oc-workflow/docs"
	"github.com/opencloud/opencloud/services/oc-workflow/internal/httpapi"
	"github.com/opencloud/opencloud/services/oc-workflow/internal/migrate"
	workflowstore "github.com/opencloud/opencloud/services/oc-workflow/internal/store"
	"github.com/opencloud/opencloud/services/oc-workflow/internal/workflow"
)

// DefaultPeerID names this peer when the configuration gives no id.
const DefaultPeerID = "local"

// DefaultGatewayURL is where the other services are reached by default.
const DefaultGatewayURL = "http://localhost:8000"

// MaxBodyBytes bounds request bodies: a graph of workflow.MaxNodes nodes
// and as many links fits with room to spare.
const MaxBodyBytes = 16 << 20

// Deps is what oc-workflow needs from its process.
type Deps struct {
	// Peers, when set, verifies other peers' signed calls; the service
	// opens no route to them, and answers them 403.
	Peers    server.PeerAuthenticator
	Logger   *slog.Logger
	Store    store.Store
	NATS     *nats.Conn
	Verifier authn.Verifier
	Metrics  *server.Metrics // nil: a registry of its own
	PeerID   string          // "": DefaultPeerID
	// GatewayURL is where oc-catalog and oc-workspace are reached ("":
	// DefaultGatewayURL), with the caller's own token.
	GatewayURL string
	HTTPClient *http.Client // nil: a client with a 10 s timeout
}

// Service is oc-workflow; it implements server.Component.
type Service struct {
	handler http.Handler
	keys    *idempotency.Keys
	log     *slog.Logger
}

var _ server.Component = (*Service)(nil)

// New opens the workflow collections and builds the HTTP handler.
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
		return nil, fmt.Errorf("workflow: missing dependencies: %w", errors.Join(missing...))
	}
	if d.PeerID == "" {
		d.PeerID = DefaultPeerID
	}
	if _, err := migrate.LocalPeerIDs(ctx, d.Store, d.PeerID, d.Logger.With("service", "workflow")); err != nil {
		return nil, fmt.Errorf("workflow: %w", err)
	}
	if d.GatewayURL == "" {
		d.GatewayURL = DefaultGatewayURL
	}
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	repo, err := workflowstore.Open(ctx, d.Store)
	if err != nil {
		return nil, fmt.Errorf("workflow: %w", err)
	}
	keys, err := idempotency.New(ctx, d.Store, idempotency.Options{Collection: "workflow_idempotency_keys"})
	if err != nil {
		return nil, fmt.Errorf("workflow: %w", err)
	}
	log := d.Logger.With("service", "workflow")
	cat := catalogAdapter{base: d.GatewayURL, hc: d.HTTPClient}
	svc := workflow.NewService(workflow.Config{
		Repo:       repo,
		Resolver:   workflow.CatalogResolver{Catalog: cat, PeerID: d.PeerID, Remote: &federation.Lookups{Gateway: d.GatewayURL, HTTP: d.HTTPClient}},
		Catalog:    cat,
		Workspaces: workspaceAdapter{base: d.GatewayURL, hc: d.HTTPClient},
		Events:     broker.NewPublisher(d.NATS, "workflow"),
		PeerID:     d.PeerID,
		Log:        log,
	})

	engine, api := server.New(server.Options{
		Peers: d.Peers,
		Name:  "workflow", Prefix: "/workflow", Logger: d.Logger, Metrics: d.Metrics, Verifier: d.Verifier,
		Checks: []server.Check{
			{Name: "store", Check: d.Store.Ping},
			{Name: "nats", Check: func(context.Context) error { return broker.Ping(d.NATS) }},
		},
		SwaggerInstance: "workflow",
		MaxBodyBytes:    MaxBodyBytes,
	})
	httpapi.Register(api, svc, keys.Middleware())
	return &Service{handler: engine, keys: keys, log: log}, nil
}

// Name implements server.Component.
func (s *Service) Name() string { return "workflow" }

// Prefix implements server.Component.
func (s *Service) Prefix() string { return "/workflow" }

// Handler implements server.Component.
func (s *Service) Handler() http.Handler { return s.handler }

// Run implements server.Component: it prunes expired idempotency keys
// every PruneInterval until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	return server.Every(ctx, PruneInterval, func(ctx context.Context) {
		if n, err := s.keys.Prune(ctx); err != nil {
			s.log.WarnContext(ctx, "pruning idempotency keys failed", "err", err)
		} else if n > 0 {
			s.log.DebugContext(ctx, "pruned idempotency keys", "count", n)
		}
	})
}

// PruneInterval is how often expired idempotency keys are deleted.
const PruneInterval = time.Hour
