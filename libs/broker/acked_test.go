package broker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/broker"
)

// TestPublishAcked: a message is stored once the stream acknowledges it,
// once however often it is sent under its id; without a stream for its
// subject it is sent and done; with the connection down nothing is sent.
func TestPublishAcked(t *testing.T) {
	ctx := context.Background()
	emb, err := broker.StartEmbedded(broker.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := broker.Connect(ctx, emb.ClientURL(), "test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	p := broker.NewPublisher(nc, "test")
	env, err := p.Envelope(broker.WithRequestID(ctx, "req-1"), "oc.test.acked", "x", "alice", map[string]int{"n": 1})
	if err != nil || env.Source != "test" || env.RequestID != "req-1" {
		t.Fatalf("envelope %+v %v", env, err)
	}
	sub, err := nc.SubscribeSync("oc.test.acked")
	if err != nil {
		t.Fatal(err)
	}
	// No stream yet: sent to subscribers, nothing to wait for.
	if errs := p.PublishAcked(ctx, []broker.Acked{{MsgID: "m1", Envelope: env}}); errs[0] != nil {
		t.Fatalf("without a stream: %v", errs[0])
	}
	if _, err := sub.NextMsg(time.Second); err != nil {
		t.Fatalf("not sent without a stream: %v", err)
	}
	if m, err := sub.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("sent twice without a stream: %s", m.Data)
	}

	if err := broker.EnsureStream(ctx, nc, time.Hour); err != nil {
		t.Fatal(err)
	}
	msgs := []broker.Acked{{MsgID: "m2", Envelope: env}, {MsgID: "m2", Envelope: env}, {MsgID: "m3", Envelope: env}}
	for _, err := range p.PublishAcked(ctx, msgs) {
		if err != nil {
			t.Fatal(err)
		}
	}
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	info, err := js.StreamInfo(broker.StreamName)
	if err != nil || info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages (%v), want 2", info.State.Msgs, err)
	}

	emb.Shutdown()
	for nc.IsConnected() {
		time.Sleep(10 * time.Millisecond)
	}
	if errs := p.PublishAcked(ctx, msgs[:1]); !errors.Is(errs[0], broker.ErrNotConnected) || p.Connected() {
		t.Fatalf("while disconnected: %v", errs[0])
	}
}
