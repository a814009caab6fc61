// Package service builds oc-schedulerd from its dependencies, for its standalone
// main and for the all-in-one binary.
//
//	@title			OpenCloud schedulerd API
//	@version		0.1
//	@description	The scheduling daemon: claims the executions that are due, has oc-datacenter prepare each one and starts a monitord worker for it (as a process, a Kubernetes Job, or in-process in the all-in-one binary) within a concurrency limit; takes over the executions whose worker stopped. Its API lists the workers it runs. Errors are {"error": {"code", "message", "details"}}.
//	@BasePath		/schedulerd
//	@securityDefinitions.apikey	BearerAuth
//	@in				header
//	@name			Authorization
package service

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"

	dcclient "github.com/opencloud/opencloud/services/oc-datacenter/client"
	_ "github.com/opencloud/opencloud/services/oc-schedulerd/docs" // registers the Swagger instance
	"github.com/opencloud/opencloud/services/oc-schedulerd/internal/daemon"
	"github.com/opencloud/opencloud/services/oc-schedulerd/launch"
)

// Config tunes the daemon (see daemon.Config for the defaults).
type Config = daemon.Config

// Provisioner prepares an execution on the cluster before its worker starts.
type Provisioner = daemon.Provisioner

// Deps are what the service is built from.
type Deps struct {
	// Peers, when set, verifies other peers' signed calls; the service
	// opens no route to them, and answers them 403.
	Peers    server.PeerAuthenticator
	Logger   *slog.Logger
	Store    store.Store
	NATS     *nats.Conn
	Verifier authn.Verifier
	Metrics  *server.Metrics
	// Launcher starts the workers (launch.Process, launch.Kubernetes,
	// launch.InProcess).
	Launcher launch.Launcher
	// Provisioner prepares executions; NewDatacenter builds the one that
	// calls oc-datacenter.
	Provisioner Provisioner
	Config      Config
}

// Service is oc-schedulerd.
type Service struct {
	handler http.Handler
	daemon  *daemon.Daemon
}

// New builds the service.
func New(ctx context.Context, d Deps) (*Service, error) {
	if d.Store == nil || d.NATS == nil || d.Verifier == nil || d.Logger == nil || d.Launcher == nil || d.Provisioner == nil {
		return nil, errors.New("schedulerd: Logger, Store, NATS, Verifier, Launcher and Provisioner are required")
	}
	execs, err := executions.Open(ctx, d.Store, executions.WithEvents(broker.NewPublisher(d.NATS, "schedulerd")))
	if err != nil {
		return nil, err
	}
	engine, api := server.New(server.Options{
		Peers: d.Peers,
		Name:  "schedulerd", Prefix: "/schedulerd", Logger: d.Logger, Metrics: d.Metrics, Verifier: d.Verifier,
		SwaggerInstance: "schedulerd",
		Checks: []server.Check{
			{Name: "store", Check: d.Store.Ping},
			{Name: "nats", Check: func(context.Context) error { return broker.Ping(d.NATS) }},
		},
	})
	var metrics *daemon.Metrics
	if d.Metrics != nil {
		metrics = daemon.NewMetrics(d.Metrics.Registry())
	}
	dm, err := daemon.New(d.Config, daemon.Deps{Logger: d.Logger, Executions: execs, NATS: d.NATS,
		Launcher: d.Launcher, Provisioner: d.Provisioner, Metrics: metrics})
	if err != nil {
		return nil, err
	}
	h := &handler{daemon: dm, launcher: d.Launcher.Name()}
	api.GET("/workers", server.RequireRole(authn.RoleAdmin), h.workers)
	return &Service{handler: engine, daemon: dm}, nil
}

// Name implements server.Component.
func (s *Service) Name() string { return "schedulerd" }

// Prefix implements server.Component.
func (s *Service) Prefix() string { return "/schedulerd" }

// Handler implements server.Component.
func (s *Service) Handler() http.Handler { return s.handler }

// Run implements server.Component: the daemon runs until ctx ends.
func (s *Service) Run(ctx context.Context) error { return s.daemon.Run(ctx) }

// Workers lists the workers the daemon runs now.
func (s *Service) Workers() []daemon.Worker { return s.daemon.Workers() }

// WorkerList is the answer of GET /schedulerd/workers.
type WorkerList struct {
	// Daemon is this daemon's name, the prefix of its workers' lease names.
	Daemon      string          `json:"daemon" example:"host-1"`
	Launcher    string          `json:"launcher" example:"process" enums:"inprocess,process,kubernetes"`
	Concurrency int             `json:"concurrency" example:"20"`
	Items       []daemon.Worker `json:"items"`
}

type handler struct {
	daemon   *daemon.Daemon
	launcher string
}

// workers godoc
//
//	@Summary		The workers this daemon runs
//	@Description	Each monitord worker this oc-schedulerd instance runs now: the execution it follows, its lease name and since when, oldest first; with the launcher and the concurrency limit. Executions beyond the limit wait as scheduled. Needs the admin role.
//	@Tags			workers
//	@Produce		json
//	@Security		BearerAuth
//	@Success		200	{object}	WorkerList
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		403	{object}	apierror.Envelope	"Not an admin"
//	@Router			/workers [get]
func (h *handler) workers(c *gin.Context) {
	cfg := h.daemon.Config()
	c.JSON(http.StatusOK, WorkerList{Daemon: cfg.Name, Launcher: h.launcher, Concurrency: cfg.Concurrency, Items: h.daemon.Workers()})
}

// NewDatacenter is the Provisioner that asks oc-datacenter, through its
// client (which carries the services' own identity), to prepare each
// execution; every failure makes the execution wait with the reason.
func NewDatacenter(c *dcclient.Client) Provisioner { return daemon.Datacenter{Client: c} }
