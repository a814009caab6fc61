package executions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
)

// outage is how long NATS is down in TestEventsSurviveNATSOutage.
const outage = 30 * time.Second

// natsAt starts an embedded NATS on port, keeping JetStream in dir, and
// stops it when the test ends (or earlier, through stop).
func natsAt(t *testing.T, dir string, port int) (stop func()) {
	t.Helper()
	ns, err := broker.StartEmbedded(broker.EmbeddedOptions{StoreDir: dir, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(ns.Shutdown) }
	t.Cleanup(stop)
	return stop
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestEventsSurviveNATSOutage: with NATS down for 30 s while executions
// are booked and cancelled (by oc-scheduler), claimed, run and ended (by
// a worker that ends before NATS is back), every state change is in the
// events stream once NATS is back, each execution's in order, and each
// once.
func TestEventsSurviveNATSOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("keeps NATS down for 30 s")
	}
	backends(t, func(t *testing.T, st store.Store) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		dir, port := t.TempDir(), freePort(t)
		stop := natsAt(t, dir, port)
		nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		if err := broker.EnsureStream(ctx, nc, time.Hour); err != nil {
			t.Fatal(err)
		}
		s, err := executions.Open(ctx, st, executions.WithEvents(broker.NewPublisher(nc, "scheduler")))
		if err != nil {
			t.Fatal(err)
		}
		// A worker: another process, with its own connection.
		wnc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(wnc.Close)
		worker, err := executions.Open(ctx, st, executions.WithEvents(broker.NewPublisher(wnc, "monitord")))
		if err != nil {
			t.Fatal(err)
		}
		// oc-scheduler's background publisher.
		var loop sync.WaitGroup
		loop.Go(func() {
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					_, _ = s.PublishPending(ctx)
				}
			}
		})
		defer loop.Wait()
		defer cancel()

		want := map[string][]execution.State{} // execution → the states it went to, in order
		move := func(s *executions.Store, id string, moves ...execution.State) {
			t.Helper()
			for _, to := range moves {
				e, err := s.Get(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if to == execution.Starting {
					_, err = s.Claim(ctx, id, "d/w", time.Now().Add(time.Hour))
				} else {
					_, err = s.Transition(ctx, id, []execution.State{e.State}, to, nil)
				}
				if err != nil {
					t.Fatalf("%s → %s: %v", e.State, to, err)
				}
				want[id] = append(want[id], to)
			}
		}
		book := func(n int) []string {
			t.Helper()
			req, now := uuid.NewString(), executions.Stamp(time.Now())
			if err := s.BeginRequest(ctx, executions.RequestDoc{ID: req, Holder: "h", At: now}); err != nil {
				t.Fatal(err)
			}
			var ids []string
			var execs []execution.Execution
			for range n {
				e := stage(t, s, req, now.Add(time.Hour))
				execs, ids = append(execs, e), append(ids, e.ID)
				want[e.ID] = []execution.State{execution.Scheduled}
			}
			if err := s.FinishRequest(ctx, req); err != nil {
				t.Fatal(err)
			}
			_ = s.AnnounceRequest(ctx, req, execs) // fails while NATS is down: left to the publisher
			return ids
		}

		before := book(3)
		move(worker, before[0], execution.Starting, execution.Running)
		lone := scheduled(t, s)
		want[lone.ID] = []execution.State{execution.Scheduled}

		stop()
		for nc.IsConnected() || wnc.IsConnected() {
			time.Sleep(10 * time.Millisecond)
		}
		began := time.Now()
		move(worker, before[0], execution.Succeeded)
		move(worker, before[1], execution.Starting, execution.Running, execution.Failed)
		move(s, before[2], execution.Cancelled)
		during := book(2)
		move(worker, during[0], execution.Starting, execution.Scheduled, execution.Starting, execution.Running)
		move(s, during[1], execution.Cancelled)
		move(s, lone.ID, execution.Missed)
		wnc.Close() // the worker's process ends before NATS is back
		time.Sleep(outage - time.Since(began))

		natsAt(t, dir, port)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]execution.State{}
		seen := map[string]int{}
		deadline := time.Now().Add(30 * time.Second)
		for !complete(got, want) && time.Now().Before(deadline) {
			got, seen = stored(ctx, t, js)
			time.Sleep(200 * time.Millisecond)
		}
		for id, states := range want {
			if !slices.Equal(got[id], states) {
				t.Errorf("execution %s: events %v, want %v", id, got[id], states)
			}
		}
		for id, n := range seen {
			if n > 1 {
				t.Errorf("event %s stored %d times", id, n)
			}
		}
	})
}

func complete(got, want map[string][]execution.State) bool {
	for id, states := range want {
		if len(got[id]) < len(states) {
			return false
		}
	}
	return true
}

// stored reads every execution state event of the stream from its
// start: each execution's states in stream order, and how many times
// each message id is stored.
func stored(ctx context.Context, t *testing.T, js jetstream.JetStream) (map[string][]execution.State, map[string]int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, broker.StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{event.ExecutionStates}, DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return nil, nil
	}
	got, seen := map[string][]execution.State{}, map[string]int{}
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			return got, seen
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var env event.Envelope
			var ch execution.StateChange
			if json.Unmarshal(m.Data(), &env) != nil || json.Unmarshal(env.Data, &ch) != nil {
				t.Fatalf("not a state change: %s", m.Data())
			}
			got[ch.ExecutionID] = append(got[ch.ExecutionID], ch.To)
			seen[m.Headers().Get(jetstream.MsgIDHeader)]++
		}
		if n == 0 {
			return got, seen
		}
	}
}
