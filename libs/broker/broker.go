// Package broker connects OpenCloud services to NATS, runs the embedded
// nats-server of the all-in-one binary and of tests, and publishes events.
package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/event"
)

// StreamName is the JetStream stream that keeps every oc.> event.
const StreamName = "OC_EVENTS"

// Connect dials NATS and keeps reconnecting forever: a broker outage delays
// events, it never stops a service.
func Connect(ctx context.Context, url, name string, log *slog.Logger) (*nats.Conn, error) {
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrl()) }),
	)
	if err != nil {
		return nil, fmt.Errorf("broker: connect %s: %w", url, err)
	}
	return nc, nil
}

// Ping reports whether the connection is up (used by /readyz).
func Ping(nc *nats.Conn) error {
	if nc == nil {
		return errors.New("no NATS connection")
	}
	if !nc.IsConnected() {
		return fmt.Errorf("NATS is %s", nc.Status())
	}
	return nil
}

// DefaultMaxBytes is the size the events stream keeps unless told otherwise.
const DefaultMaxBytes int64 = 1 << 30

// StreamLimits bound what the events stream keeps: it drops its oldest
// events once they are older than MaxAge or once it holds more than
// MaxBytes. Consumers that fell behind by more reconcile from the services
// that own the state, as after any lost event.
type StreamLimits struct {
	MaxAge   time.Duration // 0: kept whatever their age
	MaxBytes int64         // 0: DefaultMaxBytes
}

// EnsureStream creates or updates the stream that keeps every OpenCloud event
// for replay by consumers that were down, keeping events for maxAge and
// DefaultMaxBytes at most.
func EnsureStream(ctx context.Context, nc *nats.Conn, maxAge time.Duration) error {
	return EnsureEventStream(ctx, nc, StreamLimits{MaxAge: maxAge})
}

// EnsureEventStream creates the stream that keeps every OpenCloud event for
// replay by consumers that were down, or brings an existing one to lim.
func EnsureEventStream(ctx context.Context, nc *nats.Conn, lim StreamLimits) error {
	if lim.MaxBytes == 0 {
		lim.MaxBytes = DefaultMaxBytes
	}
	if lim.MaxAge < 0 || lim.MaxBytes < 0 {
		return fmt.Errorf("broker: stream limits %s and %d bytes: expected positive values", lim.MaxAge, lim.MaxBytes)
	}
	js, err := nc.JetStream(nats.Context(ctx))
	if err != nil {
		return fmt.Errorf("broker: jetstream: %w", err)
	}
	cfg := &nats.StreamConfig{
		Name: StreamName, Subjects: []string{event.All},
		Storage: nats.FileStorage, MaxAge: lim.MaxAge, MaxBytes: lim.MaxBytes, Discard: nats.DiscardOld,
	}
	if _, err := js.StreamInfo(StreamName, nats.Context(ctx)); errors.Is(err, nats.ErrStreamNotFound) {
		_, err = js.AddStream(cfg, nats.Context(ctx))
		if err != nil {
			return fmt.Errorf("broker: add stream: %w", err)
		}
		return nil
	} else if err != nil {
		return fmt.Errorf("broker: stream info: %w", err)
	}
	if _, err := js.UpdateStream(cfg, nats.Context(ctx)); err != nil {
		return fmt.Errorf("broker: update stream: %w", err)
	}
	return nil
}

// ParseSize reads a size such as 1073741824, 512MiB, 1GiB or 2GB (KB, MB,
// GB, TB are powers of 1000; KiB, MiB, GiB, TiB of 1024).
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	num := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.ToLower(strings.TrimSpace(s[len(num):]))
	mult := map[string]int64{"": 1, "b": 1,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || mult == 0 || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q: expected a positive number of bytes, optionally with a unit such as MiB or GiB", s)
	}
	return n * mult, nil
}

// Drain flushes what nc has yet to publish and closes it, waiting until it
// is done or ctx ends (then it is closed at once).
func Drain(ctx context.Context, nc *nats.Conn) {
	if nc.IsClosed() {
		return
	}
	if err := nc.Drain(); err != nil {
		nc.Close()
		return
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !nc.IsClosed() {
		select {
		case <-ctx.Done():
			nc.Close()
			return
		case <-t.C:
		}
	}
}

// Publisher publishes event envelopes on behalf of one service.
type Publisher struct {
	nc     *nats.Conn
	source string
	// streamUntil is until when (Unix ns) the events stream is known to
	// exist, for PublishAcked.
	streamUntil atomic.Int64
}

// NewPublisher returns a publisher stamping events with source.
func NewPublisher(nc *nats.Conn, source string) *Publisher {
	return &Publisher{nc: nc, source: source}
}

// Publish sends an event. Callers that have already committed to the store
// log a failure and go on: the store is the truth and consumers reconcile.
func (p *Publisher) Publish(ctx context.Context, typ, subject, actor string, data any) error {
	env, err := event.New(typ, p.source, subject, actor, data)
	if err != nil {
		return fmt.Errorf("broker: encode %s: %w", typ, err)
	}
	env.RequestID = RequestIDFrom(ctx)
	raw, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("broker: encode %s: %w", typ, err)
	}
	if err := p.nc.Publish(typ, raw); err != nil {
		return fmt.Errorf("broker: publish %s: %w", typ, err)
	}
	return nil
}

type requestIDKey struct{}

// WithRequestID stores the request ID that published events carry.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request ID set by WithRequestID, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// EmbeddedOptions configures the in-process NATS server.
type EmbeddedOptions struct {
	Host     string // default 127.0.0.1
	Port     int    // 0 picks a free port
	StoreDir string // JetStream storage; required
}

// Embedded is an in-process nats-server with JetStream.
type Embedded struct{ srv *server.Server }

// StartEmbedded starts nats-server in this process and waits until it accepts
// connections. It installs no signal handlers.
func StartEmbedded(o EmbeddedOptions) (*Embedded, error) {
	if o.StoreDir == "" {
		return nil, errors.New("broker: embedded NATS needs a StoreDir")
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	port := o.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	srv, err := server.NewServer(&server.Options{
		Host: o.Host, Port: port, JetStream: true, StoreDir: o.StoreDir,
		NoSigs: true, NoLog: true, ServerName: "opencloud-embedded",
	})
	if err != nil {
		return nil, fmt.Errorf("broker: embedded NATS: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("broker: embedded NATS did not become ready in 10s")
	}
	return &Embedded{srv: srv}, nil
}

// ClientURL is the nats:// URL to connect to.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Shutdown stops the server and waits for it.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}
