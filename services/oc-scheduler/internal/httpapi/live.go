package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/server"

	"github.com/opencloud/opencloud/services/oc-scheduler/internal/booking"
)

// Defaults of LiveOptions.
const (
	DefaultLiveHeartbeat    = 15 * time.Second
	DefaultLivePerUser      = 10
	DefaultLiveBuffer       = 256
	DefaultLiveCheck        = 15 * time.Second
	DefaultLiveWriteTimeout = 10 * time.Second
)

// LiveOptions tunes the live streams; zero values take the defaults.
type LiveOptions struct {
	// Heartbeat is the period of the keep-alive comment lines.
	Heartbeat time.Duration
	// PerUser is how many streams one user may have open at once in this
	// process; one more is a 429.
	PerUser int
	// Buffer is how many events a stream holds for a client that reads
	// slower than they come; beyond it events are dropped and the stream
	// sends the execution's state as stored instead.
	Buffer int
	// Check is how often a stream reads the execution from the store, so
	// that it ends once the execution is over even if that event was lost.
	Check time.Duration
	// WriteTimeout bounds each write to the client: a client that does not
	// take an event in time is dropped.
	WriteTimeout time.Duration
}

func (o LiveOptions) withDefaults() LiveOptions {
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultLiveHeartbeat
	}
	if o.PerUser <= 0 {
		o.PerUser = DefaultLivePerUser
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultLiveBuffer
	}
	if o.Check <= 0 {
		o.Check = DefaultLiveCheck
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultLiveWriteTimeout
	}
	return o
}

// liveStreams holds the options and counts the open streams per user.
type liveStreams struct {
	LiveOptions
	mu   sync.Mutex
	open map[string]int
}

func newLiveStreams(o LiveOptions) *liveStreams {
	return &liveStreams{LiveOptions: o.withDefaults(), open: map[string]int{}}
}

// take counts one more stream of user; false when the user has PerUser already.
func (l *liveStreams) take(user string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[user] >= l.PerUser {
		return false
	}
	l.open[user]++
	return true
}

func (l *liveStreams) give(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[user]--; l.open[user] <= 0 {
		delete(l.open, user)
	}
}

// live godoc
//
//	@Summary		Follow an execution live
//	@Description	Server-Sent Events. First an event "state" with the execution's current state (so that a client never misses where it is), then an event "log" (data: a LogLine) for each line its steps wrote so far, as kept (each step's last 1,000 lines, 256 KiB at most), then an event "state" (data: a StateChange) for every change of the execution or of one of its steps, and an event "log" for every line a step writes, as it is written. Each step's lines come in the order of their seq, none twice; a line written less than a second before the client connected may be missing (GET …/logs has it). A client that reads slower than events come may miss some of them: it then gets an event "state" with the execution's state as stored, and the lines kept since the last it got. An execution already over gets its kept lines, then its state. The stream ends after the execution reaches a terminal state (also when that change was not announced: the execution is read again every 15 s); comment lines keep it alive every 15 s; a client that does not take an event within 10 s is disconnected. One user may follow at most OC_SCHEDULER_LIVE_PER_USER executions at once (429 beyond). Owner or admin only (404 otherwise).
//	@Tags			executions
//	@Produce		text/event-stream
//	@Security		BearerAuth
//	@Param			id	path		string	true	"Execution id (UUID)"
//	@Success		200	{object}	execution.Live	"A stream of events: 'event: state' or 'event: log', then 'data:' and the JSON"
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		404	{object}	apierror.Envelope
//	@Failure		429	{object}	apierror.Envelope	"too_many_streams: you have as many live streams open as one user may; close one and retry"
//	@Failure		503	{object}	apierror.Envelope	"NATS is not reachable"
//	@Router			/executions/{id}/live [get]
func (h *Handler) live(c *gin.Context) {
	p, id, ok := target(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	if _, err := h.svc.Get(ctx, p, id); err != nil {
		fail(c, err)
		return
	}
	if !h.streams.take(p.Subject) {
		server.Fail(c, apierror.New(http.StatusTooManyRequests, "too_many_streams",
			fmt.Sprintf("you follow %d executions live already, the most one user may at once; close one of these streams and retry (GET /scheduler/executions/{id} reads an execution without a stream)", h.streams.PerUser), nil))
		return
	}
	defer h.streams.give(p.Subject)
	s := &stream{h: h, p: p, id: id, msgs: make(chan *nats.Msg, h.streams.Buffer), behind: make(chan struct{}, 1), sent: map[string]int64{}}
	// One subscription to this execution's subjects only: its state changes
	// and its log lines, in the order each publisher sent them. The
	// handler never blocks NATS: what the buffer cannot hold is dropped,
	// and the stream catches up from the store.
	sub, err := h.nc.Subscribe(event.ExecutionEvents(id), s.receive)
	if err != nil {
		fail(c, fmt.Errorf("%w: subscribe %s: %w", errNoBroker, event.ExecutionEvents(id), err))
		return
	}
	defer func() { _ = sub.Unsubscribe() }()
	// Once the server has the subscription, nothing published after the
	// state read below can be missed.
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := h.nc.FlushWithContext(fctx); err != nil {
		fail(c, fmt.Errorf("%w: %w", errNoBroker, err))
		return
	}
	e, err := h.svc.Get(ctx, p, id)
	if err != nil {
		fail(c, err)
		return
	}
	w := c.Writer
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no") // proxies must not hold events back
	w.WriteHeader(http.StatusOK)
	s.w, s.rc = w, http.NewResponseController(w)
	// No deadline left behind on a connection that serves more requests.
	defer func() { _ = s.rc.SetWriteDeadline(time.Time{}) }()
	if err := s.run(ctx, e); err != nil {
		server.LoggerFrom(c).DebugContext(ctx, "live stream ended", "execution", id, "err", err)
	}
}

// stream is one client's live stream of one execution.
type stream struct {
	h  *Handler
	p  authn.Principal
	id string
	rc *http.ResponseController
	w  gin.ResponseWriter
	// msgs holds the events not sent yet; behind is poked when one was
	// dropped for want of room.
	msgs   chan *nats.Msg
	behind chan struct{}
	// sent is the seq of the last log line sent, per step.
	sent map[string]int64
	// states is the last state sent, per step ("" for the execution):
	// events are delivered at least once, and a state read from the store
	// may also come as an event, so a repeat is not sent again.
	states map[string]execution.State
}

// repeat reports whether state to of step (""for the execution) is the
// last one sent, and records it otherwise.
func (s *stream) repeat(step string, to execution.State) bool {
	if s.states == nil {
		s.states = map[string]execution.State{}
	}
	if last, ok := s.states[step]; ok && last == to {
		return true
	}
	s.states[step] = to
	return false
}

// receive runs on NATS's delivery goroutine: it must not block.
func (s *stream) receive(m *nats.Msg) {
	select {
	case s.msgs <- m:
	default:
		select {
		case s.behind <- struct{}{}:
		default:
		}
	}
}

// errOver ends a stream once the execution is over.
var errOver = errors.New("the execution is over")

// run sends e's state, then the events, until the execution is over (nil),
// the client goes (ctx) or a write fails.
func (s *stream) run(ctx context.Context, e execution.Execution) error {
	if !e.State.Terminal() {
		if err := s.state(e); err != nil {
			return err
		}
	}
	// The lines written before the client came, from the store; the live
	// ones already sent among them are skipped by their seq.
	if err := s.catchUp(ctx, e); err != nil {
		return err
	}
	if e.State.Terminal() {
		return overIsNil(s.state(e))
	}
	beat := time.NewTicker(s.h.streams.Heartbeat)
	defer beat.Stop()
	check := time.NewTicker(s.h.streams.Check)
	defer check.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-beat.C:
			err = s.write([]byte(": keep-alive\n\n"))
		case <-s.behind:
			// Events were dropped, perhaps the last one: the store says
			// where the execution is now.
			err = s.resync(ctx, true)
		case <-check.C:
			err = s.resync(ctx, false)
		case m := <-s.msgs:
			err = s.event(m)
		}
		if err != nil {
			return overIsNil(err)
		}
	}
}

func overIsNil(err error) error {
	if errors.Is(err, errOver) {
		return nil
	}
	return err
}

// event sends one message of the subscription; errOver after the
// execution's terminal state.
func (s *stream) event(m *nats.Msg) error {
	var env event.Envelope
	if json.Unmarshal(m.Data, &env) != nil {
		return nil
	}
	switch m.Subject {
	case event.ExecutionLog(s.id):
		var l execution.LogLine
		if json.Unmarshal(env.Data, &l) != nil {
			return nil
		}
		return s.log(l, env.Data)
	case event.ExecutionState(s.id):
		var ch execution.StateChange
		if json.Unmarshal(env.Data, &ch) != nil {
			return nil
		}
		if s.repeat(ch.Step, ch.To) {
			return nil
		}
		if err := s.send("state", env.Data); err != nil {
			return err
		}
		if ch.Step == "" && ch.To.Terminal() {
			return errOver
		}
	}
	return nil
}

// resync reads the execution from the store: once it is over, its state
// is sent and the stream ends; always is true when events were dropped,
// its state being sent then in any case.
func (s *stream) resync(ctx context.Context, always bool) error {
	e, err := s.h.svc.Get(ctx, s.p, s.id)
	if err != nil {
		return err
	}
	if !always && !e.State.Terminal() {
		return nil
	}
	if always {
		if err := s.catchUp(ctx, e); err != nil {
			return err
		}
	}
	return s.state(e)
}

// catchUp sends the lines kept of each step of e that were not sent yet,
// one step at a time (a step's kept log is bounded).
func (s *stream) catchUp(ctx context.Context, e execution.Execution) error {
	for _, step := range booking.Steps(e) {
		l, err := s.h.svc.StepLog(ctx, e, step)
		if err != nil {
			return err
		}
		for _, line := range l.Lines {
			if err := s.log(line, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// log sends line unless a line of its step with this seq or a later one
// was sent; raw is its JSON when the caller has it.
func (s *stream) log(line execution.LogLine, raw []byte) error {
	if line.Seq > 0 && line.Seq <= s.sent[line.Step] {
		return nil
	}
	if raw == nil {
		var err error
		if raw, err = json.Marshal(line); err != nil {
			return err
		}
	}
	if err := s.send("log", raw); err != nil {
		return err
	}
	if line.Seq > 0 {
		s.sent[line.Step] = line.Seq
	}
	return nil
}

// state sends e's state as stored; errOver when it is terminal.
func (s *stream) state(e execution.Execution) error {
	if s.repeat("", e.State) {
		if e.State.Terminal() {
			return errOver
		}
		return nil
	}
	data, err := json.Marshal(execution.StateChange{ExecutionID: e.ID, WorkflowID: e.WorkflowID, To: e.State, Reason: e.Reason, At: e.UpdatedAt})
	if err != nil {
		return err
	}
	if err := s.send("state", data); err != nil {
		return err
	}
	if e.State.Terminal() {
		return errOver
	}
	return nil
}

// send writes one event; data is one line of JSON.
func (s *stream) send(name string, data []byte) error {
	var line bytes.Buffer
	if json.Compact(&line, data) != nil {
		return nil
	}
	return s.write(fmt.Appendf(nil, "event: %s\ndata: %s\n\n", name, line.Bytes()))
}

// write writes b and flushes it within the write timeout.
func (s *stream) write(b []byte) error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(s.h.streams.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}
