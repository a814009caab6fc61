package broker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/event"
)

// TestConsumeIsDurable: a consumer started before the stream exists waits
// for it, a failed event comes again, and events published while the
// consumer is stopped reach it when it starts again — once each.
func TestConsumeIsDurable(t *testing.T) {
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

	var mu sync.Mutex
	seen := map[string]int{} // subject of the envelope → deliveries handled
	failOnce := map[string]bool{"b": true}
	got := make(chan string, 16)
	handle := func(_ context.Context, subject string, env event.Envelope) error {
		mu.Lock()
		defer mu.Unlock()
		if subject != event.WorkflowUpdated {
			t.Errorf("delivered %s, a subject not asked for", subject)
		}
		if failOnce[env.Subject] {
			failOnce[env.Subject] = false
			return errors.New("not now")
		}
		seen[env.Subject]++
		got <- env.Subject
		return nil
	}
	opts := broker.ConsumerOptions{Durable: "test-consumer", Subjects: []string{event.WorkflowUpdated},
		RetryDelay: 50 * time.Millisecond, Logger: log}
	// Each start is a process of its own, with its own connection, closed
	// when it stops: the server then drops its pending pulls at once.
	start := func() (stop func()) {
		conn, err := broker.Connect(ctx, emb.ClientURL(), "consumer", log)
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- broker.Consume(cctx, conn, opts, handle) }()
		return func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Consume returned %v", err)
			}
			conn.Close()
		}
	}
	wait := func(want string) {
		t.Helper()
		select {
		case s := <-got:
			if s != want {
				t.Fatalf("handled %q, want %q", s, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q never handled", want)
		}
	}
	pub := broker.NewPublisher(nc, "workflow")

	stop := start() // before the stream exists
	time.Sleep(100 * time.Millisecond)
	if err := broker.EnsureStream(ctx, nc, time.Hour); err != nil {
		t.Fatal(err)
	}
	// The consumer only exists once the stream does: publish after it is there.
	deadline := time.Now().Add(10 * time.Second)
	for {
		js, _ := nc.JetStream()
		if _, err := js.ConsumerInfo(broker.StreamName, opts.Durable); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the consumer was never created")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, s := range []string{"a", "b"} {
		if err := pub.Publish(ctx, event.WorkflowUpdated, s, "alice", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Publish(ctx, event.WorkflowDeleted, "other", "alice", nil); err != nil {
		t.Fatal(err)
	}
	wait("a")
	wait("b") // after one failure
	stop()

	if err := pub.Publish(ctx, event.WorkflowUpdated, "c", "alice", nil); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(event.WorkflowUpdated, []byte("not an envelope")); err != nil {
		t.Fatal(err)
	}
	stop = start()
	defer stop()
	wait("c")
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for s, n := range seen {
		if n != 1 {
			t.Errorf("%q handled %d times", s, n)
		}
	}
	if len(seen) != 3 {
		t.Errorf("handled %v", seen)
	}
}
