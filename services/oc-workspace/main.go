// Command oc-workspace runs the workspace service on its own (compose, production).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/config"
	"github.com/opencloud/opencloud/libs/platform"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/services/oc-workspace/service"
)

type appConfig struct {
	Replicate     time.Duration `env:"OC_WORKSPACE_REPLICATE" default:"10s" help:"how often every collaborative area shared with other peers is exchanged with each member peer"`
	GatewayURL    string        `env:"OC_GATEWAY_URL" default:"http://localhost:8000" help:"where the other services (catalog, workflow) are reached"`
	Reconcile     time.Duration `env:"OC_WORKSPACE_RECONCILE" default:"5m" help:"how often the workflows and workspaces shared in areas are read again from their owners, catching up on changes whose event was lost"`
	ServiceID     string        `env:"OC_SERVICE_CLIENT_ID" default:"oc-services" help:"the services' own client at oc-auth (an admin: it reads every shared workflow)"`
	ServiceSecret string        `env:"OC_SERVICE_CLIENT_SECRET" secret:"true" help:"its secret (the one oc-auth is configured with); empty: shared workflows follow oc-workflow's events only"`
	Infra         platform.Infra
}

// Validate implements config.Validator.
func (c *appConfig) Validate() error {
	if c.Reconcile <= 0 {
		return fmt.Errorf("OC_WORKSPACE_RECONCILE=%s: expected a positive duration such as 5m", c.Reconcile)
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "oc-workspace:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv config.Getenv) error {
	var cfg appConfig
	return platform.Run(ctx, "workspace", getenv, &cfg, &cfg.Infra,
		func(ctx context.Context, log *slog.Logger, d *platform.Deps) (server.Component, error) {
			self, peers, err := d.Federation(ctx, log)
			if err != nil {
				return nil, err
			}
			var token apiclient.TokenSource
			if cfg.ServiceSecret != "" {
				token = apiclient.ClientCredentials(cfg.Infra.TokenURL(), cfg.ServiceID, cfg.ServiceSecret, nil)
			}
			return service.New(ctx, service.Deps{Peers: peers, Directory: peers.Directory(), ReplicateInterval: cfg.Replicate, Logger: log, Store: d.Store, NATS: d.NATS, Verifier: d.Verifier,
				PeerID: self.ID, GatewayURL: cfg.GatewayURL, ServiceToken: token, ReconcileInterval: cfg.Reconcile})
		})
}
