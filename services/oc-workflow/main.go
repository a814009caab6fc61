// Command oc-workflow runs the workflow service on its own (compose, production).
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/opencloud/opencloud/libs/config"
	"github.com/opencloud/opencloud/libs/platform"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/services/oc-workflow/service"
)

type appConfig struct {
	HTTPAddr string `env:"OC_HTTP_ADDR" default:":8080"`
	Infra    platform.Infra
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
	if err := config.Load(getenv, &cfg); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	if err := cfg.Infra.Validate(); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := platform.NewLogger(os.Stderr, cfg.Infra.LogFormat, cfg.Infra.LogLevel)
	log.Info("starting oc-workflow", config.Attrs(&cfg)...)
	deps, err := platform.Open(ctx, cfg.Infra, "workflow", log)
	if err != nil {
		return err
	}
	defer deps.Close(context.Background())
	svc, err := service.New(ctx, service.Deps{Logger: log, Store: deps.Store, NATS: deps.NATS, Verifier: deps.Verifier})
	if err != nil {
		return err
	}
	go func() {
		if err := svc.Run(ctx); err != nil {
			log.Error("background work stopped", "err", err)
		}
	}()
	return server.Run(ctx, log, cfg.HTTPAddr, svc.Handler(), func(a net.Addr) { log.Info("listening", "addr", a.String()) })
}
