// Command oc-workflow runs the workflow service on its own (compose, production).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/opencloud/opencloud/libs/config"
	"github.com/opencloud/opencloud/libs/platform"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/services/oc-workflow/service"
)

type appConfig struct {
	GatewayURL string `env:"OC_GATEWAY_URL" default:"http://localhost:8000" help:"where oc-catalog and oc-workspace are reached"`
	Infra      platform.Infra
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "oc-workflow:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv config.Getenv) error {
	var cfg appConfig
	return platform.Run(ctx, "workflow", getenv, &cfg, &cfg.Infra,
		func(ctx context.Context, log *slog.Logger, d *platform.Deps) (server.Component, error) {
			self, peers, err := d.Federation(ctx, log)
			if err != nil {
				return nil, err
			}
			return service.New(ctx, service.Deps{Peers: peers, Logger: log, Store: d.Store, NATS: d.NATS, Verifier: d.Verifier,
				PeerID: self.ID, GatewayURL: strings.TrimRight(cfg.GatewayURL, "/")})
		})
}
