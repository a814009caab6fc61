package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/opencloud/opencloud/libs/event"
)

// ErrNotConnected: the connection to NATS is down; nothing was sent.
var ErrNotConnected = errors.New("broker: not connected to NATS")

// ackedParallel bounds the publications PublishAcked has in flight.
const ackedParallel = 32

// Acked is an event to publish with the stream's acknowledgement.
type Acked struct {
	// MsgID identifies the message to the stream: one published again
	// under the same id within the stream's duplicate window (two minutes
	// by default) is stored once.
	MsgID    string
	Envelope event.Envelope
}

// Envelope builds the envelope Publish would send: stamped with the
// publisher's source and ctx's request ID.
func (p *Publisher) Envelope(ctx context.Context, typ, subject, actor string, data any) (event.Envelope, error) {
	env, err := event.New(typ, p.source, subject, actor, data)
	if err != nil {
		return env, fmt.Errorf("broker: encode %s: %w", typ, err)
	}
	env.RequestID = RequestIDFrom(ctx)
	return env, nil
}

// PublishAcked publishes each envelope on its Type (an OpenCloud subject,
// under oc.>) through JetStream and waits until the events stream has
// stored it, for callers that keep what they could not publish and send it
// again (an outbox). errs[i] is msgs[i]'s failure, nil once stored — or
// once sent, when there is no events stream (JetStream off, or the stream
// not created): core NATS subscribers then had it, and there is nothing
// more to wait for. Messages are sent concurrently: a caller that needs an
// order among some of them publishes them in separate calls. With the
// connection down every message fails at once with ErrNotConnected.
func (p *Publisher) PublishAcked(ctx context.Context, msgs []Acked) []error {
	errs := make([]error, len(msgs))
	fail := func(err error) []error {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	if !p.nc.IsConnected() {
		return fail(ErrNotConnected)
	}
	js, err := jetstream.New(p.nc)
	if err != nil {
		return fail(fmt.Errorf("broker: jetstream: %w", err))
	}
	stream, err := p.streamExists(ctx, js)
	if err != nil {
		return fail(err)
	}
	sem := make(chan struct{}, ackedParallel)
	var wg sync.WaitGroup
	for i, m := range msgs {
		raw, err := json.Marshal(m.Envelope)
		if err != nil {
			errs[i] = fmt.Errorf("broker: encode %s: %w", m.Envelope.Type, err)
			continue
		}
		if !stream {
			if err := p.nc.Publish(m.Envelope.Type, raw); err != nil {
				errs[i] = fmt.Errorf("broker: publish %s: %w", m.Envelope.Type, err)
			}
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			msg := &nats.Msg{Subject: m.Envelope.Type, Data: raw}
			// No retry on "no responders": each try reaches core NATS
			// subscribers again.
			if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(m.MsgID), jetstream.WithRetryAttempts(0)); err != nil {
				errs[i] = fmt.Errorf("broker: publish %s: %w", m.Envelope.Type, err)
			}
		})
	}
	wg.Wait()
	return errs
}

// streamKnown is how long PublishAcked trusts that the events stream exists.
const streamKnown = 30 * time.Second

// streamExists reports whether the events stream exists; an error when it
// cannot tell.
func (p *Publisher) streamExists(ctx context.Context, js jetstream.JetStream) (bool, error) {
	if time.Now().UnixNano() < p.streamUntil.Load() {
		return true, nil
	}
	_, err := js.Stream(ctx, StreamName)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, nats.ErrNoResponders):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("broker: look the events stream up: %w", err)
	}
	p.streamUntil.Store(time.Now().Add(streamKnown).UnixNano())
	return true, nil
}

// Connected reports whether the publisher's connection is up.
func (p *Publisher) Connected() bool { return p.nc.IsConnected() }
