// Package service builds oc-catalog from its dependencies, so that its
// standalone main and the all-in-one binary run it the same way.
//
//	@title						OpenCloud catalog API
//	@version					1.0
//	@description				The resources a peer offers — data, processing, storage, compute and workflows — with their metadata, visibility and pricing. Every route needs a bearer token from oc-auth; errors are {"error": {"code", "message", "details"}}.
//	@BasePath					/catalog
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

	// Registers the "catalog" Swagger instance served at /catalog/swagger/.
	_ "github.com/opencloud/opencloud/services/oc-catalog/docs"
	"github.com/opencloud/opencloud/services/oc-catalog/internal/catalog"
	"github.com/opencloud/opencloud/services/oc-catalog/internal/httpapi"
	"github.com/opencloud/opencloud/services/oc-catalog/internal/migrate"
	"github.com/opencloud/opencloud/services/oc-catalog/internal/search"
	catalogstore "github.com/opencloud/opencloud/services/oc-catalog/internal/store"
)

// DefaultPeerID names this peer when the configuration gives no id.
const DefaultPeerID = "local"

// MaxBodyBytes bounds request bodies: a resource is a few kilobytes, so a
// larger body is a mistake or an attack.
const MaxBodyBytes = 256 << 10

// Deps is what the catalog needs from its process.
type Deps struct {
	Logger   *slog.Logger
	Store    store.Store
	NATS     *nats.Conn
	Verifier authn.Verifier
	Metrics  *server.Metrics // nil: a registry of its own
	PeerID   string          // "": DefaultPeerID
	// PeerName is this peer's human name, shown in search answers.
	PeerName string
	// Peers, when set, lets partners read the resources they may see
	// with signed calls (list, get and lookup).
	Peers server.PeerAuthenticator
	// GatewayURL is where oc-peer's relay is reached, for searches
	// across partners ("": searches cover this peer only).
	GatewayURL string
	// PeerDeadline is how long a search waits for a partner
	// (search.DefaultDeadline when zero).
	PeerDeadline time.Duration
}

// PeerRoutes are the catalog routes open to other peers.
var PeerRoutes = []string{
	"GET /catalog/resources",
	"GET /catalog/resources/:id",
	"POST /catalog/resources/lookup",
}

// Service is oc-catalog; it implements server.Component.
type Service struct {
	handler http.Handler
	keys    *idempotency.Keys
	log     *slog.Logger
}

var _ server.Component = (*Service)(nil)

// New opens the catalog's collection and builds its HTTP handler.
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
		return nil, fmt.Errorf("catalog: missing dependencies: %w", errors.Join(missing...))
	}
	if d.PeerID == "" {
		d.PeerID = DefaultPeerID
	}
	if _, err := migrate.LocalPeerIDs(ctx, d.Store, d.PeerID, d.Logger.With("service", "catalog")); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	repo, err := catalogstore.Open(ctx, d.Store)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	keys, err := idempotency.New(ctx, d.Store, idempotency.Options{Collection: "catalog_idempotency_keys"})
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	svc := catalog.NewService(repo, broker.NewPublisher(d.NATS, "catalog"), d.PeerID,
		d.Logger.With("service", "catalog"))

	engine, api := server.New(server.Options{
		Name: "catalog", Prefix: "/catalog", Logger: d.Logger, Metrics: d.Metrics, Verifier: d.Verifier,
		Checks: []server.Check{
			{Name: "store", Check: d.Store.Ping},
			{Name: "nats", Check: func(context.Context) error { return broker.Ping(d.NATS) }},
		},
		SwaggerInstance: "catalog",
		MaxBodyBytes:    MaxBodyBytes,
		Peers:           d.Peers,
		PeerRoutes:      PeerRoutes,
	})
	httpapi.Register(api, svc, keys.Middleware())
	gateway := d.GatewayURL
	if d.Peers == nil {
		gateway = ""
	}
	searcher, err := search.New(ctx, federation.Self{ID: d.PeerID, Name: d.PeerName}, svc, d.Store, gateway, d.PeerDeadline)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	httpapi.RegisterSearch(api, searcher)
	return &Service{handler: engine, keys: keys, log: d.Logger.With("service", "catalog")}, nil
}

// Name implements server.Component.
func (s *Service) Name() string { return "catalog" }

// Prefix implements server.Component.
func (s *Service) Prefix() string { return "/catalog" }

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
