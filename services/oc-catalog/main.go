// Command oc-catalog runs the catalog service on its own (compose, production).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/opencloud/opencloud/libs/config"
	"github.com/opencloud/opencloud/libs/platform"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/services/oc-catalog/service"
)

type appConfig struct {
	PeerID string `env:"OC_PEER_ID" default:"local" help:"the id of this peer, stamped on the resources it owns"`
	Infra  platform.Infra
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "oc-catalog:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv config.Getenv) error {
	var cfg appConfig
	return platform.Run(ctx, "catalog", getenv, &cfg, &cfg.Infra,
		func(ctx context.Context, log *slog.Logger, d *platform.Deps) (server.Component, error) {
			return service.New(ctx, service.Deps{Logger: log, Store: d.Store, NATS: d.NATS, Verifier: d.Verifier, PeerID: cfg.PeerID})
		})
}
