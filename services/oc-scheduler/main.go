// Command oc-scheduler runs the scheduler service on its own (compose, production).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/opencloud/opencloud/libs/config"
	"github.com/opencloud/opencloud/libs/platform"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/services/oc-scheduler/service"
)

type appConfig struct {
	GatewayURL      string        `env:"OC_GATEWAY_URL" default:"http://localhost:8000" help:"where oc-workflow and oc-catalog are reached"`
	DefaultDuration time.Duration `env:"OC_SCHEDULER_DEFAULT_DURATION" default:"5m" help:"how long an execution holds its resources when the booking request gives no duration_seconds (1s to 168h)"`
	LivePerUser     int           `env:"OC_SCHEDULER_LIVE_PER_USER" default:"10" help:"how many executions one user may follow live (GET /scheduler/executions/{id}/live) at once; 1 or more"`
	Infra           platform.Infra
}

// Validate implements config.Validator.
func (c *appConfig) Validate() error {
	if c.LivePerUser < 1 {
		return fmt.Errorf("OC_SCHEDULER_LIVE_PER_USER=%d: expected 1 or more", c.LivePerUser)
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "oc-scheduler:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv config.Getenv) error {
	var cfg appConfig
	return platform.Run(ctx, "scheduler", getenv, &cfg, &cfg.Infra,
		func(ctx context.Context, log *slog.Logger, d *platform.Deps) (server.Component, error) {
			self, peers, err := d.Federation(ctx, log)
			if err != nil {
				return nil, err
			}
			return service.New(ctx, service.Deps{Peers: peers, Logger: log, Store: d.Store, NATS: d.NATS, Verifier: d.Verifier,
				PeerID: self.ID, GatewayURL: strings.TrimRight(cfg.GatewayURL, "/"), DefaultDuration: cfg.DefaultDuration,
				LivePerUser: cfg.LivePerUser})
		})
}
