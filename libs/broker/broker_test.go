package broker_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/event"
)

func TestPublishReachesSubscribersAndStream(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	emb, err := broker.StartEmbedded(broker.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := broker.Connect(ctx, emb.ClientURL(), "test", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if err := broker.Ping(nc); err != nil {
		t.Fatal(err)
	}
	if err := broker.EnsureStream(ctx, nc, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := broker.EnsureStream(ctx, nc, 2*time.Hour); err != nil {
		t.Fatalf("EnsureStream is not idempotent: %v", err)
	}
	sub, err := nc.SubscribeSync(event.ResourceCreated)
	if err != nil {
		t.Fatal(err)
	}
	pub := broker.NewPublisher(nc, "catalog")
	if err := pub.Publish(broker.WithRequestID(ctx, "req-1"), event.ResourceCreated, "r1", "alice", map[string]string{"name": "x"}); err != nil {
		t.Fatal(err)
	}
	msg, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var env event.Envelope
	if err := json.Unmarshal(msg.Data, &env); err != nil {
		t.Fatal(err)
	}
	if env.Type != event.ResourceCreated || env.Subject != "r1" || env.Actor != "alice" || env.Source != "catalog" || env.RequestID != "req-1" || env.ID == "" {
		t.Fatalf("unexpected envelope %+v", env)
	}
	js, _ := nc.JetStream()
	var info *nats.StreamInfo
	for range 50 {
		if info, err = js.StreamInfo(broker.StreamName); err == nil && info.State.Msgs == 1 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("stream did not keep the event: %+v %v", info, err)
}

func TestStartEmbeddedNeedsStoreDir(t *testing.T) {
	if _, err := broker.StartEmbedded(broker.EmbeddedOptions{}); err == nil {
		t.Fatal("expected an error without StoreDir")
	}
}
