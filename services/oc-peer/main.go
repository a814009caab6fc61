// Command oc-peer runs the peer service on its own (compose, production).
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
	"github.com/opencloud/opencloud/libs/seal"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/services/oc-peer/service"
)

type appConfig struct {
	Name string `env:"OC_PEER_NAME" help:"this peer's human name, in its self document (default: the host name)"`
	// KeysKey is base64; Validate decodes it into keysKey.
	KeysKey   string        `env:"OC_PEER_KEYS_KEY" secret:"true" required:"true" help:"32 random bytes, base64 (openssl rand -base64 32): the key sealing this peer's private key in the store; keep it: the peer's key, and so its peer id, open with it only"`
	Heartbeat time.Duration `env:"OC_PEER_HEARTBEAT" default:"20s" help:"how often every known peer is checked (online, offline, round-trip time) and undelivered partnership messages are sent again"`
	Infra     platform.Infra

	keysKey []byte
}

// Validate implements config.Validator.
func (c *appConfig) Validate() error {
	key, err := seal.ParseKey(c.KeysKey)
	if err != nil {
		return fmt.Errorf("OC_PEER_KEYS_KEY: %w", err)
	}
	c.keysKey = key
	if c.Heartbeat < time.Second {
		return fmt.Errorf("OC_PEER_HEARTBEAT=%s: expected at least 1s", c.Heartbeat)
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "oc-peer:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv config.Getenv) error {
	var cfg appConfig
	return platform.Run(ctx, "peer", getenv, &cfg, &cfg.Infra,
		func(ctx context.Context, log *slog.Logger, d *platform.Deps) (server.Component, error) {
			return service.New(ctx, service.Deps{Logger: log, Store: d.Store, NATS: d.NATS, Verifier: d.Verifier,
				KeysKey: cfg.keysKey, Name: cfg.Name, PublicURL: strings.TrimRight(cfg.Infra.PublicURL, "/"), Heartbeat: cfg.Heartbeat})
		})
}
