// Package platform opens what every standalone service needs from its
// environment: logger, store, NATS and the token verifier. Each service's
// main declares its own config and embeds Infra for these.
package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/mongostore"
	"github.com/opencloud/opencloud/libs/store/sqlitestore"
)

// Infra is the shared part of every service's configuration.
type Infra struct {
	HTTPAddr     string        `env:"OC_HTTP_ADDR" default:":8080" help:"where the service listens"`
	PublicURL    string        `env:"OC_PUBLIC_URL" default:"http://localhost:8000" help:"the URL users reach the gateway at; the token issuer is <it>/auth"`
	AuthInternal string        `env:"OC_AUTH_INTERNAL_URL" help:"where services reach oc-auth for its keys (default: OC_PUBLIC_URL)"`
	Store        string        `env:"OC_STORE" default:"mongo" help:"mongo or sqlite"`
	MongoURI     string        `env:"OC_MONGO_URI" default:"mongodb://localhost:27017" secret:"true"`
	MongoDB      string        `env:"OC_MONGO_DB" default:"opencloud"`
	SQLitePath   string        `env:"OC_SQLITE_PATH" default:"./data/opencloud.db"`
	NATSURL      string        `env:"OC_NATS_URL" default:"nats://localhost:4222"`
	EventsMaxAge time.Duration `env:"OC_EVENTS_MAX_AGE" default:"168h" help:"how long the NATS stream keeps events for consumers to replay"`
	EventsSize   string        `env:"OC_EVENTS_MAX_BYTES" default:"1GiB" help:"how much the NATS stream keeps at most (such as 512MiB or 2GiB); the oldest events go first"`
	LogFormat    string        `env:"OC_LOG_FORMAT" default:"text" help:"text or json"`
	LogLevel     string        `env:"OC_LOG_LEVEL" default:"info" help:"debug, info, warn or error"`
}

// Validate checks the enumerations.
func (c Infra) Validate() error {
	var errs []error
	if c.Store != "mongo" && c.Store != "sqlite" {
		errs = append(errs, fmt.Errorf("OC_STORE=%q: expected mongo or sqlite", c.Store))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("OC_LOG_FORMAT=%q: expected text or json", c.LogFormat))
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.EventsMaxAge <= 0 {
		errs = append(errs, fmt.Errorf("OC_EVENTS_MAX_AGE=%s: expected a positive duration such as 168h", c.EventsMaxAge))
	}
	if _, err := broker.ParseSize(c.EventsSize); err != nil {
		errs = append(errs, fmt.Errorf("OC_EVENTS_MAX_BYTES: %w", err))
	}
	if !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		errs = append(errs, fmt.Errorf("OC_PUBLIC_URL=%q: expected an http:// or https:// URL", c.PublicURL))
	}
	return errors.Join(errs...)
}

// EventLimits are the bounds of the NATS events stream (Validate checked them).
func (c Infra) EventLimits() broker.StreamLimits {
	n, _ := broker.ParseSize(c.EventsSize)
	return broker.StreamLimits{MaxAge: c.EventsMaxAge, MaxBytes: n}
}

// Issuer is the token issuer: oc-auth serves under /auth of the public URL.
func (c Infra) Issuer() string { return strings.TrimRight(c.PublicURL, "/") + "/auth" }

// JWKSURL is where services fetch oc-auth's signing keys.
func (c Infra) JWKSURL() string {
	base := c.AuthInternal
	if base == "" {
		base = c.PublicURL
	}
	return strings.TrimRight(base, "/") + "/auth/keys"
}

// TokenURL is where services obtain their own tokens from oc-auth (client
// credentials), reached like JWKSURL.
func (c Infra) TokenURL() string {
	base := c.AuthInternal
	if base == "" {
		base = c.PublicURL
	}
	return strings.TrimRight(base, "/") + "/auth/oauth/token"
}

// ParseLevel reads a slog level name.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("OC_LOG_LEVEL=%q: expected debug, info, warn or error", s)
	}
	return l, nil
}

// NewLogger builds the process logger: JSON in containers, text on a terminal.
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	lvl, err := ParseLevel(level)
	if err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// OpenStore opens the configured backend.
func OpenStore(ctx context.Context, c Infra, log *slog.Logger) (store.Store, error) {
	if c.Store == "sqlite" {
		if dir := filepath.Dir(c.SQLitePath); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("create data directory: %w", err)
			}
		}
		return sqlitestore.Open(ctx, c.SQLitePath, log)
	}
	return mongostore.Open(ctx, c.MongoURI, c.MongoDB, log)
}

// Deps is what platform.Open returns to a standalone service.
type Deps struct {
	Store    store.Store
	NATS     *nats.Conn
	Verifier *authn.OIDCVerifier
}

// Open connects the store, NATS and the verifier. Close releases them.
func Open(ctx context.Context, c Infra, name string, log *slog.Logger) (*Deps, error) {
	st, err := OpenStore(ctx, c, log)
	if err != nil {
		return nil, err
	}
	nc, err := broker.Connect(ctx, c.NATSURL, "oc-"+name, log)
	if err != nil {
		_ = st.Close(ctx)
		return nil, err
	}
	// Every service ensures the event stream, so that whichever starts first
	// creates it. NATS may still be starting (the connection retries); events
	// published meanwhile are not kept for replay, and the store stays the truth.
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := broker.EnsureEventStream(sctx, nc, c.EventLimits()); err != nil {
		log.Warn("the NATS event stream could not be ensured; events are not kept for replay until a service starting later creates it", "err", err)
	}
	return &Deps{Store: st, NATS: nc, Verifier: authn.NewOIDCVerifier(ctx, c.Issuer(), c.JWKSURL(), authn.Audience)}, nil
}

// Close drains NATS, waiting until what was published has been sent (or
// ctx ends), then closes the store.
func (d *Deps) Close(ctx context.Context) error {
	if d.NATS != nil {
		broker.Drain(ctx, d.NATS)
	}
	return d.Store.Close(ctx)
}

// SelfWait bounds how long a standalone service waits for oc-peer to make
// this peer's key on a new store.
const SelfWait = 2 * time.Minute

// Federation waits until oc-peer has published this peer's identity, then
// returns it and the authenticator that lets the service accept other
// peers' signed calls on the routes it opens to them.
func (d *Deps) Federation(ctx context.Context, log *slog.Logger) (federation.Self, *federation.Authenticator, error) {
	wctx, cancel := context.WithTimeout(ctx, SelfWait)
	defer cancel()
	self, err := federation.WaitSelf(wctx, d.Store, time.Second, func() {
		log.Info("waiting for oc-peer to make this peer's key")
	})
	if err != nil {
		return federation.Self{}, nil, err
	}
	dir, err := federation.OpenDirectory(ctx, d.Store)
	if err != nil {
		return federation.Self{}, nil, err
	}
	auth, err := federation.NewAuthenticator(self.ID, self.URL, dir, nil)
	if err != nil {
		return federation.Self{}, nil, err
	}
	return self, auth, nil
}
