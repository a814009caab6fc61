// Command opencloud runs a whole OpenCloud peer in one process: the embedded
// SQLite store and NATS server, every service, and a gateway on one port.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/opencloud/opencloud/cmd/opencloud/internal/gateway"
	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/config"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/platform"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/sqlitestore"
	authsvc "github.com/opencloud/opencloud/services/oc-auth/service"
	catalogsvc "github.com/opencloud/opencloud/services/oc-catalog/service"
	dcclient "github.com/opencloud/opencloud/services/oc-datacenter/client"
	datacentersvc "github.com/opencloud/opencloud/services/oc-datacenter/service"
	monitordsvc "github.com/opencloud/opencloud/services/oc-monitord/service"
	"github.com/opencloud/opencloud/services/oc-monitord/worker"
	peersvc "github.com/opencloud/opencloud/services/oc-peer/service"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
	schedulersvc "github.com/opencloud/opencloud/services/oc-scheduler/service"
	"github.com/opencloud/opencloud/services/oc-schedulerd/launch"
	schedulerdsvc "github.com/opencloud/opencloud/services/oc-schedulerd/service"
	workflowsvc "github.com/opencloud/opencloud/services/oc-workflow/service"
	workspacesvc "github.com/opencloud/opencloud/services/oc-workspace/service"
)

type appConfig struct {
	HTTPAddr      string        `env:"OC_HTTP_ADDR" default:":8000" help:"where the gateway listens"`
	PublicURL     string        `env:"OC_PUBLIC_URL" help:"the URL users reach the gateway at; tokens are issued by <it>/auth (default: http://localhost:<port of OC_HTTP_ADDR>)"`
	DataDir       string        `env:"OC_DATA" default:"./data" help:"directory of the SQLite store and NATS JetStream files"`
	PeerName      string        `env:"OC_PEER_NAME" help:"this peer's human name, in its self document (default: the host name)"`
	AdminUser     string        `env:"OC_ADMIN_USER" default:"admin" help:"the first administrator's user name"`
	AdminPassword string        `env:"OC_ADMIN_PASSWORD" secret:"true" help:"the first administrator's password (generated and printed once when empty)"`
	NATSAddr      string        `env:"OC_NATS_ADDR" default:"127.0.0.1:0" help:"where the embedded NATS listens (port 0: any free port)"`
	LogFormat     string        `env:"OC_LOG_FORMAT" default:"text" help:"text or json"`
	LogLevel      string        `env:"OC_LOG_LEVEL" default:"info" help:"debug, info, warn or error"`
	EventsMaxAge  time.Duration `env:"OC_EVENTS_MAX_AGE" default:"168h" help:"how long NATS keeps events for replay"`
	EventsSize    string        `env:"OC_EVENTS_MAX_BYTES" default:"1GiB" help:"how much NATS keeps of the events at most (such as 512MiB or 2GiB); the oldest go first"`
	Kubeconfig    string        `env:"OC_KUBECONFIG" help:"kubeconfig of this peer's Kubernetes cluster (empty: none; executions wait for one)"`
	Cluster       string        `env:"OC_DATACENTER_CLUSTER" default:"local" help:"the cluster's name: the cluster_ref of the computes it publishes"`
	Retention     time.Duration `env:"OC_DATACENTER_RETENTION" default:"24h" help:"how long an ended execution's namespace is kept"`
	Concurrency   int           `env:"OC_SCHEDULERD_CONCURRENCY" default:"20" help:"how many executions are followed at once; more due executions wait"`
	LeaseTTL      time.Duration `env:"OC_MONITORD_LEASE_TTL" default:"30s" help:"how long a worker's lease on its execution lasts unless renewed"`

	Heartbeat    time.Duration `env:"OC_PEER_HEARTBEAT" default:"20s" help:"how often every known peer is checked (online, offline, round-trip time) and undelivered partnership messages are sent again"`
	Replicate    time.Duration `env:"OC_WORKSPACE_REPLICATE" default:"10s" help:"how often every collaborative area shared with other peers is exchanged with each member peer (a change is sent at once as well)"`
	PeerDeadline time.Duration `env:"OC_CATALOG_PEER_DEADLINE" default:"1s" help:"how long a catalog search waits for each partner before answering without it"`

	TrustedProxies []string `env:"OC_TRUSTED_PROXIES" help:"IP addresses and CIDR ranges of the reverse proxies in front of this peer, comma-separated: only they may name the client in X-Forwarded-For, which oc-auth counts failed sign-ins by (empty: none)"`
}

func (c *appConfig) Validate() error {
	var errs []error
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		errs = append(errs, fmt.Errorf("OC_PUBLIC_URL=%q: expected an http:// or https:// URL", c.PublicURL))
	}
	if _, err := platform.ParseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("OC_LOG_FORMAT=%q: expected text or json", c.LogFormat))
	}
	if c.Heartbeat < time.Second {
		errs = append(errs, fmt.Errorf("OC_PEER_HEARTBEAT=%s: expected at least 1s", c.Heartbeat))
	}
	if c.Replicate < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("OC_WORKSPACE_REPLICATE=%s: expected at least 100ms", c.Replicate))
	}
	if c.PeerDeadline < 10*time.Millisecond || c.PeerDeadline > time.Minute {
		errs = append(errs, fmt.Errorf("OC_CATALOG_PEER_DEADLINE=%s: expected 10ms to 1m", c.PeerDeadline))
	}
	if c.EventsMaxAge <= 0 {
		errs = append(errs, fmt.Errorf("OC_EVENTS_MAX_AGE=%s: expected a positive duration such as 168h", c.EventsMaxAge))
	}
	if _, err := broker.ParseSize(c.EventsSize); err != nil {
		errs = append(errs, fmt.Errorf("OC_EVENTS_MAX_BYTES: %w", err))
	}
	if err := authsvc.CheckTrustedProxies(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("OC_TRUSTED_PROXIES: %w", err))
	}
	if _, port, err := net.SplitHostPort(c.NATSAddr); err != nil {
		errs = append(errs, fmt.Errorf("OC_NATS_ADDR=%q: expected host:port", c.NATSAddr))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		errs = append(errs, fmt.Errorf("OC_NATS_ADDR=%q: expected a port number from 0 to 65535", c.NATSAddr))
	}
	return errors.Join(errs...)
}

// eventLimits are the bounds of the events stream (Validate checked them).
func (c *appConfig) eventLimits() broker.StreamLimits {
	n, _ := broker.ParseSize(c.EventsSize)
	return broker.StreamLimits{MaxAge: c.EventsMaxAge, MaxBytes: n}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "opencloud:", err)
		os.Exit(1)
	}
}

// run starts the peer and blocks until ctx is done. ready, if non-nil, gets
// the gateway's base URL once it accepts requests.
func run(ctx context.Context, getenv config.Getenv, out io.Writer, ready func(baseURL string)) error {
	var cfg appConfig
	if err := config.Load(getenv, &cfg); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := platform.NewLogger(out, cfg.LogFormat, cfg.LogLevel)
	log.Info("starting opencloud (all-in-one)", config.Attrs(&cfg)...)

	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data directory %s: %w", cfg.DataDir, err)
	}
	st, err := sqlitestore.Open(ctx, filepath.Join(cfg.DataDir, "opencloud.db"), log)
	if err != nil {
		return err
	}
	defer st.Close(context.Background())

	nc, stopNATS, err := startNATS(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stopNATS()

	// Listen before building the services: with OC_HTTP_ADDR=...:0 the real
	// port is only known now, and the services fetch token keys through it.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	publicURL := strings.TrimRight(cfg.PublicURL, "/")
	if publicURL == "" {
		// The real port: OC_HTTP_ADDR may say :0.
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		publicURL = "http://localhost:" + port
	}
	issuer := publicURL + "/auth"
	verifier := authn.NewOIDCVerifier(ctx, issuer, "http://"+loopback(ln.Addr())+"/auth/keys", authn.Audience)

	// Services call each other through the gateway on the loopback address,
	// with the caller's own token, as they do through Traefik in compose.
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		ln.Close()
		return err
	}
	comps, err := buildComponents(ctx, cfg, issuer, publicURL, deps{log: log, store: st, nats: nc, verifier: verifier,
		metrics: server.NewMetrics(prometheus.NewRegistry()), gatewayURL: "http://" + loopback(ln.Addr()),
		serviceSecret: base64.RawURLEncoding.EncodeToString(secret)})
	if err != nil {
		ln.Close()
		return err
	}
	// Each component's background loop runs until the gateway has stopped;
	// one that dies makes its component's /readyz fail.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	loops := make([]*server.Loop, len(comps))
	routes := make([]gateway.Route, len(comps))
	for i, c := range comps {
		loops[i] = platform.StartLoop(ctx, log, c)
		routes[i] = gateway.Route{Prefix: c.Prefix(), Handler: server.WithChecks(c.Handler(), loops[i].Check())}
	}
	gw := gateway.New(routes, webHandler(publicURL, comps))
	fmt.Fprintf(out, "\nOpenCloud is up: %s\n  sign in as %q with OC_ADMIN_PASSWORD, or the password printed above on the first start\n  API docs: %s/catalog/swagger/index.html\n  data: %s\n\n",
		publicURL, cfg.AdminUser, publicURL, cfg.DataDir)
	if ready != nil {
		ready("http://" + loopback(ln.Addr()))
	}
	err = server.Serve(ctx, log, ln, gw)
	cancel()
	// The store and NATS close after this returns: wait for the loops first.
	deadline := time.After(platform.ShutdownTimeout)
	for i, l := range loops {
		select {
		case <-l.Done():
		case <-deadline:
			log.Error("a background loop did not stop in time", "component", comps[i].Name(), "timeout", platform.ShutdownTimeout)
			return err
		}
	}
	return err
}

type deps struct {
	log      *slog.Logger
	store    store.Store
	nats     *nats.Conn
	verifier authn.Verifier
	metrics  *server.Metrics
	// gatewayURL is where one service reaches another.
	gatewayURL string
	// serviceSecret is the secret of the services' own client.
	serviceSecret string
	// self is this peer's identity, known once oc-peer is built.
	self federation.Self
	// peers verifies other peers' signed calls for every service.
	peers *federation.Authenticator
}

// keyFile reads a key kept in the data directory, creating it (32 random
// bytes, readable by this user only) on the first start: what it seals must
// survive a restart, so the key does too. lost says what a new key costs.
// datacenter.key seals the S3 credentials oc-datacenter keeps, auth.key the
// signing keys of oc-auth, peer.key this peer's own key.
func keyFile(path, lost string) ([]byte, error) {
	key, err := os.ReadFile(path)
	switch {
	case err == nil && len(key) == 32:
		return key, nil
	case err == nil:
		return nil, fmt.Errorf("%s: %d bytes, expected 32 (remove it to make a new one; %s)", path, len(key), lost)
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return key, nil
}

// serviceClientID is the services' own client at oc-auth.
const serviceClientID = "oc-services"

// serviceToken is the services' own identity, for their background calls.
func (d deps) serviceToken() apiclient.TokenSource {
	return apiclient.ClientCredentials(d.gatewayURL+"/auth/oauth/token", serviceClientID, d.serviceSecret, nil)
}

// inProcessWorkers is the all-in-one binary's launcher: oc-monitord's
// worker as a goroutine of this process.
func inProcessWorkers(ctx context.Context, cfg appConfig, d deps) (func(ctx context.Context, id, worker string) error, error) {
	pub := broker.NewPublisher(d.nats, "monitord")
	execs, err := executions.Open(ctx, d.store, executions.WithEvents(pub))
	if err != nil {
		return nil, err
	}
	var kube *rest.Config
	if cfg.Kubeconfig != "" {
		if kube, err = clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig); err != nil {
			return nil, fmt.Errorf("OC_KUBECONFIG=%s: %w", cfg.Kubeconfig, err)
		}
	}
	return func(ctx context.Context, id, name string) error {
		if kube == nil {
			return errors.New("no kubeconfig configured (OC_KUBECONFIG)")
		}
		return worker.Follow(ctx, worker.Deps{Logger: d.log, Executions: execs, Publisher: pub, Kube: kube,
			PeerID: d.self.ID, Worker: name, LeaseTTL: cfg.LeaseTTL}, id)
	}, nil
}

func buildComponents(ctx context.Context, cfg appConfig, issuer, publicURL string, d deps) ([]server.Component, error) {
	// oc-peer first: it makes or reads this peer's key, from which the
	// peer id every other service stamps is derived.
	peerKey, err := keyFile(filepath.Join(cfg.DataDir, "peer.key"), "this peer's key sealed under it must then be deleted too, and the peer gets a new peer id")
	if err != nil {
		return nil, err
	}
	// One directory for every service, so that a peer blocked or added
	// through oc-peer is seen at once by all.
	dir, err := federation.OpenDirectory(ctx, d.store)
	if err != nil {
		return nil, err
	}
	peer, err := peersvc.New(ctx, peersvc.Deps{Logger: d.log, Store: d.store, NATS: d.nats, Verifier: d.verifier, Metrics: d.metrics,
		KeysKey: peerKey, Name: cfg.PeerName, PublicURL: publicURL, Heartbeat: cfg.Heartbeat, Directory: dir})
	if err != nil {
		return nil, fmt.Errorf("oc-peer: %w", err)
	}
	if d.self, err = federation.LoadSelf(ctx, d.store); err != nil {
		return nil, fmt.Errorf("this peer's identity: %w", err)
	}
	// One verifier, so one replay cache, for every service of the process.
	if d.peers, err = federation.NewAuthenticator(d.self.ID, publicURL, dir, nil); err != nil {
		return nil, err
	}
	keysKey, err := keyFile(filepath.Join(cfg.DataDir, "auth.key"),
		"the signing keys sealed under it must then be deleted too, and every user signs in again")
	if err != nil {
		return nil, err
	}
	auth, err := authsvc.New(ctx, authsvc.Config{
		Issuer:          issuer,
		AdminUser:       cfg.AdminUser,
		AdminPassword:   cfg.AdminPassword,
		WebRedirectURIs: []string{publicURL + "/", publicURL + "/callback"},
		// The services' own client, for the daemon's calls: its secret is
		// made anew at every start and never leaves the process.
		ServiceClientID:     serviceClientID,
		ServiceClientSecret: d.serviceSecret,
		KeysKey:             keysKey,
		TrustedProxies:      cfg.TrustedProxies,
	}, authsvc.Deps{Logger: d.log, Store: d.store, NATS: d.nats, Metrics: d.metrics})
	if err != nil {
		return nil, fmt.Errorf("oc-auth: %w", err)
	}
	catalog, err := catalogsvc.New(ctx, catalogsvc.Deps{Logger: d.log, Store: d.store, NATS: d.nats,
		Verifier: d.verifier, Metrics: d.metrics, PeerID: d.self.ID, PeerName: d.self.Name, Peers: d.peers,
		GatewayURL: d.gatewayURL, PeerDeadline: cfg.PeerDeadline})
	if err != nil {
		return nil, fmt.Errorf("oc-catalog: %w", err)
	}
	comps := []server.Component{peer, auth, catalog}
	type ctor func() (server.Component, error)
	for _, build := range []ctor{
		func() (server.Component, error) {
			return workspacesvc.New(ctx, workspacesvc.Deps{Peers: d.peers, Directory: d.peers.Directory(), ReplicateInterval: cfg.Replicate, Logger: d.log, Store: d.store, NATS: d.nats, Verifier: d.verifier,
				Metrics: d.metrics, PeerID: d.self.ID, GatewayURL: d.gatewayURL, ServiceToken: d.serviceToken()})
		},
		func() (server.Component, error) {
			return workflowsvc.New(ctx, workflowsvc.Deps{Peers: d.peers, Logger: d.log, Store: d.store, NATS: d.nats, Verifier: d.verifier,
				Metrics: d.metrics, PeerID: d.self.ID, GatewayURL: d.gatewayURL})
		},
		func() (server.Component, error) {
			return schedulersvc.New(ctx, schedulersvc.Deps{Peers: d.peers, Logger: d.log, Store: d.store, NATS: d.nats, Verifier: d.verifier,
				Metrics: d.metrics, PeerID: d.self.ID, GatewayURL: d.gatewayURL})
		},
		func() (server.Component, error) {
			follow, err := inProcessWorkers(ctx, cfg, d)
			if err != nil {
				return nil, err
			}
			// The daemon prepares executions through oc-datacenter with the
			// services' own identity, as oc-schedulerd does in compose.
			token := d.serviceToken()
			return schedulerdsvc.New(ctx, schedulerdsvc.Deps{Peers: d.peers, Logger: d.log, Store: d.store, NATS: d.nats, Verifier: d.verifier, Metrics: d.metrics,
				Launcher:    launch.InProcess(follow),
				Provisioner: schedulerdsvc.NewDatacenter(dcclient.New(d.gatewayURL, token, nil)),
				Config:      schedulerdsvc.Config{Concurrency: cfg.Concurrency, LaunchTTL: max(time.Minute, 2*cfg.LeaseTTL)}})
		},
		func() (server.Component, error) {
			return monitordsvc.New(ctx, monitordsvc.Deps{Peers: d.peers, Logger: d.log, Store: d.store, NATS: d.nats, Verifier: d.verifier, Metrics: d.metrics})
		},
		func() (server.Component, error) {
			key, err := keyFile(filepath.Join(cfg.DataDir, "datacenter.key"), "the S3 credentials kept are then lost")
			if err != nil {
				return nil, err
			}
			return datacentersvc.New(ctx, datacentersvc.Deps{Peers: d.peers, Logger: d.log, Store: d.store, NATS: d.nats, Verifier: d.verifier,
				Metrics: d.metrics, PeerID: d.self.ID, GatewayURL: d.gatewayURL, ServiceToken: d.serviceToken(),
				Kubeconfig: cfg.Kubeconfig, Cluster: cfg.Cluster, Retention: cfg.Retention, CredentialsKey: key})
		},
	} {
		c, err := build()
		if err != nil {
			return nil, err
		}
		comps = append(comps, c)
	}
	return comps, nil
}

func startNATS(ctx context.Context, cfg appConfig, log *slog.Logger) (*nats.Conn, func(), error) {
	host, port, _ := net.SplitHostPort(cfg.NATSAddr) // checked by Validate
	p, _ := strconv.Atoi(port)
	emb, err := broker.StartEmbedded(broker.EmbeddedOptions{Host: host, Port: p, StoreDir: filepath.Join(cfg.DataDir, "nats")})
	if err != nil {
		return nil, nil, err
	}
	nc, err := broker.Connect(ctx, emb.ClientURL(), "opencloud", log)
	if err != nil {
		emb.Shutdown()
		return nil, nil, err
	}
	if err := broker.EnsureEventStream(ctx, nc, cfg.eventLimits()); err != nil {
		nc.Close()
		emb.Shutdown()
		return nil, nil, err
	}
	log.Info("embedded NATS ready", "url", emb.ClientURL())
	return nc, func() {
		ctx, cancel := context.WithTimeout(context.Background(), platform.ShutdownTimeout)
		defer cancel()
		broker.Drain(ctx, nc)
		emb.Shutdown()
	}, nil
}

// loopback turns a listen address into one this process can dial.
func loopback(a net.Addr) string {
	host, port, _ := net.SplitHostPort(a.String())
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
