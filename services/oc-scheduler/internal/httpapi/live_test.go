package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/authn/authntest"
	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"

	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
	"github.com/opencloud/opencloud/services/oc-scheduler/internal/booking"
	"github.com/opencloud/opencloud/services/oc-scheduler/internal/httpapi"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var (
	alice = authntest.User("alice")
	bob   = authntest.User("bob")
)

// liveEnv is the scheduler's API on one store backend and an embedded
// NATS: the handler has its own connection, the publishers (the store's
// events, a worker's step logs) another.
type liveEnv struct {
	t     *testing.T
	ctx   context.Context
	url   string
	iss   *authntest.Issuer
	nc    *nats.Conn // the handler's
	pub   *broker.Publisher
	execs *executions.Store // announces its changes
	quiet *executions.Store // changes the store without a word on NATS
}

// backends runs fn on each store backend.
func backends(t *testing.T, fn func(t *testing.T, open func(testing.TB) store.Store)) {
	for _, b := range []struct {
		name string
		open func(testing.TB) store.Store
	}{{"sqlite", testenv.SQLiteStore}, {"mongo", testenv.MongoStore}} {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open) })
	}
}

func newLiveEnv(t *testing.T, st store.Store, o httpapi.LiveOptions) *liveEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	nc := testenv.NATS(t)
	pc, err := nats.Connect(nc.ConnectedUrl())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pc.Close)
	e := &liveEnv{t: t, ctx: ctx, iss: authntest.New(t), nc: nc, pub: broker.NewPublisher(pc, "monitord")}
	if e.execs, err = executions.Open(ctx, st, executions.WithEvents(e.pub)); err != nil {
		t.Fatal(err)
	}
	if e.quiet, err = executions.Open(ctx, st); err != nil {
		t.Fatal(err)
	}
	engine, api := server.New(server.Options{Name: "scheduler", Prefix: "/scheduler", Logger: testenv.Logger(t), Verifier: e.iss.Verifier(ctx)})
	svc := booking.NewService(booking.Config{Executions: e.execs, PeerID: "local", Now: time.Now, Log: testenv.Logger(t)})
	httpapi.Register(api, svc, nc, func(*gin.Context) {}, o)
	srv := httptest.NewServer(engine)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// running stores a running execution of owner.
func (e *liveEnv) running(owner string) string {
	e.t.Helper()
	now := executions.Stamp(time.Now())
	x := execution.Execution{ID: uuid.NewString(), WorkflowID: uuid.NewString(), RequestID: uuid.NewString(), Name: "live",
		Owner: owner, State: execution.Scheduled, Start: now, End: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	if _, err := e.execs.Insert(e.ctx, x); err != nil {
		e.t.Fatal(err)
	}
	for _, move := range [][2]execution.State{{execution.Scheduled, execution.Starting}, {execution.Starting, execution.Running}} {
		if _, err := e.execs.Transition(e.ctx, x.ID, move[:1], move[1], nil); err != nil {
			e.t.Fatal(err)
		}
	}
	return x.ID
}

// open starts following execution id as p; the stream closes with ctx.
func (e *liveEnv) open(ctx context.Context, p authn.Principal, id string) *http.Response {
	e.t.Helper()
	return e.call(ctx, p, "/executions/"+id+"/live")
}

// call sends GET path (under /scheduler) as p; the body is closed at the end of the test.
func (e *liveEnv) call(ctx context.Context, p authn.Principal, path string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/scheduler"+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.iss.Token(p))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// follow opens a stream that must be accepted.
func (e *liveEnv) follow(ctx context.Context, p authn.Principal, id string) *http.Response {
	e.t.Helper()
	resp := e.open(ctx, p, id)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("live %s: %d %s", id, resp.StatusCode, b)
	}
	return resp
}

// flood publishes n log lines of size bytes each on execution id's subject.
func (e *liveEnv) flood(id string, n, size int) {
	e.t.Helper()
	line := strings.Repeat("x", size)
	for i := range n {
		if err := e.pub.Publish(e.ctx, event.ExecutionLog(id), id, "", execution.LogLine{ExecutionID: id, Step: "s", At: time.Now(), Line: line}); err != nil {
			e.t.Fatalf("log line %d: %v", i, err)
		}
	}
}

type sse struct {
	name string
	data json.RawMessage
}

// read parses the events of body into a channel, closed at the end of the
// stream; end then holds how the body ended (io.EOF when cleanly).
func read(body io.Reader) (<-chan sse, <-chan error) {
	out, end := make(chan sse, 1<<16), make(chan error, 1)
	go func() {
		defer close(out)
		r := bufio.NewReaderSize(body, 1<<16)
		var ev sse
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				end <- err
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if ev.name != "" {
					out <- ev
				}
				ev = sse{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = json.RawMessage(strings.TrimPrefix(line, "data: "))
			}
		}
	}()
	return out, end
}

// until reads events until the stream ends (its last state and how many
// events came) or the time is up (ended false).
func until(t *testing.T, events <-chan sse, within time.Duration) (last execution.StateChange, n int, ended bool) {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return last, n, true
			}
			n++
			if ev.name == "state" {
				if err := json.Unmarshal(ev.data, &last); err != nil {
					t.Fatalf("state %s: %v", ev.data, err)
				}
			}
		case <-timeout:
			return last, n, false
		}
	}
}

// TestLiveFloodStillEnds: a client falling behind a flood of log lines
// (far more than the stream holds) still gets the execution's end, and the
// stream ends.
func TestLiveFloodStillEnds(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB) store.Store) {
		e := newLiveEnv(t, open(t), httpapi.LiveOptions{Buffer: 8, WriteTimeout: 30 * time.Second})
		id := e.running("alice")
		resp := e.follow(e.ctx, alice, id)
		// The client reads nothing while 16 MB of log lines and the end
		// come: the socket fills, then the stream's buffer.
		e.flood(id, 2000, 8<<10)
		if _, err := e.execs.Transition(e.ctx, id, []execution.State{execution.Running}, execution.Succeeded, nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		events, end := read(resp.Body)
		last, n, ended := until(t, events, 20*time.Second)
		t.Logf("%d events reached the client of 2002", n)
		if !ended {
			t.Fatalf("the stream is still open after %d events; last state %+v", n, last)
		}
		if err := <-end; !errors.Is(err, io.EOF) {
			t.Errorf("the stream ended with %v", err)
		}
		if last.To != execution.Succeeded || last.Step != "" || last.ExecutionID != id {
			t.Errorf("last state %+v, want the execution succeeded", last)
		}
	})
}

// TestLiveEndsWithoutTheEvent: an execution that ended without a word on
// NATS (the event was lost) ends its stream all the same.
func TestLiveEndsWithoutTheEvent(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB) store.Store) {
		e := newLiveEnv(t, open(t), httpapi.LiveOptions{Check: 200 * time.Millisecond})
		id := e.running("alice")
		events, _ := read(e.follow(e.ctx, alice, id).Body)
		if _, err := e.quiet.Transition(e.ctx, id, []execution.State{execution.Running}, execution.Failed,
			func(x *execution.Execution) { x.Reason = "lost" }); err != nil {
			t.Fatal(err)
		}
		last, _, ended := until(t, events, 10*time.Second)
		if !ended || last.To != execution.Failed || last.Reason != "lost" {
			t.Fatalf("ended %v, last state %+v", ended, last)
		}
	})
}

// TestLiveOneExecution: a stream receives the events of its execution
// only; another execution's are not even delivered to the service's
// NATS connection.
func TestLiveOneExecution(t *testing.T) {
	e := newLiveEnv(t, testenv.SQLiteStore(t), httpapi.LiveOptions{})
	a, b := e.running("alice"), e.running("alice")
	events, _ := read(e.follow(e.ctx, alice, a).Body)
	if ev := <-events; ev.name != "state" {
		t.Fatalf("first event %+v", ev)
	}
	before := e.nc.Stats().InMsgs
	e.flood(b, 50, 10)
	for range 50 {
		if err := e.pub.Publish(e.ctx, event.ExecutionState(b), a, "", execution.StateChange{ExecutionID: a, Step: "s", To: execution.Running}); err != nil {
			t.Fatal(err)
		}
	}
	// A's own event, after B's: once it is here, B's were not.
	if err := e.pub.Publish(e.ctx, event.ExecutionLog(a), a, "", execution.LogLine{ExecutionID: a, Line: "mine"}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		var line execution.LogLine
		if ev.name != "log" || json.Unmarshal(ev.data, &line) != nil || line.Line != "mine" {
			t.Fatalf("the stream of %s received %s %s", a, ev.name, ev.data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	if got := e.nc.Stats().InMsgs - before; got != 1 {
		t.Errorf("the service's connection received %d messages, want only the one of %s", got, a)
	}
}

// TestLivePerUser: one user's streams are capped; others' are not
// counted against them, and a closed stream frees its place.
func TestLivePerUser(t *testing.T) {
	e := newLiveEnv(t, testenv.SQLiteStore(t), httpapi.LiveOptions{PerUser: 2})
	id := e.running("alice")
	first, closeFirst := context.WithCancel(e.ctx)
	e.follow(first, alice, id)
	e.follow(e.ctx, alice, id)
	resp := e.open(e.ctx, alice, id)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), "too_many_streams") ||
		!strings.Contains(string(body), "close one of these streams") {
		t.Fatalf("third stream: %d %s", resp.StatusCode, body)
	}
	e.follow(e.ctx, bob, e.running("bob"))
	closeFirst()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithCancel(e.ctx)
		resp := e.open(ctx, alice, id)
		code := resp.StatusCode
		cancel()
		if code == http.StatusOK {
			break
		}
		if code != http.StatusTooManyRequests || time.Now().After(deadline) {
			t.Fatalf("after closing a stream: %d", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLiveDropsAStuckClient: a client that stops reading is disconnected
// once a write waits longer than the write timeout.
func TestLiveDropsAStuckClient(t *testing.T) {
	e := newLiveEnv(t, testenv.SQLiteStore(t), httpapi.LiveOptions{WriteTimeout: 300 * time.Millisecond, Check: time.Hour})
	id := e.running("alice")
	resp := e.follow(e.ctx, alice, id)
	e.flood(id, 2000, 8<<10)
	time.Sleep(2 * time.Second)
	events, end := read(resp.Body)
	last, n, ended := until(t, events, 20*time.Second)
	if !ended {
		t.Fatalf("the stuck client is still connected after %d events", n)
	}
	err := <-end
	t.Logf("dropped after %d events: %v", n, err)
	if errors.Is(err, io.EOF) || last.To.Terminal() {
		t.Errorf("the stream ended cleanly (%v, last state %+v): it should have been cut", err, last)
	}
}

// TestLiveNoRepeat: events are delivered at least once (the outbox sends
// an event again until NATS acknowledges it), and the first state is read
// from the store: a state already sent is not sent again.
func TestLiveNoRepeat(t *testing.T) {
	e := newLiveEnv(t, testenv.SQLiteStore(t), httpapi.LiveOptions{})
	a := e.running("alice")
	events, _ := read(e.follow(e.ctx, alice, a).Body)
	if ev := <-events; ev.name != "state" {
		t.Fatalf("first event %+v", ev)
	}
	publish := func(v any, subject string) {
		t.Helper()
		if err := e.pub.Publish(e.ctx, subject, a, "", v); err != nil {
			t.Fatal(err)
		}
	}
	// The execution's own state again, a step's twice, then a log line.
	publish(execution.StateChange{ExecutionID: a, To: execution.Running}, event.ExecutionState(a))
	publish(execution.StateChange{ExecutionID: a, Step: "s", To: execution.Running}, event.ExecutionState(a))
	publish(execution.StateChange{ExecutionID: a, Step: "s", To: execution.Running}, event.ExecutionState(a))
	publish(execution.LogLine{ExecutionID: a, Line: "end"}, event.ExecutionLog(a))
	var got []string
	for {
		select {
		case ev := <-events:
			if ev.name == "log" {
				if len(got) != 1 || got[0] != "s:running" {
					t.Fatalf("states sent before the log line: %v, want only s:running", got)
				}
				return
			}
			var ch execution.StateChange
			_ = json.Unmarshal(ev.data, &ch)
			got = append(got, ch.Step+":"+string(ch.To))
		case <-time.After(10 * time.Second):
			t.Fatalf("no log line; states %v", got)
		}
	}
}
