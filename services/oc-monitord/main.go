// Command oc-monitord runs the monitord service on its own (compose, production).
//
//	oc-monitord                      serve (health, readiness, metrics)
//	oc-monitord render EXECUTION_ID  print the execution's Argo Workflow as YAML
//	oc-monitord run EXECUTION_ID     run the execution on the cluster and follow it to its end
//
// render reads the execution from the store the platform configuration
// names (OC_STORE, OC_SQLITE_PATH or OC_MONGO_URI/OC_MONGO_DB), renders it
// as oc-monitord would submit it, checks it with Argo's validation and
// prints it for a person to inspect; it neither submits nor changes anything.
//
// run is the worker oc-schedulerd's process launcher starts for a claimed
// (starting) execution, or again for a running one after a crash: it
// submits the execution's Argo Workflow to the cluster of OC_KUBECONFIG
// (or finds the one already submitted), follows it, writes the steps and
// the end in the store and announces them on NATS. It exits 0 once the
// execution has ended, whatever its state, and non-zero when the store,
// NATS or the cluster failed, it was stopped, or another worker holds the
// execution (the execution is then left for a worker started later to
// re-attach). While it runs it holds the execution's lease
// (OC_MONITORD_WORKER, OC_MONITORD_LEASE_TTL) and gives it up when stopped.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/config"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/platform"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"

	"github.com/opencloud/opencloud/services/oc-monitord/internal/render"
	"github.com/opencloud/opencloud/services/oc-monitord/service"
	"github.com/opencloud/opencloud/services/oc-monitord/worker"
)

type appConfig struct {
	Infra platform.Infra
}

// renderConfig is what render reads: where the store is, and who this peer is.
type renderConfig struct {
	Infra platform.Infra
}

// runConfig is what run reads.
type runConfig struct {
	Kubeconfig string        `env:"OC_KUBECONFIG" help:"path of the kubeconfig of this peer's Kubernetes cluster, where executions run (empty: the pod's own service account, when run in a pod)"`
	Worker     string        `env:"OC_MONITORD_WORKER" help:"the name under which run holds the execution's lease: set by oc-schedulerd's launcher to the name it claimed the execution for (empty: a name of this process's own)"`
	LeaseTTL   time.Duration `env:"OC_MONITORD_LEASE_TTL" default:"30s" help:"how long the execution's lease lasts unless renewed: a dead worker is replaced after it"`
	Infra      platform.Infra
}

const usage = "usage: oc-monitord [render EXECUTION_ID | run EXECUTION_ID]"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "oc-monitord:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	switch {
	case len(args) == 0:
		return serve(ctx, getenv)
	case args[0] == "render":
		if len(args) != 2 || args[1] == "" {
			return errors.New("render needs exactly one execution id\n" + usage)
		}
		return renderCmd(ctx, args[1], getenv, stdout, stderr)
	case args[0] == "run":
		if len(args) != 2 || args[1] == "" {
			return errors.New("run needs exactly one execution id\n" + usage)
		}
		return runCmd(ctx, args[1], getenv, stderr)
	default:
		return fmt.Errorf("unknown command %q\n%s", args[0], usage)
	}
}

func serve(ctx context.Context, getenv config.Getenv) error {
	var cfg appConfig
	return platform.Run(ctx, "monitord", getenv, &cfg, &cfg.Infra,
		func(ctx context.Context, log *slog.Logger, d *platform.Deps) (server.Component, error) {
			_, peers, err := d.Federation(ctx, log)
			if err != nil {
				return nil, err
			}
			return service.New(ctx, service.Deps{Peers: peers, Logger: log, Store: d.Store, NATS: d.NATS, Verifier: d.Verifier})
		})
}

func renderCmd(ctx context.Context, id string, getenv config.Getenv, stdout, stderr io.Writer) error {
	var cfg renderConfig
	if err := config.Load(getenv, &cfg); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	if err := cfg.Infra.Validate(); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	// Only the store is needed: no NATS, no token verifier, nothing served.
	log := platform.NewLogger(stderr, cfg.Infra.LogFormat, cfg.Infra.LogLevel)
	st, err := platform.OpenStore(ctx, cfg.Infra, log)
	if err != nil {
		return fmt.Errorf("open the %s store: %w", cfg.Infra.Store, err)
	}
	defer st.Close(context.Background())
	execs, err := executions.Open(ctx, st)
	if err != nil {
		return err
	}
	e, err := execs.Get(ctx, id)
	if errors.Is(err, executions.ErrNotFound) {
		return fmt.Errorf("no execution %q in the %s store (check the id and OC_STORE/OC_SQLITE_PATH/OC_MONGO_URI)", id, cfg.Infra.Store)
	}
	if err != nil {
		return err
	}
	self, err := federation.LoadSelf(ctx, st)
	if err != nil {
		return fmt.Errorf("this peer's identity (oc-peer publishes it in the store): %w", err)
	}
	w, err := render.Render(e, render.Options{LocalPeer: self.ID})
	if err != nil {
		return fmt.Errorf("execution %s: %w", id, err)
	}
	if err := render.Validate(w); err != nil {
		return fmt.Errorf("execution %s: %w", id, err)
	}
	out, err := render.YAML(w)
	if err != nil {
		return fmt.Errorf("execution %s: encode YAML: %w", id, err)
	}
	_, err = stdout.Write(out)
	return err
}

func runCmd(ctx context.Context, id string, getenv config.Getenv, stderr io.Writer) error {
	var cfg runConfig
	if err := config.Load(getenv, &cfg); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	if err := cfg.Infra.Validate(); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	var kube *rest.Config
	var err error
	if cfg.Kubeconfig == "" {
		// In a pod (oc-schedulerd's kubernetes launcher), its service account.
		if kube, err = rest.InClusterConfig(); err != nil {
			return fmt.Errorf("configuration: OC_KUBECONFIG is not set and this is not a pod (%v): run needs the kubeconfig of the cluster the execution runs on", err)
		}
	} else if kube, err = clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig); err != nil {
		return fmt.Errorf("configuration: OC_KUBECONFIG=%s: %w", cfg.Kubeconfig, err)
	}
	log := platform.NewLogger(stderr, cfg.Infra.LogFormat, cfg.Infra.LogLevel)
	st, err := platform.OpenStore(ctx, cfg.Infra, log)
	if err != nil {
		return fmt.Errorf("open the %s store: %w", cfg.Infra.Store, err)
	}
	defer st.Close(context.Background())
	self, err := federation.LoadSelf(ctx, st)
	if err != nil {
		return fmt.Errorf("this peer's identity (oc-peer publishes it in the store): %w", err)
	}
	nc, err := broker.Connect(ctx, cfg.Infra.NATSURL, "oc-monitord-"+id, log)
	if err != nil {
		return err
	}
	defer func() {
		// What is still buffered (the last step and end events) goes out
		// before the process exits.
		if err := nc.FlushTimeout(5 * time.Second); err != nil {
			log.Warn("NATS: events may not all have been sent", "err", err)
		}
		nc.Close()
	}()
	pub := broker.NewPublisher(nc, "monitord")
	execs, err := executions.Open(ctx, st, executions.WithEvents(pub))
	if err != nil {
		return err
	}
	err = worker.Follow(ctx, worker.Deps{Logger: log, Executions: execs, Publisher: pub, Kube: kube, PeerID: self.ID,
		Worker: cfg.Worker, LeaseTTL: cfg.LeaseTTL}, id)
	if errors.Is(err, executions.ErrNotFound) {
		return fmt.Errorf("no execution %q in the %s store (check the id and OC_STORE/OC_SQLITE_PATH/OC_MONGO_URI)", id, cfg.Infra.Store)
	}
	return err
}
