package platform

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/opencloud/opencloud/libs/config"
	"github.com/opencloud/opencloud/libs/server"
)

// Build makes a service from what Run opened.
type Build func(ctx context.Context, log *slog.Logger, deps *Deps) (server.Component, error)

// ShutdownTimeout bounds how long Run waits for the background loop once
// the HTTP server has stopped, and then for NATS to drain.
const ShutdownTimeout = 20 * time.Second

// Run is the body of every standalone service's main: it loads cfg (the
// service's config struct, which embeds the Infra that infra points to) from
// getenv, stops on the first bad value with a message naming it, logs the
// configuration with secrets masked, opens the store, NATS and the token
// verifier, builds the service, runs its background loop and serves it on
// OC_HTTP_ADDR until ctx is done. A loop that dies makes /readyz fail with
// its error. Shutdown goes in order: the HTTP server stops, the loop
// finishes, then NATS is drained and the store closed.
func Run(ctx context.Context, name string, getenv config.Getenv, cfg any, infra *Infra, build Build) error {
	if err := config.Load(getenv, cfg); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	if err := infra.Validate(); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := NewLogger(os.Stderr, infra.LogFormat, infra.LogLevel)
	log.Info("starting oc-"+name, config.Attrs(cfg)...)
	deps, err := Open(ctx, *infra, name, log)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		if err := deps.Close(cctx); err != nil {
			log.Warn("closing the store failed", "err", err)
		}
	}()
	svc, err := build(ctx, log, deps)
	if err != nil {
		return err
	}
	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	loop := StartLoop(loopCtx, log, svc)
	err = server.Run(ctx, log, infra.HTTPAddr, server.WithChecks(svc.Handler(), loop.Check()), func(a net.Addr) {
		log.Info("listening", "addr", a.String(), "prefix", svc.Prefix(), "issuer", infra.Issuer())
	})
	stopLoop()
	select {
	case <-loop.Done():
	case <-time.After(ShutdownTimeout):
		log.Error("the background loop did not stop in time; closing the store and NATS under it", "timeout", ShutdownTimeout)
	}
	return err
}

// StartLoop runs c's background loop until ctx ends, and logs it if it dies:
// the service then stays up, and its /readyz (with the loop's Check added
// by server.WithChecks) fails with the error.
func StartLoop(ctx context.Context, log *slog.Logger, c server.Component) *server.Loop {
	loop := server.StartLoop(ctx, c.Name(), c.Run)
	go func() {
		<-loop.Done()
		if err := loop.Err(); err != nil {
			log.Error("background loop stopped; the service reports itself not ready", "component", c.Name(), "err", err)
		}
	}()
	return loop
}
