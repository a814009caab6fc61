// Package service builds oc-auth, this peer's OpenID Provider, from its
// dependencies: what a standalone main and the all-in-one binary mount.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/libs/store"
	_ "github.com/opencloud/opencloud/services/oc-auth/docs" // registers the "auth" swagger instance
	"github.com/opencloud/opencloud/services/oc-auth/internal/clients"
	"github.com/opencloud/opencloud/services/oc-auth/internal/httpapi"
	"github.com/opencloud/opencloud/services/oc-auth/internal/keys"
	"github.com/opencloud/opencloud/services/oc-auth/internal/login"
	"github.com/opencloud/opencloud/services/oc-auth/internal/oidcstorage"
	"github.com/opencloud/opencloud/services/oc-auth/internal/throttle"
	"github.com/opencloud/opencloud/services/oc-auth/internal/users"
)

// Name and Prefix of the component.
const (
	Name   = "auth"
	Prefix = "/auth"
)

// Deps are the shared resources oc-auth runs on.
type Deps struct {
	Logger  *slog.Logger
	Store   store.Store
	NATS    *nats.Conn      // nil: no events are published
	Metrics *server.Metrics // shared by the services of one process; nil: a private registry
}

// Service is oc-auth; it implements server.Component.
type Service struct {
	cfg      Config
	log      *slog.Logger
	handler  http.Handler
	storage  *oidcstorage.Storage
	keys     *keys.Manager
	attempts *throttle.Limiter
}

var _ server.Component = (*Service)(nil)

// oidcPaths are the provider's endpoints, relative to the issuer.
var oidcPaths = []string{
	oidc.DiscoveryEndpoint, "/keys", "/authorize", "/authorize/callback",
	"/oauth/token", "/oauth/introspect", "/userinfo", "/revoke", "/end_session",
}

// New builds the service: it creates what a first start needs (the admin
// group, the first administrator, the web client, the services' client when
// configured, a signing key) and wires the provider, the login page and the
// REST API.
func New(ctx context.Context, cfg Config, deps Deps) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("oc-auth configuration: %w", err)
	}
	if deps.Store == nil {
		return nil, errors.New("oc-auth: no store")
	}
	base := deps.Logger
	if base == nil {
		base = slog.Default()
	}
	log := base.With("service", Name)
	var events *broker.Publisher
	if deps.NATS != nil {
		events = broker.NewPublisher(deps.NATS, Name)
	}

	um, err := users.Open(ctx, deps.Store)
	if err != nil {
		return nil, err
	}
	cm, err := clients.Open(ctx, deps.Store)
	if err != nil {
		return nil, err
	}
	km, err := keys.Open(ctx, deps.Store, cfg.KeyRetention, cfg.KeysKey)
	if err != nil {
		return nil, err
	}
	proxies, err := throttle.ParseProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("oc-auth configuration: trusted proxies (OC_TRUSTED_PROXIES): %w", err)
	}
	if err := bootstrap(ctx, cfg, log, um, cm, km, events); err != nil {
		return nil, err
	}
	st, err := oidcstorage.New(ctx, oidcstorage.Options{
		Issuer: cfg.Issuer, AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL, SessionMaxAge: cfg.SessionMaxAge,
		AuthRequestTTL: 15 * time.Minute, CodeTTL: 5 * time.Minute, SessionTTL: cfg.SessionTTL, Now: cfg.now,
	}, deps.Store, um, cm, km, log)
	if err != nil {
		return nil, err
	}
	provider, err := newProvider(cfg, st, log)
	if err != nil {
		return nil, err
	}

	checks := []server.Check{{Name: "store", Check: deps.Store.Ping}}
	if deps.NATS != nil {
		checks = append(checks, server.Check{Name: "nats", Check: func(context.Context) error { return broker.Ping(deps.NATS) }})
	}
	engine, api := server.New(server.Options{
		Name: Name, Prefix: Prefix, Logger: base, Metrics: deps.Metrics, Checks: checks, SwaggerInstance: Name,
	})

	// The login page and the password change count guesses together.
	attempts := throttle.New(throttle.DefaultPolicy(), cfg.now)
	lh := login.New(login.Handler{
		Issuer: cfg.Issuer, Path: cfg.Issuer + "/login", Requests: st, Sessions: st, Users: um, Provider: provider,
		Log: log, Count: loginCounter(deps.Metrics), Now: cfg.now, Attempts: attempts, Proxies: proxies,
		Names: func(ctx context.Context, id string) string {
			if c, err := cm.Get(ctx, id); err == nil && c.Name != "" {
				return c.Name
			}
			return id
		},
	})
	oidcHandler := http.StripPrefix(Prefix, provider)
	for _, p := range oidcPaths {
		h := oidcHandler
		if p == "/end_session" {
			h = lh.EndSession(h)
		}
		engine.Any(Prefix+p, gin.WrapH(h))
	}
	engine.GET(Prefix+"/login", gin.WrapF(lh.Show))
	engine.POST(Prefix+"/login", gin.WrapF(lh.Submit))
	engine.GET(Prefix+"/logged-out", gin.WrapF(lh.LoggedOut))

	api.Use(server.RequireToken(keys.NewVerifier(cfg.Issuer, km)))
	a := &httpapi.API{Users: um, Clients: cm, Keys: km, Sessions: st, Log: log, Attempts: attempts, Proxies: proxies}
	if events != nil {
		a.Events = events
	}
	a.Register(api)

	return &Service{cfg: cfg, log: log, handler: engine, storage: st, keys: km, attempts: attempts}, nil
}

func newProvider(cfg Config, st *oidcstorage.Storage, log *slog.Logger) (*op.Provider, error) {
	opts := []op.Option{
		op.WithCrypto(oidcstorage.Codes{}),
		op.WithLogger(log.With("component", "oidc")),
	}
	if strings.HasPrefix(cfg.Issuer, "http://") {
		opts = append(opts, op.WithAllowInsecure())
	}
	p, err := op.NewProvider(&op.Config{
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		DefaultLogoutRedirectURI: cfg.Issuer + "/logged-out",
		SupportedScopes:          []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess},
		SupportedClaims:          append(slices.Clone(op.DefaultSupportedClaims), "groups", "roles"),
	}, st, op.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("oc-auth: provider: %w", err)
	}
	return p, nil
}

// bootstrap creates what the first start needs; every step is idempotent,
// and safe when replicas start together.
func bootstrap(ctx context.Context, cfg Config, log *slog.Logger, um *users.Manager, cm *clients.Manager, km *keys.Manager, events *broker.Publisher) error {
	if err := um.EnsureBuiltinGroups(ctx); err != nil {
		return err
	}
	admin, generated, created, err := um.EnsureFirstAdmin(ctx, cfg.AdminUser, cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("oc-auth: first administrator: %w", err)
	}
	if created {
		if generated != "" {
			// Shown once, on the start that created the account; only the hash is stored.
			log.Warn("created the first administrator with a generated password; sign in and change it",
				"username", admin.Username, "password", generated)
		} else {
			log.Info("created the first administrator", "username", admin.Username)
		}
		if events != nil {
			if err := events.Publish(ctx, event.UserCreated, admin.ID, "oc-auth", map[string]any{
				"id": admin.ID, "username": admin.Username, "groups": admin.Groups, "roles": admin.Roles(),
			}); err != nil {
				log.Warn("event not published", "type", event.UserCreated, "err", err)
			}
		}
	}
	changed, err := cm.EnsureWebClient(ctx, cfg.WebRedirectURIs)
	if err != nil {
		return fmt.Errorf("oc-auth: web client: %w", err)
	}
	if changed {
		log.Info("configured the web client", "client_id", clients.WebClientID, "redirect_uris", cfg.WebRedirectURIs)
	}
	if cfg.ServiceClientSecret != "" {
		changed, err := cm.EnsureServiceClient(ctx, cfg.ServiceClientID, cfg.ServiceClientSecret)
		if err != nil {
			return fmt.Errorf("oc-auth: service client: %w", err)
		}
		if changed {
			log.Info("configured the service client", "client_id", cfg.ServiceClientID)
		}
	}
	sealed, err := km.Seal(ctx)
	if err != nil {
		return fmt.Errorf("oc-auth: seal the signing keys: %w", err)
	}
	if sealed > 0 {
		log.Info("sealed the signing keys stored in clear", "keys", sealed)
	}
	if err := km.Check(ctx); err != nil {
		if errors.Is(err, keys.ErrUnreadable) {
			return fmt.Errorf("oc-auth: %w. Set OC_AUTH_KEYS_KEY (in the all-in-one binary: the file auth.key in the data directory) back to the key the signing keys were sealed with. If it is lost, delete the stored signing keys (collection auth_signing_keys) and start again: a new key is made, and every user signs in again", err)
		}
		return fmt.Errorf("oc-auth: signing keys: %w", err)
	}
	keyCreated, err := km.Ensure(ctx)
	if err != nil {
		return fmt.Errorf("oc-auth: signing key: %w", err)
	}
	if keyCreated {
		log.Info("created the first signing key")
	}
	return nil
}

// loginCounter counts sign-in outcomes on the shared registry.
func loginCounter(m *server.Metrics) login.Outcome {
	if m == nil {
		return nil
	}
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "oc_auth_logins_total", Help: "Sign-in attempts on the login page, by result.",
	}, []string{"result"})
	if err := m.Registry().Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil
		}
		c = are.ExistingCollector.(*prometheus.CounterVec)
	}
	return func(result string) { c.WithLabelValues(result).Inc() }
}

// Name implements server.Component.
func (s *Service) Name() string { return Name }

// Prefix implements server.Component.
func (s *Service) Prefix() string { return Prefix }

// Handler implements server.Component: everything under /auth.
func (s *Service) Handler() http.Handler { return s.handler }

// Issuer is the iss of the tokens this service issues.
func (s *Service) Issuer() string { return s.cfg.Issuer }

// Run prunes expired authorization requests, sign-in sessions, refresh
// tokens and retired keys until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	return server.Every(ctx, s.cfg.PruneInterval, s.prune)
}

func (s *Service) prune(ctx context.Context) {
	n, err := s.storage.Prune(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("prune expired sessions", "err", err)
	}
	k, err := s.keys.Prune(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("prune retired keys", "err", err)
	}
	s.attempts.Prune()
	if n > 0 || k > 0 {
		s.log.Debug("pruned", "sessions", n, "keys", k)
	}
}
