package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/opencloud/opencloud/libs/event"
)

// Handler handles one event. An error asks for the event again later (up to
// ConsumerOptions.MaxDeliver times); nil acknowledges it.
type Handler func(ctx context.Context, subject string, env event.Envelope) error

// ConsumerOptions configures a durable consumer of the events stream.
type ConsumerOptions struct {
	// Durable names the consumer; the stream remembers how far it got, so
	// events published while its service was down are delivered when it
	// comes back. Services running several replicas share one name and
	// split the events.
	Durable  string
	Subjects []string
	// MaxDeliver bounds the attempts of an event whose handler keeps
	// failing (default 10); RetryDelay spaces them (default 2 s).
	MaxDeliver int
	RetryDelay time.Duration
	// Timeout bounds one handler call (default 30 s).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Consume delivers the events of opts.Subjects to handle until ctx ends,
// through a durable JetStream consumer on the OpenCloud stream. It waits for
// the stream to exist (whichever service starts first creates it), and
// returns only when ctx is done. Envelopes that do not decode are
// acknowledged and logged: delivering them again would not help.
func Consume(ctx context.Context, nc *nats.Conn, opts ConsumerOptions, handle Handler) error {
	if opts.Durable == "" || len(opts.Subjects) == 0 || opts.Logger == nil {
		return errors.New("broker: a consumer needs Durable, Subjects and Logger")
	}
	if opts.MaxDeliver == 0 {
		opts.MaxDeliver = 10
	}
	if opts.RetryDelay == 0 {
		opts.RetryDelay = 2 * time.Second
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	log := opts.Logger.With("consumer", opts.Durable)
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("broker: jetstream: %w", err)
	}
	var cons jetstream.Consumer
	for {
		cons, err = js.CreateOrUpdateConsumer(ctx, StreamName, jetstream.ConsumerConfig{
			Durable: opts.Durable, FilterSubjects: opts.Subjects,
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: opts.Timeout + 5*time.Second,
			DeliverPolicy: jetstream.DeliverNewPolicy, MaxDeliver: opts.MaxDeliver,
		})
		if err == nil {
			break
		}
		log.Warn("event consumer not ready; retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(opts.RetryDelay):
		}
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var env event.Envelope
		if err := json.Unmarshal(m.Data(), &env); err != nil {
			log.Warn("event ignored: not an envelope", "subject", m.Subject(), "err", err)
			_ = m.Term()
			return
		}
		hctx, cancel := context.WithTimeout(WithRequestID(context.WithoutCancel(ctx), env.RequestID), opts.Timeout)
		defer cancel()
		if err := handle(hctx, m.Subject(), env); err != nil {
			log.WarnContext(hctx, "event not handled; it will be delivered again", "subject", m.Subject(), "id", env.ID, "err", err)
			_ = m.NakWithDelay(opts.RetryDelay)
			return
		}
		_ = m.Ack()
	})
	if err != nil {
		return fmt.Errorf("broker: consume %s: %w", opts.Durable, err)
	}
	<-ctx.Done()
	cc.Stop()
	return ctx.Err()
}
