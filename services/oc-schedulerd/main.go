// Command oc-schedulerd runs the scheduling daemon on its own (compose,
// production): it claims the executions that are due, has oc-datacenter
// prepare each one, and starts a monitord worker for it — an oc-monitord
// process (OC_SCHEDULERD_LAUNCHER=process) or a Kubernetes Job
// (kubernetes) — within a concurrency limit.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/config"
	"github.com/opencloud/opencloud/libs/platform"
	"github.com/opencloud/opencloud/libs/server"

	dcclient "github.com/opencloud/opencloud/services/oc-datacenter/client"
	"github.com/opencloud/opencloud/services/oc-schedulerd/internal/daemon"
	"github.com/opencloud/opencloud/services/oc-schedulerd/launch"
	"github.com/opencloud/opencloud/services/oc-schedulerd/service"
)

type appConfig struct {
	Name          string        `env:"OC_SCHEDULERD_NAME" help:"this daemon's name, the prefix of its workers' lease names (default: the host name)"`
	Launcher      string        `env:"OC_SCHEDULERD_LAUNCHER" default:"process" help:"how workers start: process (an oc-monitord process) or kubernetes (a Job per execution)"`
	Concurrency   int           `env:"OC_SCHEDULERD_CONCURRENCY" default:"20" help:"how many workers run at once; more due executions wait"`
	Lead          time.Duration `env:"OC_SCHEDULERD_LEAD" default:"2s" help:"how long before its start an execution is claimed and prepared"`
	Scan          time.Duration `env:"OC_SCHEDULERD_SCAN" default:"5s" help:"how often the store is scanned besides the NATS events"`
	Retry         time.Duration `env:"OC_SCHEDULERD_RETRY" default:"15s" help:"how long an execution that could not be prepared or launched waits before the next try"`
	LeaseTTL      time.Duration `env:"OC_MONITORD_LEASE_TTL" default:"30s" help:"how long a worker's lease lasts unless renewed (passed to the workers)"`
	MonitordPath  string        `env:"OC_SCHEDULERD_MONITORD_PATH" default:"oc-monitord" help:"process launcher: the oc-monitord binary"`
	Detach        bool          `env:"OC_SCHEDULERD_DETACH" default:"false" help:"process launcher: leave the workers running when the daemon stops; the daemon started next under the same OC_SCHEDULERD_NAME counts them and launches none again (false: they are stopped and give their executions back)"`
	WorkerEnv     []string      `env:"OC_SCHEDULERD_WORKER_ENV" help:"process launcher: more variables of the daemon's environment the workers get, by name, comma-separated (e.g. what the kubeconfig's credential plugin reads)"`
	Kubeconfig    string        `env:"OC_KUBECONFIG" help:"kubernetes launcher: the kubeconfig of the cluster the Jobs run in (empty: the in-cluster configuration); the process launcher passes it to the workers"`
	JobNamespace  string        `env:"OC_SCHEDULERD_JOB_NAMESPACE" default:"opencloud" help:"kubernetes launcher: the namespace of the workers' Jobs"`
	JobImage      string        `env:"OC_SCHEDULERD_MONITORD_IMAGE" help:"kubernetes launcher: oc-monitord's image"`
	JobAccount    string        `env:"OC_SCHEDULERD_JOB_SERVICE_ACCOUNT" default:"oc-monitord" help:"kubernetes launcher: the service account of the workers' pods"`
	JobEnvSecret  string        `env:"OC_SCHEDULERD_JOB_ENV_SECRET" help:"kubernetes launcher: a Secret whose keys become the workers' environment (OC_STORE, OC_MONGO_URI, OC_NATS_URL...)"`
	GatewayURL    string        `env:"OC_GATEWAY_URL" default:"http://localhost:8000" help:"where oc-datacenter is reached"`
	ServiceID     string        `env:"OC_SERVICE_CLIENT_ID" default:"oc-services" help:"the services' own client at oc-auth (oc-datacenter's prepare route needs an admin)"`
	ServiceSecret string        `env:"OC_SERVICE_CLIENT_SECRET" secret:"true" help:"its secret (the one oc-auth is configured with)"`
	Infra         platform.Infra
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "oc-schedulerd:", err)
		os.Exit(1)
	}
}

// Validate checks the variables the workers get.
func (c *appConfig) Validate() error {
	var errs []error
	for _, name := range c.WorkerEnv {
		switch {
		case !envName.MatchString(name):
			errs = append(errs, fmt.Errorf("OC_SCHEDULERD_WORKER_ENV: %q is not a variable name", name))
		case slices.Contains(neverToWorkers, name):
			errs = append(errs, fmt.Errorf("OC_SCHEDULERD_WORKER_ENV: %s is the daemon's own secret and never reaches a worker", name))
		}
	}
	return errors.Join(errs...)
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// neverToWorkers are the daemon's own credentials: a worker does not need
// them, and what runs beside it must not read them.
var neverToWorkers = []string{"OC_SERVICE_CLIENT_SECRET", "OC_ADMIN_PASSWORD"}

func run(ctx context.Context, getenv config.Getenv) error {
	var cfg appConfig
	return platform.Run(ctx, "schedulerd", getenv, &cfg, &cfg.Infra,
		func(ctx context.Context, log *slog.Logger, d *platform.Deps) (server.Component, error) {
			l, err := launcher(cfg, log, getenv)
			if err != nil {
				return nil, fmt.Errorf("configuration: %w", err)
			}
			if cfg.ServiceSecret == "" {
				log.Warn("OC_SERVICE_CLIENT_SECRET is not set: oc-datacenter will refuse to prepare executions, which wait with that reason")
			}
			token := apiclient.ClientCredentials(cfg.Infra.TokenURL(), cfg.ServiceID, cfg.ServiceSecret, nil)
			_, peers, err := d.Federation(ctx, log)
			if err != nil {
				return nil, err
			}
			return service.New(ctx, service.Deps{Peers: peers, Logger: log, Store: d.Store, NATS: d.NATS, Verifier: d.Verifier,
				Launcher:    l,
				Provisioner: daemon.Datacenter{Client: dcclient.New(cfg.GatewayURL, token, nil)},
				Config: service.Config{Name: cfg.Name, Concurrency: cfg.Concurrency, Lead: cfg.Lead, Scan: cfg.Scan,
					Retry: cfg.Retry, LaunchTTL: max(2*time.Minute, 2*cfg.LeaseTTL)}})
		})
}

// launcher builds the configured launcher.
func launcher(cfg appConfig, log *slog.Logger, getenv config.Getenv) (launch.Launcher, error) {
	switch strings.ToLower(cfg.Launcher) {
	case launch.NameProcess:
		return launch.Process(launch.ProcessOptions{Path: cfg.MonitordPath, Env: workerEnv(cfg, getenv), Detach: cfg.Detach})
	case launch.NameKubernetes:
		kube, err := kubeConfig(cfg.Kubeconfig)
		if err != nil {
			return nil, err
		}
		return launch.Kubernetes(launch.KubernetesOptions{Config: kube, Namespace: cfg.JobNamespace, Image: cfg.JobImage,
			ServiceAccount: cfg.JobAccount, EnvFrom: cfg.JobEnvSecret,
			Env: map[string]string{"OC_MONITORD_LEASE_TTL": cfg.LeaseTTL.String()}, Logger: log})
	case launch.NameInProcess:
		return nil, errors.New("OC_SCHEDULERD_LAUNCHER=inprocess is the all-in-one binary's (opencloud); oc-schedulerd has process or kubernetes")
	default:
		return nil, fmt.Errorf("OC_SCHEDULERD_LAUNCHER=%q: expected process or kubernetes", cfg.Launcher)
	}
}

// workerEnv is the configuration of a process-launched worker: what
// `oc-monitord run` reads — the platform's variables (store, NATS, logs),
// OC_KUBECONFIG — as this daemon has them (the peer id is read from the
// store), its lease TTL,
// and the variables OC_SCHEDULERD_WORKER_ENV names. Nothing else of the
// daemon's environment reaches the workers: not the services' secret.
func workerEnv(cfg appConfig, getenv config.Getenv) []string {
	var names []string
	// Loading the platform's configuration asks for each of its variables.
	_ = config.Load(func(name string) string { names = append(names, name); return "" }, &platform.Infra{})
	names = append(names, "OC_KUBECONFIG")
	names = append(names, cfg.WorkerEnv...)
	env := make([]string, 0, len(names)+1)
	for _, name := range names {
		if v := getenv(name); v != "" && !slices.Contains(neverToWorkers, name) && name != "OC_MONITORD_LEASE_TTL" {
			env = append(env, name+"="+v)
		}
	}
	return append(env, "OC_MONITORD_LEASE_TTL="+cfg.LeaseTTL.String())
}

func kubeConfig(path string) (*rest.Config, error) {
	if path == "" {
		c, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("OC_KUBECONFIG is empty and this is not a pod (%w): set OC_KUBECONFIG", err)
		}
		return c, nil
	}
	c, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("OC_KUBECONFIG=%s: %w", path, err)
	}
	return c, nil
}
