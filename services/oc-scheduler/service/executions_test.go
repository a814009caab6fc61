package service_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/execution"

	"github.com/opencloud/opencloud/services/oc-scheduler/client"
)

var (
	toStarting = []execution.State{execution.Scheduled}
	toRunning  = []execution.State{execution.Starting}
	running    = []execution.State{execution.Running}
)

// TestCancel: scheduled → cancelled at once, its slot free again;
// cancelling again changes nothing; running → cancel_requested; over → 409.
func TestCancel(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		w := e.workflow(alice, "Cancel", e.processing("p", 100), e.compute("solo", 0), 1, nil)
		at := day()
		plan, err := e.as(alice).Book(ctx, w.ID, planned(at, time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		id := plan.Executions[0].ID
		got, err := e.as(alice).Cancel(ctx, id)
		if err != nil || got.State != execution.Cancelled || got.FinishedAt == nil || !strings.Contains(got.Reason, "alice") {
			t.Fatalf("cancel: %+v %v", got, err)
		}
		if _, b := e.counts(); b != 0 {
			t.Fatalf("%d bookings left", b)
		}
		if again, err := e.as(alice).Cancel(ctx, id); err != nil || again.State != execution.Cancelled || again.Version != got.Version {
			t.Fatalf("cancel again: %+v %v", again, err)
		}
		plan, err = e.as(alice).Book(ctx, w.ID, planned(at, time.Hour))
		if err != nil {
			t.Fatalf("the slot is not free again: %v", err)
		}
		id = plan.Executions[0].ID
		if _, err := e.execs.Transition(ctx, id, toStarting, execution.Starting, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := e.execs.Transition(ctx, id, toRunning, execution.Running, nil); err != nil {
			t.Fatal(err)
		}
		got, err = e.as(alice).Cancel(ctx, id)
		if err != nil || got.State != execution.Running || !got.CancelRequested {
			t.Fatalf("cancel running: %+v %v", got, err)
		}
		if _, err := e.execs.Transition(ctx, id, running, execution.Succeeded, nil); err != nil {
			t.Fatal(err)
		}
		_, err = e.as(alice).Cancel(ctx, id)
		if status(err) != http.StatusConflict || !strings.Contains(err.Error(), "succeeded") {
			t.Fatalf("cancel succeeded: %v", err)
		}
	})
}

// TestListAndAccess: filters, order and pages; bob sees nothing of
// alice's; an admin sees everything.
func TestListAndAccess(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		proc, comp := e.processing("p", 100), e.compute("many", 64)
		w1, w2 := e.workflow(alice, "One", proc, comp, 1, nil), e.workflow(alice, "Two", proc, comp, 1, nil)
		at := day()
		hourly := func(w string, from time.Time, n int) execution.Plan {
			plan, err := e.as(alice).Book(ctx, w, execution.Request{Mode: 1, Cron: "0 * * * *", Start: from, End: ptr(from.Add(time.Duration(n-1) * time.Hour)), DurationSeconds: 1800})
			if err != nil || len(plan.Executions) != n {
				t.Fatalf("book: %v", err)
			}
			return plan
		}
		p1 := hourly(w1.ID, at, 3)
		hourly(w2.ID, at, 2)
		if _, err := e.as(alice).Cancel(ctx, p1.Executions[2].ID); err != nil {
			t.Fatal(err)
		}
		a := e.as(alice)
		for _, tc := range []struct {
			name  string
			o     client.ListOptions
			total int64
			first time.Time
		}{
			{"all", client.ListOptions{}, 5, at},
			{"workflow", client.ListOptions{WorkflowID: w1.ID}, 3, at},
			{"state", client.ListOptions{States: []execution.State{execution.Cancelled}}, 1, at.Add(2 * time.Hour)},
			{"states", client.ListOptions{States: []execution.State{execution.Cancelled, execution.Scheduled}}, 5, at},
			{"period", client.ListOptions{From: at.Add(70 * time.Minute), To: at.Add(3 * time.Hour)}, 3, at.Add(time.Hour)},
			{"window overlap", client.ListOptions{From: at.Add(20 * time.Minute), To: at.Add(40 * time.Minute)}, 2, at},
			{"request", client.ListOptions{RequestID: p1.Executions[0].RequestID, Sort: "-start"}, 3, at.Add(2 * time.Hour)},
			{"page", client.ListOptions{Sort: "-start", Limit: 2, Offset: 1}, 5, at.Add(time.Hour)},
		} {
			page, err := a.List(ctx, tc.o)
			if err != nil || page.Total != tc.total || len(page.Items) == 0 || !page.Items[0].Start.Equal(tc.first) {
				t.Errorf("%s: %v, %d items of %d, first %v", tc.name, err, len(page.Items), page.Total, page.Items)
			}
		}
		r := e.do(http.MethodGet, "/scheduler/executions?state=done&from=yesterday&sort=name&workflow=x&request=y&limit=500&colour=red", e.token(alice), "")
		f := r.fields(t)
		for _, name := range []string{"state", "from", "sort", "workflow", "request", "limit", "colour"} {
			if f[name] == "" {
				t.Errorf("no problem on %s: %v", name, f)
			}
		}

		id := p1.Executions[0].ID
		b := e.as(bob)
		if page, err := b.List(ctx, client.ListOptions{}); err != nil || page.Total != 0 {
			t.Errorf("bob lists %+v %v", page, err)
		}
		if _, err := b.Get(ctx, id); status(err) != http.StatusNotFound {
			t.Errorf("bob gets: %v", err)
		}
		if _, err := b.Cancel(ctx, id); status(err) != http.StatusNotFound {
			t.Errorf("bob cancels: %v", err)
		}
		if _, err := b.Live(ctx, id); status(err) != http.StatusNotFound {
			t.Errorf("bob follows: %v", err)
		}
		// Alice's workflows are hers: bob cannot book them.
		if _, err := b.Book(ctx, w1.ID, planned(at, time.Minute)); status(err) != http.StatusNotFound {
			t.Errorf("bob books alice's workflow: %v", err)
		}
		if got, err := e.as(alice).Get(ctx, id); err != nil || got.ID != id {
			t.Errorf("alice gets: %v", err)
		}
		if page, err := e.as(root).List(ctx, client.ListOptions{}); err != nil || page.Total != 5 {
			t.Errorf("admin lists %d, %v", page.Total, err)
		}
		if _, err := e.as(root).Get(ctx, id); err != nil {
			t.Errorf("admin gets: %v", err)
		}
	})
}

// TestLive: the current state first, then published state changes and
// log lines, and the stream ends on a terminal state.
func TestLive(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		w := e.workflow(alice, "Live", e.processing("p", 100), e.compute("c", 4), 1, nil)
		plan, err := e.as(alice).Book(ctx, w.ID, planned(day(), time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		id := plan.Executions[0].ID
		if _, err := e.execs.Transition(ctx, id, toStarting, execution.Starting, nil); err != nil {
			t.Fatal(err)
		}
		stream, err := e.as(alice).Live(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		next := func(want string) json.RawMessage {
			t.Helper()
			select {
			case m, ok := <-stream:
				if !ok || m.Event != want {
					t.Fatalf("got %+v (open %v), want a %s event", m, ok, want)
				}
				return m.Data
			case <-ctx.Done():
				t.Fatalf("no %s event", want)
			}
			return nil
		}
		var ch execution.StateChange
		if json.Unmarshal(next("state"), &ch) != nil || ch.To != execution.Starting || ch.ExecutionID != id {
			t.Fatalf("first: %+v", ch)
		}
		// Events of other executions are not this stream's.
		pub := broker.NewPublisher(e.nc, "monitord")
		if err := pub.Publish(ctx, event.ExecutionState("someone-else"), "someone-else", "", execution.StateChange{ExecutionID: "someone-else", To: execution.Failed}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.execs.Transition(ctx, id, toRunning, execution.Running, nil); err != nil {
			t.Fatal(err)
		}
		if json.Unmarshal(next("state"), &ch) != nil || ch.From != execution.Starting || ch.To != execution.Running {
			t.Fatalf("change: %+v", ch)
		}
		line := execution.LogLine{ExecutionID: id, Step: "p1", At: time.Now().UTC(), Line: "computing NDVI"}
		if err := pub.Publish(ctx, event.ExecutionLog(id), id, "", line); err != nil {
			t.Fatal(err)
		}
		var got execution.LogLine
		if json.Unmarshal(next("log"), &got) != nil || got.Line != line.Line || got.Step != "p1" {
			t.Fatalf("log: %+v", got)
		}
		if _, err := e.execs.Transition(ctx, id, running, execution.Succeeded, nil); err != nil {
			t.Fatal(err)
		}
		if json.Unmarshal(next("state"), &ch) != nil || ch.To != execution.Succeeded {
			t.Fatalf("last: %+v", ch)
		}
		select {
		case m, ok := <-stream:
			if ok {
				t.Fatalf("after the terminal state: %+v", m)
			}
		case <-ctx.Done():
			t.Fatal("the stream did not end")
		}
		// Over already: one event, and the end.
		stream, err = e.as(alice).Live(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if json.Unmarshal(next("state"), &ch) != nil || ch.To != execution.Succeeded {
			t.Fatalf("over: %+v", ch)
		}
		if _, ok := <-stream; ok {
			t.Fatal("the stream of a finished execution did not end")
		}
	})
}
