// Package service builds oc-peer from its dependencies, for its standalone
// main and for the all-in-one binary.
//
//	@title			OpenCloud peer API
//	@version		0.1
//	@description	This peer's identity (its peer id, derived from its Ed25519 key, and the self document it signs), the other peers it knows and its partnerships with them, and the relay through which this peer's users and services call other peers with signed calls.
//	@BasePath		/
//	@securityDefinitions.apikey	BearerAuth
//	@in				header
//	@name			Authorization
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/peercall"
	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/services/oc-peer/internal/httpapi"
	"github.com/opencloud/opencloud/services/oc-peer/internal/identity"
	"github.com/opencloud/opencloud/services/oc-peer/internal/registry"

	_ "github.com/opencloud/opencloud/services/oc-peer/docs" // registers the Swagger instance
)

// Deps are what the service is built from.
type Deps struct {
	Logger   *slog.Logger
	Store    store.Store
	NATS     *nats.Conn
	Verifier authn.Verifier
	Metrics  *server.Metrics
	// KeysKey (KeySize bytes) seals this peer's private key in the store.
	KeysKey []byte
	// Name is this peer's human name (empty: the host name).
	Name string
	// PublicURL is where this peer's API is reached (http or https).
	PublicURL string
	// Random draws the peer's key on the first start (nil: crypto/rand).
	Random io.Reader
	// Heartbeat is how often every known peer is checked
	// (DefaultHeartbeat when zero).
	Heartbeat time.Duration
	// Client calls other peers (nil: the default client).
	Client *http.Client
	// Directory is the peers directory the process's services share, so
	// that a change made here is seen at once by all (nil: one of its own).
	Directory *federation.Directory
}

// Offers is what a peer says it offers in its self document.
var Offers = []string{"catalog", "areas"}

// DefaultHeartbeat is how often other peers are checked by default.
const DefaultHeartbeat = 20 * time.Second

// KeySize is the length of KeysKey: AES-256.
const KeySize = identity.KeySize

// ErrUnreadableKey is returned by New when the stored peer key does not
// open with KeysKey.
var ErrUnreadableKey = identity.ErrUnreadable

// Service is oc-peer. It serves this peer's signed self document, the
// peers it knows and the partnerships, the relay the other services call
// other peers through, health, readiness, metrics and its Swagger page.
type Service struct {
	handler   http.Handler
	id        peerid.ID
	reg       *registry.Registry
	heartbeat time.Duration
}

// New builds the service. On the first start on a store it makes this
// peer's key pair and stores it sealed; later starts read it back.
func New(ctx context.Context, d Deps) (*Service, error) {
	if d.Store == nil || d.NATS == nil || d.Verifier == nil || d.Logger == nil {
		return nil, errors.New("peer: Logger, Store, NATS and Verifier are required")
	}
	name := d.Name
	if name == "" {
		host, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("peer: no name given and no host name: %w", err)
		}
		name = host
	}
	id, created, err := identity.Ensure(ctx, d.Store, d.KeysKey, d.Random, time.Now())
	if err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	if created {
		d.Logger.Info("made this peer's key", "peer_id", id.Key.PeerID(), "fingerprint", id.Key.Fingerprint())
	}
	doc := peerid.NewSelfDoc(id.Key, name, d.PublicURL, Offers, id.CreatedAt)
	keys, current, err := identity.Keys(ctx, d.Store, d.KeysKey, id.Key)
	if err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	if keys != nil {
		doc.Keys = keys
	}
	self, err := httpapi.NewSelf(current, doc, time.Now)
	if err != nil {
		return nil, fmt.Errorf("peer: self document (OC_PEER_NAME %q, public URL %q): %w", name, d.PublicURL, err)
	}
	if err := federation.PublishSelf(ctx, d.Store, federation.Self{ID: string(doc.ID), Name: name, URL: d.PublicURL}); err != nil {
		return nil, fmt.Errorf("peer: publish this peer's identity: %w", err)
	}
	dir := d.Directory
	if dir == nil {
		if dir, err = federation.OpenDirectory(ctx, d.Store); err != nil {
			return nil, err
		}
	}
	reg, err := registry.New(ctx, registry.Config{Self: federation.Self{ID: string(doc.ID), Name: name, URL: d.PublicURL},
		Directory: dir, Store: d.Store, Signer: self.Signer, SelfDoc: self.Document, Client: d.Client,
		Events: broker.NewPublisher(d.NATS, "peer"), Logger: d.Logger})
	if err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	replay := peercall.NewReplayCache(peercall.DefaultReplayEntries)
	partnership, err := httpapi.NewPartnership(reg, string(doc.ID), federation.Origin(d.PublicURL), dir, replay)
	if err != nil {
		return nil, err
	}
	peers, err := federation.NewAuthenticator(string(doc.ID), d.PublicURL, dir, replay)
	if err != nil {
		return nil, err
	}
	engine, api := server.New(server.Options{
		Name: "peer", Prefix: "/peer", Logger: d.Logger, Metrics: d.Metrics, Verifier: d.Verifier,
		SwaggerInstance: "peer",
		// No route of oc-peer is open to other peers but the partnership
		// messages, which verify themselves.
		Peers: peers,
		Checks: []server.Check{
			{Name: "store", Check: d.Store.Ping},
			{Name: "nats", Check: func(context.Context) error { return broker.Ping(d.NATS) }},
		},
	})
	// The self document is public: peers read it before they trust anything.
	engine.GET("/peer/self", self.Get)
	// Partnership messages are signed by the sending peer, which may not
	// be known yet: the route verifies them itself.
	engine.POST("/peer/federation/partnership", partnership.Post)
	httpapi.NewPeers(reg).Register(api)
	api.Any("/relay/:peer/*path", httpapi.NewRelay(reg, self.Signer).Handle)
	api.POST("/sign", httpapi.NewSigning(self.Key).Post)
	rotation := httpapi.NewRotation(self, func(doc *peerid.SelfDoc, current *peerid.PrivateKey, retireAt time.Time) (*peerid.PrivateKey, error) {
		return identity.Rotate(ctx, d.Store, d.KeysKey, d.Random, doc, current, time.Now(), retireAt)
	})
	api.POST("/self/rotate", server.RequireRole(authn.RoleAdmin), rotation.Post)
	hb := d.Heartbeat
	if hb <= 0 {
		hb = DefaultHeartbeat
	}
	return &Service{handler: engine, id: id.Key.PeerID(), reg: reg, heartbeat: hb}, nil
}

// PeerID returns this peer's id.
func (s *Service) PeerID() peerid.ID { return s.id }

// Name implements server.Component.
func (s *Service) Name() string { return "peer" }

// Prefix implements server.Component.
func (s *Service) Prefix() string { return "/peer" }

// Handler implements server.Component.
func (s *Service) Handler() http.Handler { return s.handler }

// Run implements server.Component: the heartbeats.
func (s *Service) Run(ctx context.Context) error {
	s.reg.Heartbeat(ctx)
	return server.Every(ctx, s.heartbeat, s.reg.Heartbeat)
}
