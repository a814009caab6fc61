// Command oc-auth runs this peer's OpenID Provider on its own (compose,
// production). The all-in-one binary mounts the same service package.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/opencloud/opencloud/libs/config"
	"github.com/opencloud/opencloud/libs/platform"
	"github.com/opencloud/opencloud/libs/seal"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/services/oc-auth/internal/throttle"
	"github.com/opencloud/opencloud/services/oc-auth/service"
)

type appConfig struct {
	AdminUser           string        `env:"OC_ADMIN_USER" default:"admin" help:"the first administrator's user name"`
	AdminPassword       string        `env:"OC_ADMIN_PASSWORD" secret:"true" help:"the first administrator's password, at least 12 characters (generated and logged once when empty)"`
	WebRedirectURIs     []string      `env:"OC_AUTH_WEB_REDIRECT_URIS" help:"redirect URIs of the web client, comma-separated (default: OC_PUBLIC_URL/ and OC_PUBLIC_URL/callback)"`
	AccessTTL           time.Duration `env:"OC_AUTH_ACCESS_TTL" default:"15m" help:"lifetime of access and ID tokens"`
	RefreshTTL          time.Duration `env:"OC_AUTH_REFRESH_TTL" default:"720h" help:"lifetime of a refresh token, renewed at each use"`
	SessionMaxAge       time.Duration `env:"OC_AUTH_SESSION_MAX_AGE" default:"2160h" help:"a session ends this long after its sign-in, however often it is refreshed"`
	SessionTTL          time.Duration `env:"OC_AUTH_SESSION_TTL" default:"12h" help:"how long a browser's sign-in is reused without the password (single sign-on), counted from the sign-in"`
	KeyRetention        time.Duration `env:"OC_AUTH_KEY_RETENTION" default:"24h" help:"how long a rotated-out signing key stays published"`
	ServiceClientID     string        `env:"OC_SERVICE_CLIENT_ID" default:"oc-services" help:"id of the client the services use for their own background calls"`
	ServiceClientSecret string        `env:"OC_SERVICE_CLIENT_SECRET" secret:"true" help:"secret of the client the services use for their own background calls, at least 24 characters; empty: none"`
	// KeysKey is base64; Validate decodes it into keysKey.
	KeysKey        string   `env:"OC_AUTH_KEYS_KEY" secret:"true" required:"true" help:"32 random bytes, base64 (openssl rand -base64 32): the key sealing the signing keys in the store; keep it: the keys sealed under it open with it only"`
	TrustedProxies []string `env:"OC_TRUSTED_PROXIES" help:"IP addresses and CIDR ranges of the reverse proxies in front of oc-auth, comma-separated: only they may name the client in X-Forwarded-For (empty: none)"`
	Infra          platform.Infra

	keysKey []byte
}

// Validate implements config.Validator.
func (c *appConfig) Validate() error {
	var errs []error
	key, err := seal.ParseKey(c.KeysKey)
	if err != nil {
		errs = append(errs, fmt.Errorf("OC_AUTH_KEYS_KEY: %w", err))
	}
	c.keysKey = key
	if _, err := throttle.ParseProxies(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("OC_TRUSTED_PROXIES: %w", err))
	}
	return errors.Join(errs...)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "oc-auth:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv config.Getenv) error {
	var cfg appConfig
	return platform.Run(ctx, service.Name, getenv, &cfg, &cfg.Infra,
		func(ctx context.Context, log *slog.Logger, d *platform.Deps) (server.Component, error) {
			return service.New(ctx, service.Config{
				Issuer:              cfg.Infra.Issuer(),
				AdminUser:           cfg.AdminUser,
				AdminPassword:       cfg.AdminPassword,
				WebRedirectURIs:     cfg.WebRedirectURIs,
				AccessTTL:           cfg.AccessTTL,
				RefreshTTL:          cfg.RefreshTTL,
				SessionMaxAge:       cfg.SessionMaxAge,
				SessionTTL:          cfg.SessionTTL,
				KeyRetention:        cfg.KeyRetention,
				ServiceClientID:     cfg.ServiceClientID,
				ServiceClientSecret: cfg.ServiceClientSecret,
				KeysKey:             cfg.keysKey,
				TrustedProxies:      cfg.TrustedProxies,
			}, service.Deps{Logger: log, Store: d.Store, NATS: d.NATS})
		})
}
