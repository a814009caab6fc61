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

// The events stream is capped by size as well as by age, and a stream made
// before the cap existed gets it.
func TestEventStreamIsCappedBySize(t *testing.T) {
	ctx := context.Background()
	emb, err := broker.StartEmbedded(broker.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := nats.Connect(emb.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	// A stream as earlier versions made it: no size limit.
	if _, err := js.AddStream(&nats.StreamConfig{Name: broker.StreamName, Subjects: []string{event.All},
		Storage: nats.FileStorage, MaxAge: time.Hour, Discard: nats.DiscardOld}); err != nil {
		t.Fatal(err)
	}
	if err := broker.EnsureStream(ctx, nc, time.Hour); err != nil {
		t.Fatal(err)
	}
	info, err := js.StreamInfo(broker.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.MaxBytes != broker.DefaultMaxBytes {
		t.Errorf("existing stream: MaxBytes %d, want the default %d", info.Config.MaxBytes, broker.DefaultMaxBytes)
	}
	const limit = 64 << 10
	if err := broker.EnsureEventStream(ctx, nc, broker.StreamLimits{MaxAge: time.Hour, MaxBytes: limit}); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 1024)
	for range 200 {
		if _, err := js.Publish(event.ResourceCreated, payload); err != nil {
			t.Fatal(err)
		}
	}
	if info, err = js.StreamInfo(broker.StreamName); err != nil {
		t.Fatal(err)
	}
	if info.Config.MaxBytes != limit || info.State.Bytes > limit || info.State.Msgs == 0 || info.State.FirstSeq == 1 {
		t.Errorf("stream after 200 KiB of events: limit %d, %d bytes in %d messages from #%d; want at most %d bytes, the oldest dropped",
			info.Config.MaxBytes, info.State.Bytes, info.State.Msgs, info.State.FirstSeq, limit)
	}
	if err := broker.EnsureEventStream(ctx, nc, broker.StreamLimits{MaxAge: time.Hour, MaxBytes: -1}); err == nil {
		t.Error("a negative size was accepted")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1073741824": 1 << 30, "512MiB": 512 << 20, "1GiB": 1 << 30, "2GB": 2e9,
		"10 kb": 10e3, "1TiB": 1 << 40, "7B": 7} {
		if got, err := broker.ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "1.5GiB", "-1", "0", "3PB", "GiB", "99999999999TiB"} {
		if got, err := broker.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

// Drain sends what was published before closing the connection.
func TestDrainSendsWhatWasPublished(t *testing.T) {
	emb, err := broker.StartEmbedded(broker.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	watcher, err := nats.Connect(emb.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(watcher.Close)
	sub, err := watcher.SubscribeSync("oc.test.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := watcher.Flush(); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(emb.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if err := nc.Publish("oc.test.drain", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	broker.Drain(ctx, nc)
	if !nc.IsClosed() {
		t.Fatal("Drain returned with the connection open")
	}
	for i := range 1000 {
		if _, err := sub.NextMsg(5 * time.Second); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	broker.Drain(ctx, nc) // closed already: nothing to do
}
