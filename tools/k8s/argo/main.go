// Command workflow-controller runs Argo Workflows' controller (v3.6) for the
// project's test cluster. It is a minimal copy of upstream's
// cmd/workflow-controller wiring with two differences: it always runs as a
// single instance (no leader election), and its health endpoint listens on
// the address given by --healthz-addr (127.0.0.1 by default) instead of
// upstream's hard-coded ":6060" on every interface.
//
// Like upstream's, it sets klog's level (--gloglevel): the controller hands
// that level to every executor it starts (argoexec --gloglevel), and an
// executor given an empty one exits at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	log "github.com/sirupsen/logrus"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	wfclientset "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	cmdutil "github.com/argoproj/argo-workflows/v3/util/cmd"
	"github.com/argoproj/argo-workflows/v3/workflow/common"
	"github.com/argoproj/argo-workflows/v3/workflow/controller"
)

type config struct {
	kubeconfig       string
	namespace        string
	managedNamespace string
	configMap        string
	executorImage    string
	healthzAddr      string
	logLevel         string
	glogLevel        int
	workflowWorkers  int
}

func main() {
	var cfg config
	flag.StringVar(&cfg.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (required)")
	flag.StringVar(&cfg.namespace, "namespace", "argo", "namespace holding the controller's ConfigMap")
	flag.StringVar(&cfg.managedNamespace, "managed-namespace", "", "only watch this namespace (default: every namespace)")
	flag.StringVar(&cfg.configMap, "configmap", common.ConfigMapName, "name of the controller's ConfigMap")
	flag.StringVar(&cfg.executorImage, "executor-image", "quay.io/argoproj/argoexec:v3.6.2", "executor image written into pods")
	flag.StringVar(&cfg.healthzAddr, "healthz-addr", "127.0.0.1:6060", "address of the /healthz endpoint")
	flag.StringVar(&cfg.logLevel, "loglevel", "info", "debug, info, warn or error")
	flag.IntVar(&cfg.glogLevel, "gloglevel", 0, "klog level of the Kubernetes client, also given to every executor")
	flag.IntVar(&cfg.workflowWorkers, "workflow-workers", 8, "number of workflow workers")
	flag.Parse()
	cmdutil.SetGLogLevel(cfg.glogLevel)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "workflow-controller:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	if cfg.kubeconfig == "" {
		return errors.New("--kubeconfig is required")
	}
	level, err := log.ParseLevel(cfg.logLevel)
	if err != nil {
		return fmt.Errorf("--loglevel: %w", err)
	}
	log.SetLevel(level)
	log.SetFormatter(&log.TextFormatter{TimestampFormat: "2006-01-02T15:04:05.000Z", FullTimestamp: true})

	restConfig, err := clientcmd.BuildConfigFromFlags("", cfg.kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	restConfig.UserAgent = "argo-workflows/v3.6.2 opencloud-test-controller"
	restConfig.QPS, restConfig.Burst = 50, 100

	kubeClient, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return err
	}
	wfClient, err := wfclientset.NewForConfig(restConfig)
	if err != nil {
		return err
	}

	// The controller's background work stops with ctx; Run does not return an error.
	wfc, err := controller.NewWorkflowController(ctx, restConfig, kubeClient, wfClient,
		cfg.namespace, cfg.managedNamespace, cfg.executorImage, "", "text", cfg.configMap, false)
	if err != nil {
		return fmt.Errorf("new controller: %w", err)
	}
	go wfc.Run(ctx, cfg.workflowWorkers, 1, 2, 1, 1)

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", wfc.Healthz)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
	}
	ln, err := net.Listen("tcp", cfg.healthzAddr)
	if err != nil {
		return fmt.Errorf("healthz: %w", err)
	}
	log.WithField("addr", ln.Addr().String()).Info("healthz listening")

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("healthz: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
