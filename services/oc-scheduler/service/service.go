// Package service builds oc-scheduler from its dependencies, so that its
// standalone main and the all-in-one binary run it the same way.
//
//	@title						OpenCloud scheduler API
//	@version					1.0
//	@description				Booking of workflow executions — one per firing of a cron between a start and an end, or as soon as possible — against the availability of every compute and storage they use; the executions, their states and a live stream of their state changes and step logs. Every route needs a bearer token from oc-auth; errors are {"error": {"code", "message", "details"}}.
//	@BasePath					/scheduler
//	@securityDefinitions.apikey	BearerAuth
//	@in							header
//	@name						Authorization
//	@description				"Bearer " followed by an access token from /auth.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/idempotency"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/libs/store"

	// Registers the "scheduler" Swagger instance served at /scheduler/swagger/.
	_ "github.com/opencloud/opencloud/services/oc-scheduler/docs"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
	"github.com/opencloud/opencloud/services/oc-scheduler/internal/booking"
	"github.com/opencloud/opencloud/services/oc-scheduler/internal/httpapi"
	"github.com/opencloud/opencloud/services/oc-scheduler/internal/migrate"
	schedstore "github.com/opencloud/opencloud/services/oc-scheduler/internal/store"
)

// Defaults of the configuration.
const (
	DefaultPeerID     = "local"
	DefaultGatewayURL = "http://localhost:8000"
	// DefaultDuration is how long an execution holds its resources when
	// the request does not say.
	DefaultDuration = 5 * time.Minute
	// Heartbeat is the keep-alive period of live streams.
	Heartbeat = 15 * time.Second
	// PruneInterval is how often expired idempotency keys are deleted.
	PruneInterval = time.Hour
)

// Deps is what oc-scheduler needs from its process.
type Deps struct {
	// Peers, when set, verifies other peers' signed calls; the service
	// opens no route to them, and answers them 403.
	Peers    server.PeerAuthenticator
	Logger   *slog.Logger
	Store    store.Store
	NATS     *nats.Conn
	Verifier authn.Verifier
	Metrics  *server.Metrics // nil: a registry of its own
	PeerID   string          // "": DefaultPeerID
	// GatewayURL is where oc-workflow and oc-catalog are reached ("":
	// DefaultGatewayURL), with the caller's own token.
	GatewayURL string
	HTTPClient *http.Client // nil: a client with a 10 s timeout
	// DefaultDuration is an execution's window when the request gives
	// none (0: DefaultDuration).
	DefaultDuration time.Duration
	// Now is the clock (nil: time.Now); tests set it.
	Now func() time.Time
	// Heartbeat is the live streams' keep-alive period (0: Heartbeat).
	Heartbeat time.Duration
	// LivePerUser is how many live streams one user may have open at once
	// (0: httpapi.DefaultLivePerUser).
	LivePerUser int
	// Lock tunes the booking lock (tests); zero values take the defaults.
	Lock schedstore.LockOptions
}

// Service is oc-scheduler; it implements server.Component.
type Service struct {
	handler http.Handler
	keys    *idempotency.Keys
	log     *slog.Logger
	execs   *executions.Store
	now     func() time.Time
}

var _ server.Component = (*Service)(nil)

// New opens the scheduler's collections and builds the HTTP handler.
func New(ctx context.Context, d Deps) (*Service, error) {
	var missing []error
	if d.Logger == nil {
		missing = append(missing, errors.New("Logger"))
	}
	if d.Store == nil {
		missing = append(missing, errors.New("Store"))
	}
	if d.NATS == nil {
		missing = append(missing, errors.New("NATS"))
	}
	if d.Verifier == nil {
		// Without it the API would be open to anyone.
		missing = append(missing, errors.New("Verifier"))
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("scheduler: missing dependencies: %w", errors.Join(missing...))
	}
	if d.PeerID == "" {
		d.PeerID = DefaultPeerID
	}
	if _, err := migrate.LocalPeerIDs(ctx, d.Store, d.PeerID, d.Logger.With("service", "scheduler")); err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	if d.GatewayURL == "" {
		d.GatewayURL = DefaultGatewayURL
	}
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if d.DefaultDuration == 0 {
		d.DefaultDuration = DefaultDuration
	}
	if d.DefaultDuration < booking.MinDuration || d.DefaultDuration > booking.MaxDuration {
		return nil, fmt.Errorf("scheduler: the default duration %s is not between 1s and 7 days", d.DefaultDuration)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Heartbeat == 0 {
		d.Heartbeat = Heartbeat
	}
	if d.LivePerUser < 0 {
		return nil, fmt.Errorf("scheduler: %d live streams per user: expected a positive number", d.LivePerUser)
	}
	log := d.Logger.With("service", "scheduler")
	execs, err := executions.Open(ctx, d.Store, executions.WithEvents(broker.NewPublisher(d.NATS, "scheduler")), executions.WithClock(d.Now))
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	lo := d.Lock
	lockNow := lo.Now
	if lockNow == nil {
		lockNow = time.Now
	}
	lease := lo.Lease
	if lease == 0 {
		lease = 30 * time.Second
	}
	lo.OnTakeover = func(ctx context.Context, previous string) error {
		n, err := execs.UndoAbandoned(ctx, previous, lockNow().Add(-lease))
		if n > 0 {
			log.WarnContext(ctx, "undid booking requests left half-done by a holder of the booking lock that stopped", "holder", previous, "requests", n)
		}
		return err
	}
	lock, err := schedstore.OpenLock(ctx, d.Store, schedstore.BookingLock, lo)
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	keys, err := idempotency.New(ctx, d.Store, idempotency.Options{Collection: "scheduler_idempotency_keys"})
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	svc := booking.NewService(booking.Config{
		Workflows:       workflowAdapter{base: d.GatewayURL, hc: d.HTTPClient},
		Catalog:         catalogAdapter{base: d.GatewayURL, hc: d.HTTPClient},
		Executions:      execs,
		Lock:            lockAdapter{lock},
		Journal:         journalAdapter{execs: execs, holder: lock.Holder(), now: lockNow},
		PeerID:          d.PeerID,
		DefaultDuration: d.DefaultDuration,
		Now:             d.Now,
		Log:             log,
	})
	engine, api := server.New(server.Options{
		Peers: d.Peers,
		Name:  "scheduler", Prefix: "/scheduler", Logger: d.Logger, Metrics: d.Metrics, Verifier: d.Verifier,
		Checks: []server.Check{
			{Name: "store", Check: d.Store.Ping},
			{Name: "nats", Check: func(context.Context) error { return broker.Ping(d.NATS) }},
		},
		SwaggerInstance: "scheduler",
	})
	httpapi.Register(api, svc, d.NATS, keys.Middleware(), httpapi.LiveOptions{Heartbeat: d.Heartbeat, PerUser: d.LivePerUser})
	return &Service{handler: engine, keys: keys, log: log, execs: execs, now: d.Now}, nil
}

// Name implements server.Component.
func (s *Service) Name() string { return "scheduler" }

// Prefix implements server.Component.
func (s *Service) Prefix() string { return "/scheduler" }

// Handler implements server.Component.
func (s *Service) Handler() http.Handler { return s.handler }

// Run implements server.Component, until ctx is done: every
// MissedInterval it marks missed the executions whose window ended before
// anything started them, and frees the bookings that ended executions
// still hold (from a crash between an execution's end, or cancel, and the
// release of its bookings), at start too; every PublishInterval it
// publishes the execution events that could not be (NATS was down); every
// PruneInterval it prunes expired idempotency keys.
func (s *Service) Run(ctx context.Context) error {
	loops := []func(context.Context) error{
		func(ctx context.Context) error {
			s.tidy(ctx)
			return server.Every(ctx, MissedInterval, s.tidy)
		},
		func(ctx context.Context) error {
			return server.Every(ctx, PublishInterval, func(ctx context.Context) {
				if n, err := s.execs.PublishPending(ctx); err != nil {
					s.log.DebugContext(ctx, "publishing execution events failed; trying again later", "published", n, "err", err)
				} else if n > 0 {
					s.log.InfoContext(ctx, "published execution events that had waited", "count", n)
				}
			})
		},
	}
	errs := make(chan error, len(loops))
	for _, loop := range loops {
		go func() { errs <- loop(ctx) }()
	}
	err := server.Every(ctx, PruneInterval, func(ctx context.Context) {
		if n, err := s.keys.Prune(ctx); err != nil {
			s.log.WarnContext(ctx, "pruning idempotency keys failed", "err", err)
		} else if n > 0 {
			s.log.DebugContext(ctx, "pruned idempotency keys", "count", n)
		}
	})
	for range loops {
		err = errors.Join(err, <-errs)
	}
	return err
}

// tidy marks missed executions, and frees the bookings of ended ones.
func (s *Service) tidy(ctx context.Context) {
	if n, err := s.execs.MarkMissed(ctx, s.now()); err != nil {
		s.log.WarnContext(ctx, "marking missed executions failed", "err", err)
	} else if n > 0 {
		s.log.InfoContext(ctx, "executions missed", "count", n)
	}
	if n, err := s.execs.SweepBookings(ctx, SweepLimit); err != nil {
		s.log.WarnContext(ctx, "freeing the bookings of ended executions failed", "err", err)
	} else if n > 0 {
		s.log.InfoContext(ctx, "freed the bookings that ended executions still held", "executions", n)
	}
}

const (
	// MissedInterval is how often executions whose window ended unstarted
	// are marked missed, and the bookings of ended executions freed.
	MissedInterval = 30 * time.Second
	// SweepLimit bounds the ended executions whose bookings one pass frees.
	SweepLimit = 500
	// PublishInterval is how often execution events that could not be
	// published are tried again.
	PublishInterval = 2 * time.Second
)
