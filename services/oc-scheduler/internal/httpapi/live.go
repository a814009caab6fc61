package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/execution"
)

// live godoc
//
//	@Summary		Follow an execution live
//	@Description	Server-Sent Events. First an event "state" with the execution's current state (so that a client never misses where it is), then an event "state" (data: a StateChange) for every change of the execution or of one of its steps, and an event "log" (data: a LogLine) for every line a step writes. The stream ends after the execution reaches a terminal state; comment lines keep it alive every 15 s. Owner or admin only (404 otherwise).
//	@Tags			executions
//	@Produce		text/event-stream
//	@Security		BearerAuth
//	@Param			id	path		string	true	"Execution id (UUID)"
//	@Success		200	{object}	execution.Live	"A stream of events: 'event: state' or 'event: log', then 'data:' and the JSON"
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		404	{object}	apierror.Envelope
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
	msgs := make(chan *nats.Msg, 1024)
	var subs []*nats.Subscription
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}()
	for _, subject := range []string{event.ExecutionState, event.ExecutionLog(id)} {
		s, err := h.nc.ChanSubscribe(subject, msgs)
		if err != nil {
			fail(c, fmt.Errorf("%w: subscribe %s: %w", errNoBroker, subject, err))
			return
		}
		subs = append(subs, s)
	}
	// Once the server has the subscriptions, nothing published after the
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
	first, _ := json.Marshal(execution.StateChange{ExecutionID: e.ID, WorkflowID: e.WorkflowID, To: e.State, Reason: e.Reason, At: e.UpdatedAt})
	if send(w, "state", first) != nil || e.State.Terminal() {
		return
	}
	beat := time.NewTicker(h.heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return
			}
			w.Flush()
		case m := <-msgs:
			var env event.Envelope
			if json.Unmarshal(m.Data, &env) != nil {
				continue
			}
			if m.Subject != event.ExecutionState {
				if send(w, "log", env.Data) != nil {
					return
				}
				continue
			}
			if env.Subject != id {
				continue
			}
			var ch execution.StateChange
			if json.Unmarshal(env.Data, &ch) != nil {
				continue
			}
			if send(w, "state", env.Data) != nil || ch.Step == "" && ch.To.Terminal() {
				return
			}
		}
	}
}

// send writes one event; data is one line of JSON.
func send(w gin.ResponseWriter, name string, data []byte) error {
	var line bytes.Buffer
	if json.Compact(&line, data) != nil {
		return nil
	}
	if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, line.Bytes()); err != nil {
		return err
	}
	w.Flush()
	return nil
}
