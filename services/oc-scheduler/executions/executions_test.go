package executions_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"

	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func backends(t *testing.T, fn func(t *testing.T, st store.Store)) {
	for _, b := range []struct {
		name string
		open func(testing.TB) store.Store
	}{{"sqlite", testenv.SQLiteStore}, {"mongo", testenv.MongoStore}} {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open(t)) })
	}
}

func natsConn(t *testing.T) *nats.Conn {
	nc := testenv.NATS(t)
	return nc
}

func scheduled(t *testing.T, s *executions.Store) execution.Execution {
	t.Helper()
	now := executions.Stamp(time.Now())
	e, err := s.Insert(context.Background(), execution.Execution{ID: uuid.NewString(), WorkflowID: "w", RequestID: "r", Owner: "alice",
		State: execution.Scheduled, Start: now.Add(time.Hour), End: now.Add(2 * time.Hour), CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InsertBooking(context.Background(), executions.Booked{RequestID: "r", Booking: execution.Booking{ID: uuid.NewString(),
		ExecutionID: e.ID, Resource: resource.Ref{Peer: "local", ID: "c"}, Kind: resource.KindCompute, Start: e.Start, End: e.End}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestTransitionIsAClaim: of 50 callers moving one execution out of
// scheduled, exactly one wins; the others are told it changed.
func TestTransitionIsAClaim(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		nc := natsConn(t)
		sub, err := nc.SubscribeSync(event.ExecutionStates)
		if err != nil {
			t.Fatal(err)
		}
		s, err := executions.Open(context.Background(), st, executions.WithEvents(broker.NewPublisher(nc, "test")))
		if err != nil {
			t.Fatal(err)
		}
		e := scheduled(t, s)
		var wins, changed atomic.Int64
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				_, err := s.Transition(context.Background(), e.ID, []execution.State{execution.Scheduled}, execution.Starting,
					func(x *execution.Execution) { x.Reason = "claimed by worker " + string(rune('A'+i%26)) })
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, executions.ErrStateChanged):
					changed.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 || changed.Load() != 49 {
			t.Fatalf("%d wins, %d told it changed", wins.Load(), changed.Load())
		}
		got, err := s.Get(context.Background(), e.ID)
		if err != nil || got.State != execution.Starting {
			t.Fatalf("%+v %v", got, err)
		}
		// Creation, then the one claim.
		for _, want := range []execution.StateChange{{To: execution.Scheduled}, {From: execution.Scheduled, To: execution.Starting}} {
			m, err := sub.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var env event.Envelope
			var ch execution.StateChange
			if json.Unmarshal(m.Data, &env) != nil || json.Unmarshal(env.Data, &ch) != nil || ch.From != want.From || ch.To != want.To || env.Subject != e.ID {
				t.Fatalf("event %s, want %+v", m.Data, want)
			}
		}
		if m, err := sub.NextMsg(200 * time.Millisecond); err == nil {
			t.Fatalf("one event too many: %s", m.Data)
		}
	})
}

// TestTransitionRules: the life cycle is enforced; terminal states release
// the bookings and stamp finished_at; a cancel request survives a claim.
func TestTransitionRules(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		s, err := executions.Open(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		e := scheduled(t, s)
		if _, err := s.Transition(ctx, e.ID, []execution.State{execution.Scheduled}, execution.Succeeded, nil); !errors.Is(err, executions.ErrTransitionNotAllowed) {
			t.Fatalf("scheduled → succeeded: %v", err)
		}
		if _, err := s.Transition(ctx, e.ID, []execution.State{execution.Running}, execution.Succeeded, nil); !errors.Is(err, executions.ErrStateChanged) {
			t.Fatalf("from running while scheduled: %v", err)
		}
		if _, err := s.Transition(ctx, "nope", []execution.State{execution.Scheduled}, execution.Starting, nil); !errors.Is(err, executions.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
		if _, err := s.Transition(ctx, e.ID, []execution.State{execution.Scheduled}, execution.Starting, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Transition(ctx, e.ID, []execution.State{execution.Starting}, execution.Running, func(x *execution.Execution) {
			now := time.Now().UTC().Truncate(time.Millisecond)
			x.StartedAt, x.Namespace = &now, "oc-"+x.ID[:8]
		}); err != nil {
			t.Fatal(err)
		}
		if x, err := s.RequestCancel(ctx, e.ID); err != nil || !x.CancelRequested {
			t.Fatalf("cancel request: %+v %v", x, err)
		}
		done, err := s.Transition(ctx, e.ID, []execution.State{execution.Running}, execution.Cancelled, func(x *execution.Execution) { x.Reason = "stopped" })
		if err != nil || done.FinishedAt == nil || !done.CancelRequested || done.Namespace == "" || done.StartedAt == nil {
			t.Fatalf("cancelled: %+v %v", done, err)
		}
		if n, _ := s.CountBookings(ctx); n != 0 {
			t.Errorf("%d bookings left after a terminal state", n)
		}
		if _, err := s.RequestCancel(ctx, e.ID); !errors.Is(err, executions.ErrStateChanged) {
			t.Errorf("cancel request when over: %v", err)
		}
		for _, to := range execution.States {
			if executions.Allowed(execution.Cancelled, to) || executions.Allowed(execution.Succeeded, to) {
				t.Errorf("a terminal state may move to %s", to)
			}
		}
	})
}

// TestUpdate: fields change without the state; concurrent updates all
// land (each re-applied on a fresh read); a cancel request written in
// between survives; an execution no longer in the expected states is
// left alone.
func TestUpdate(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		nc := natsConn(t)
		sub, err := nc.SubscribeSync(event.ExecutionStates)
		if err != nil {
			t.Fatal(err)
		}
		s, err := executions.Open(ctx, st, executions.WithEvents(broker.NewPublisher(nc, "test")))
		if err != nil {
			t.Fatal(err)
		}
		e := scheduled(t, s)
		if _, err := s.Update(ctx, e.ID, []execution.State{execution.Running}, func(x *execution.Execution) { x.Reason = "x" }); !errors.Is(err, executions.ErrStateChanged) {
			t.Fatalf("update while scheduled, expecting running: %v", err)
		}
		if _, err := s.Update(ctx, "nope", []execution.State{execution.Running}, nil); !errors.Is(err, executions.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
		if _, err := s.Update(ctx, e.ID, nil, nil); !errors.Is(err, executions.ErrTransitionNotAllowed) {
			t.Fatalf("no state: %v", err)
		}
		if _, err := s.Transition(ctx, e.ID, []execution.State{execution.Scheduled}, execution.Starting, nil); err != nil {
			t.Fatal(err)
		}
		const n = 10
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, err := s.Update(ctx, e.ID, []execution.State{execution.Starting, execution.Running}, func(x *execution.Execution) {
					x.State = execution.Succeeded // ignored: Update never changes the state
					x.Steps = append(x.Steps, execution.Step{Node: string(rune('a' + i)), State: execution.Running})
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.RequestCancel(ctx, e.ID); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		got, err := s.Get(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != execution.Starting || len(got.Steps) != n || !got.CancelRequested {
			t.Fatalf("after %d updates and a cancel request: state %s, %d steps, cancel %v", n, got.State, len(got.Steps), got.CancelRequested)
		}
		if n, _ := s.CountBookings(ctx); n != 1 {
			t.Errorf("%d bookings: an update must not release them", n)
		}
		// Creation and the claim only: updates publish nothing.
		for range 2 {
			if _, err := sub.NextMsg(5 * time.Second); err != nil {
				t.Fatal(err)
			}
		}
		if m, err := sub.NextMsg(200 * time.Millisecond); err == nil {
			t.Fatalf("an update published %s", m.Data)
		}
	})
}

// TestMarkMissed: what is still scheduled when its window has ended becomes
// missed, with the reason, and its bookings are released; what started, or
// whose window is still open, is left alone.
func TestMarkMissed(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		s, err := executions.Open(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		late, open, started := scheduled(t, s), scheduled(t, s), scheduled(t, s)
		if _, err := s.Transition(ctx, started.ID, []execution.State{execution.Scheduled}, execution.Starting, nil); err != nil {
			t.Fatal(err)
		}
		// At the end of the windows of late and started (all three end at
		// the same time, so open's is moved later first).
		if _, err := s.Update(ctx, open.ID, []execution.State{execution.Scheduled}, func(x *execution.Execution) {
			x.End = x.End.Add(time.Hour)
		}); err != nil {
			t.Fatal(err)
		}
		n, err := s.MarkMissed(ctx, late.End)
		if err != nil || n != 1 {
			t.Fatalf("MarkMissed = %d, %v; want 1", n, err)
		}
		for id, want := range map[string]execution.State{late.ID: execution.Missed, open.ID: execution.Scheduled, started.ID: execution.Starting} {
			got, err := s.Get(ctx, id)
			if err != nil || got.State != want {
				t.Errorf("%s: %s (%v), want %s", id, got.State, err, want)
			}
			if want == execution.Missed && got.Reason != executions.MissedReason {
				t.Errorf("missed reason = %q", got.Reason)
			}
		}
		held, _, err := s.FindBookings(ctx, executions.BookingQuery{Resources: []resource.Ref{{Peer: "local", ID: "c"}}, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range held {
			if b.ExecutionID == late.ID {
				t.Errorf("the missed execution still holds booking %s", b.ID)
			}
		}
		if len(held) != 2 {
			t.Errorf("%d bookings held, want 2", len(held))
		}
		if n, err := s.MarkMissed(ctx, late.End); err != nil || n != 0 {
			t.Errorf("second MarkMissed = %d, %v", n, err)
		}
	})
}
