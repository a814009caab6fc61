// Command oc-auth runs this peer's OpenID Provider on its own (compose,
// production). The all-in-one binary mounts the same service package.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/opencloud/opencloud/libs/config"
	"github.com/opencloud/opencloud/libs/platform"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/services/oc-auth/service"
)

type appConfig struct {
	HTTPAddr        string        `env:"OC_HTTP_ADDR" default:":8080"`
	AdminUser       string        `env:"OC_ADMIN_USER" default:"admin" help:"the first administrator's user name"`
	AdminPassword   string        `env:"OC_ADMIN_PASSWORD" secret:"true" help:"the first administrator's password, at least 12 characters (generated and logged once when empty)"`
	WebRedirectURIs []string      `env:"OC_AUTH_WEB_REDIRECT_URIS" help:"redirect URIs of the web client, comma-separated (default: OC_PUBLIC_URL/ and OC_PUBLIC_URL/callback)"`
	AccessTTL       time.Duration `env:"OC_AUTH_ACCESS_TTL" default:"15m" help:"lifetime of access and ID tokens"`
	RefreshTTL      time.Duration `env:"OC_AUTH_REFRESH_TTL" default:"720h" help:"lifetime of a refresh token, renewed at each use"`
	KeyRetention    time.Duration `env:"OC_AUTH_KEY_RETENTION" default:"24h" help:"how long a rotated-out signing key stays published"`
	Infra           platform.Infra
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
	if err := config.Load(getenv, &cfg); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	if err := cfg.Infra.Validate(); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := platform.NewLogger(os.Stderr, cfg.Infra.LogFormat, cfg.Infra.LogLevel)
	log.Info("starting oc-auth", config.Attrs(&cfg)...)
	deps, err := platform.Open(ctx, cfg.Infra, service.Name, log)
	if err != nil {
		return err
	}
	defer deps.Close(context.Background())
	svc, err := service.New(ctx, service.Config{
		Issuer:          cfg.Infra.Issuer(),
		AdminUser:       cfg.AdminUser,
		AdminPassword:   cfg.AdminPassword,
		WebRedirectURIs: cfg.WebRedirectURIs,
		AccessTTL:       cfg.AccessTTL,
		RefreshTTL:      cfg.RefreshTTL,
		KeyRetention:    cfg.KeyRetention,
	}, service.Deps{Logger: log, Store: deps.Store, NATS: deps.NATS})
	if err != nil {
		return err
	}
	go func() {
		if err := svc.Run(ctx); err != nil {
			log.Error("background work stopped", "err", err)
		}
	}()
	return server.Run(ctx, log, cfg.HTTPAddr, svc.Handler(), func(a net.Addr) {
		log.Info("listening", "addr", a.String(), "issuer", svc.Issuer())
	})
}
