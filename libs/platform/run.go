package platform

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/opencloud/opencloud/libs/config"
	"github.com/opencloud/opencloud/libs/server"
)

// Build makes a service from what Run opened.
type Build func(ctx context.Context, log *slog.Logger, deps *Deps) (server.Component, error)

// Run is the body of every standalone service's main: it loads cfg (the
// service's config struct, which embeds the Infra that infra points to) from
// getenv, stops on the first bad value with a message naming it, logs the
// configuration with secrets masked, opens the store, NATS and the token
// verifier, builds the service, runs its background work and serves it on
// OC_HTTP_ADDR until ctx is done.
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
	defer deps.Close(context.Background())
	svc, err := build(ctx, log, deps)
	if err != nil {
		return err
	}
	go func() {
		if err := svc.Run(ctx); err != nil {
			log.Error("background work stopped", "err", err)
		}
	}()
	return server.Run(ctx, log, infra.HTTPAddr, svc.Handler(), func(a net.Addr) {
		log.Info("listening", "addr", a.String(), "prefix", svc.Prefix(), "issuer", infra.Issuer())
	})
}
