// Package service builds oc-monitord from its dependencies, for its standalone
// main and for the all-in-one binary.
//
//	@title			OpenCloud monitord API
//	@version		0.1
//	@description	The execution worker: renders and follows Argo Workflows. Health and metrics only.
//	@BasePath		/
//	@securityDefinitions.apikey	BearerAuth
//	@in				header
//	@name			Authorization
package service

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/libs/store"

	_ "github.com/opencloud/opencloud/services/oc-monitord/docs" // registers the Swagger instance
)

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
}

// Service is oc-monitord's standalone server: health, readiness, metrics
// and its (empty) Swagger page. The worker itself is package worker.
type Service struct {
	handler http.Handler
}

// New builds the service.
func New(_ context.Context, d Deps) (*Service, error) {
	if d.Store == nil || d.NATS == nil || d.Verifier == nil || d.Logger == nil {
		return nil, errors.New("monitord: Logger, Store, NATS and Verifier are required")
	}
	engine, _ := server.New(server.Options{
		Peers: d.Peers,
		Name:  "monitord", Prefix: "/monitord", Logger: d.Logger, Metrics: d.Metrics, Verifier: d.Verifier,
		SwaggerInstance: "monitord",
		Checks: []server.Check{
			{Name: "store", Check: d.Store.Ping},
			{Name: "nats", Check: func(context.Context) error { return broker.Ping(d.NATS) }},
		},
	})
	return &Service{handler: engine}, nil
}

// Name implements server.Component.
func (s *Service) Name() string { return "monitord" }

// Prefix implements server.Component.
func (s *Service) Prefix() string { return "/monitord" }

// Handler implements server.Component.
func (s *Service) Handler() http.Handler { return s.handler }

// Run implements server.Component; the server has no background work: the
// workers run as processes, Jobs or goroutines of their own.
func (s *Service) Run(context.Context) error { return nil }
