// Package service builds oc-workspace from its dependencies, for its standalone
// main and for the all-in-one binary.
//
//	@title			OpenCloud workspace API
//	@version		0.1
//	@description	Workspaces and collaborative areas. The API arrives with the workflow-design issue.
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

	_ "github.com/opencloud/opencloud/services/oc-workspace/docs" // registers the Swagger instance
)

// Deps are what the service is built from.
type Deps struct {
	Logger   *slog.Logger
	Store    store.Store
	NATS     *nats.Conn
	Verifier authn.Verifier
	Metrics  *server.Metrics
}

// Service is oc-workspace. Its API arrives with a later issue; today it serves
// health, readiness, metrics and its (empty) Swagger page.
type Service struct {
	handler http.Handler
}

// New builds the service.
func New(_ context.Context, d Deps) (*Service, error) {
	if d.Store == nil || d.NATS == nil || d.Verifier == nil || d.Logger == nil {
		return nil, errors.New("workspace: Logger, Store, NATS and Verifier are required")
	}
	engine, _ := server.New(server.Options{
		Name: "workspace", Prefix: "/workspace", Logger: d.Logger, Metrics: d.Metrics, Verifier: d.Verifier,
		SwaggerInstance: "workspace",
		Checks: []server.Check{
			{Name: "store", Check: d.Store.Ping},
			{Name: "nats", Check: func(context.Context) error { return broker.Ping(d.NATS) }},
		},
	})
	return &Service{handler: engine}, nil
}

// Name implements server.Component.
func (s *Service) Name() string { return "workspace" }

// Prefix implements server.Component.
func (s *Service) Prefix() string { return "/workspace" }

// Handler implements server.Component.
func (s *Service) Handler() http.Handler { return s.handler }

// Run implements server.Component; the service has no background work yet.
func (s *Service) Run(context.Context) error { return nil }
