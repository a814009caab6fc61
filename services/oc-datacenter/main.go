// Command oc-datacenter runs the datacenter service on its own (compose, production).
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/config"
	"github.com/opencloud/opencloud/libs/platform"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/services/oc-datacenter/internal/credentials"
	"github.com/opencloud/opencloud/services/oc-datacenter/service"
)

type appConfig struct {
	GatewayURL string        `env:"OC_GATEWAY_URL" default:"http://localhost:8000" help:"where oc-catalog (inventory publishing) and oc-scheduler (which executions are over) are reached"`
	Kubeconfig string        `env:"OC_KUBECONFIG" help:"path of the kubeconfig of this peer's Kubernetes cluster; empty: no cluster (the service says so on /datacenter/readyz)"`
	Cluster    string        `env:"OC_DATACENTER_CLUSTER" default:"local" help:"the cluster's name: the cluster_ref of the compute resources it publishes (lowercase letters, digits, '.' and '-')"`
	Retention  time.Duration `env:"OC_DATACENTER_RETENTION" default:"24h" help:"how long an ended execution's namespace is kept before it is deleted"`
	// CredentialsKey is base64; Validate decodes it into key.
	CredentialsKey string `env:"OC_DATACENTER_CREDENTIALS_KEY" secret:"true" help:"32 random bytes, base64 (openssl rand -base64 32): the key sealing the S3 credentials of this peer's storages; empty: no credentials kept, executions using storages cannot be prepared"`
	ServiceID      string `env:"OC_SERVICE_CLIENT_ID" default:"oc-services" help:"the services' own client at oc-auth (an admin: it asks oc-scheduler which executions are over)"`
	ServiceSecret  string `env:"OC_SERVICE_CLIENT_SECRET" secret:"true" help:"its secret (the one oc-auth is configured with); empty: the namespaces of ended executions are kept"`
	Infra          platform.Infra

	key []byte
}

// Validate implements config.Validator.
func (c *appConfig) Validate() error {
	if c.Retention <= 0 {
		return errors.New("OC_DATACENTER_RETENTION must be a positive duration such as 24h")
	}
	if c.Kubeconfig != "" {
		if _, err := os.Stat(c.Kubeconfig); err != nil {
			return fmt.Errorf("OC_KUBECONFIG=%s: %w", c.Kubeconfig, err)
		}
	}
	if c.CredentialsKey != "" {
		key, err := decodeKey(c.CredentialsKey)
		if err != nil {
			return err
		}
		c.key = key
	}
	return nil
}

// decodeKey reads the credentials key; its errors never show the value.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	var key []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return nil, errors.New("OC_DATACENTER_CREDENTIALS_KEY is not base64: set it to 32 random bytes, base64 (openssl rand -base64 32)")
	}
	if len(key) != credentials.KeySize {
		return nil, fmt.Errorf("OC_DATACENTER_CREDENTIALS_KEY decodes to %d bytes, want %d: set it to 32 random bytes, base64 (openssl rand -base64 32)", len(key), credentials.KeySize)
	}
	return key, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "oc-datacenter:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv config.Getenv) error {
	var cfg appConfig
	return platform.Run(ctx, "datacenter", getenv, &cfg, &cfg.Infra,
		func(ctx context.Context, log *slog.Logger, d *platform.Deps) (server.Component, error) {
			self, peers, err := d.Federation(ctx, log)
			if err != nil {
				return nil, err
			}
			var token apiclient.TokenSource
			if cfg.ServiceSecret != "" {
				token = apiclient.ClientCredentials(cfg.Infra.TokenURL(), cfg.ServiceID, cfg.ServiceSecret, nil)
			}
			return service.New(ctx, service.Deps{Peers: peers, Logger: log, Store: d.Store, NATS: d.NATS, Verifier: d.Verifier,
				PeerID: self.ID, GatewayURL: cfg.GatewayURL, ServiceToken: token,
				Kubeconfig: cfg.Kubeconfig, Cluster: cfg.Cluster, Retention: cfg.Retention, CredentialsKey: cfg.key})
		})
}
