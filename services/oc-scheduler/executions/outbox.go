package executions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/execution"
	ds "github.com/opencloud/opencloud/libs/store"
)

// Events. Every state change is written in the execution's outbox by the
// same conditional update that makes the change, so that no change is
// stored without its event. The writer then publishes the outbox through
// JetStream and empties it of what the stream acknowledged; what it could
// not publish (NATS down, the writer gone) stays there for PublishPending,
// which oc-scheduler runs in the background. Each change is thus delivered
// at least once, and one execution's changes in order: a change is
// published only once those before it were stored, under a message id
// (execution id and sequence number) that the stream deduplicates.
//
// The creation of the executions of a booking request is not in their
// outboxes, which would cost a write per execution: the request's journal
// entry says whether it was announced (AnnouncePending), and the later
// changes of its executions wait until it was.

// outboxEntry is one change waiting to be published.
type outboxEntry struct {
	Seq   int64          `json:"seq"`
	Event event.Envelope `json:"event"`
}

// PublishTimeout bounds the publication a writer attempts right after its
// change; what is not acknowledged by then is left to PublishPending.
const PublishTimeout = 5 * time.Second

// publishPage is how many executions one step of PublishPending reads, and
// publishPages how many steps one call takes at most.
const (
	publishPage  = 200
	publishPages = 25
)

func msgID(id string, seq int64) string { return fmt.Sprintf("%s.%d", id, seq) }

// envelope is the event of change ch made by actor.
func (s *Store) envelope(ctx context.Context, ch execution.StateChange, actor string) (event.Envelope, error) {
	subject := event.ExecutionState(ch.ExecutionID)
	if s.events != nil {
		return s.events.Envelope(ctx, subject, ch.ExecutionID, actor, ch)
	}
	env, err := event.New(subject, "scheduler", ch.ExecutionID, actor, ch)
	if err != nil {
		return env, fmt.Errorf("encode the event of execution %s: %w", ch.ExecutionID, err)
	}
	env.RequestID = broker.RequestIDFrom(ctx)
	return env, nil
}

// canPublish reports whether this store publishes and NATS is reachable.
func (s *Store) canPublish() bool { return s.events != nil && s.events.Connected() }

// flush publishes the outbox of d, as its writer just wrote it, when it
// can: the writer's attempt right after its change. A failure leaves the
// outbox to PublishPending. It returns the execution's version after
// emptying its outbox (0: it did not).
func (s *Store) flush(ctx context.Context, d doc) int64 {
	if !s.canPublish() {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), PublishTimeout)
	defer cancel()
	v, _, _ := s.publish(ctx, []doc{d})
	return v
}

// PublishPending publishes what was not: the creation of the executions of
// committed booking requests, then every execution's outbox. It returns
// how many events it published; it does nothing while NATS is down.
func (s *Store) PublishPending(ctx context.Context) (int, error) {
	if !s.canPublish() {
		return 0, nil
	}
	n, err := s.announcePending(ctx)
	if err != nil {
		return n, err
	}
	after := ""
	for range publishPages {
		recs, _, err := s.execs.Find(ctx, ds.Query{Filter: ds.And(ds.Eq("unpublished", true), ds.Gt("id", after)),
			Sort: []ds.Sort{{Field: "id"}}, Limit: publishPage})
		if err != nil {
			return n, fmt.Errorf("find unpublished executions: %w", err)
		}
		docs := make([]doc, 0, len(recs))
		for _, rec := range recs {
			after = rec.ID
			var d doc
			if err := rec.Decode(&d); err != nil {
				return n, fmt.Errorf("decode execution %s: %w", rec.ID, err)
			}
			d.ID, d.Version = rec.ID, rec.Version
			docs = append(docs, d)
		}
		_, sent, err := s.publish(ctx, docs)
		n += sent
		if err != nil || len(recs) < publishPage {
			return n, err
		}
	}
	return n, nil
}

// publish sends the outboxes of docs, one change of each execution at a
// time so that its changes are stored in order, and empties them of what
// was stored. It stops at NATS's first failure, returning it, and returns
// how many it sent and the version of the last execution it updated.
func (s *Store) publish(ctx context.Context, docs []doc) (int64, int, error) {
	var ready []doc
	for _, d := range docs {
		ok, err := s.announced(ctx, d.RequestID)
		if err != nil {
			return 0, 0, err
		}
		if ok {
			ready = append(ready, d)
		}
	}
	sent := make([]int, len(ready))
	stopped := make([]bool, len(ready))
	total := 0
	var failure error
	for round := 0; failure == nil; round++ {
		var msgs []broker.Acked
		var who []int
		for i, d := range ready {
			if !stopped[i] && round < len(d.Outbox) {
				en := d.Outbox[round]
				msgs = append(msgs, broker.Acked{MsgID: msgID(d.ID, en.Seq), Envelope: en.Event})
				who = append(who, i)
			}
		}
		if len(msgs) == 0 {
			break
		}
		for k, err := range s.events.PublishAcked(ctx, msgs) {
			i := who[k]
			if err != nil {
				stopped[i] = true
				failure = err
				continue
			}
			sent[i]++
			total++
		}
	}
	var version int64
	for i, d := range ready {
		if sent[i] == 0 && len(d.Outbox) > 0 {
			continue
		}
		upTo := int64(0)
		if sent[i] > 0 {
			upTo = d.Outbox[sent[i]-1].Seq
		}
		v, err := s.unqueue(ctx, d, upTo)
		if err != nil && failure == nil {
			failure = err
		}
		version = v
	}
	return version, total, failure
}

// unqueue removes from d's outbox the changes up to seq upTo, published,
// and returns the execution's version after (0: it is gone).
func (s *Store) unqueue(ctx context.Context, d doc, upTo int64) (int64, error) {
	for range 10 {
		var left []outboxEntry
		for _, en := range d.Outbox {
			if en.Seq > upTo {
				left = append(left, en)
			}
		}
		set := map[string]any{"outbox": left, "unpublished": len(left) > 0}
		v, err := s.execs.UpdateIf(ctx, d.ID, ds.Eq("event_seq", d.EventSeq), set)
		switch {
		case err == nil || errors.Is(err, ds.ErrNotFound):
			return v, nil
		case !errors.Is(err, ds.ErrConditionFailed):
			return 0, fmt.Errorf("update the outbox of execution %s: %w", d.ID, err)
		}
		// A change was queued meanwhile: keep it.
		if d, err = s.get(ctx, d.ID); errors.Is(err, ErrNotFound) {
			return 0, nil
		} else if err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("update the outbox of execution %s: %w", d.ID, ErrStateChanged)
}

// AnnounceRequest publishes the creation of the executions of committed
// request id (execs, as Book wrote them) and records that it did. A
// failure is left to PublishPending.
func (s *Store) AnnounceRequest(ctx context.Context, id string, execs []execution.Execution) error {
	if !s.canPublish() {
		return broker.ErrNotConnected
	}
	if err := s.announceCreation(ctx, execs); err != nil {
		return err
	}
	return s.announcedRequest(ctx, id)
}

// announcePending announces the committed requests whose announcement did
// not go through, reading their executions from the store.
func (s *Store) announcePending(ctx context.Context) (int, error) {
	recs, _, err := s.requests.Find(ctx, ds.Query{Filter: ds.And(ds.Eq("status", Done), ds.Eq("announce_pending", true)),
		Sort: []ds.Sort{{Field: "at"}}, Limit: 20})
	if err != nil {
		return 0, fmt.Errorf("find requests to announce: %w", err)
	}
	n := 0
	for _, rec := range recs {
		after := ""
		for {
			page, _, err := s.Find(ctx, Query{RequestID: rec.ID, After: after, Sort: []Sort{{Field: "id"}}, Limit: 500})
			if err != nil {
				return n, err
			}
			if err := s.announceCreation(ctx, page); err != nil {
				return n, err
			}
			n += len(page)
			if len(page) < 500 {
				break
			}
			after = page[len(page)-1].ID
		}
		if err := s.announcedRequest(ctx, rec.ID); err != nil {
			return n, err
		}
	}
	return n, nil
}

// announceCreation publishes the creation of execs.
func (s *Store) announceCreation(ctx context.Context, execs []execution.Execution) error {
	for start := 0; start < len(execs); start += 1000 {
		chunk := execs[start:min(start+1000, len(execs))]
		msgs := make([]broker.Acked, 0, len(chunk))
		for _, e := range chunk {
			env, err := s.envelope(ctx, execution.StateChange{ExecutionID: e.ID, WorkflowID: e.WorkflowID, To: execution.Scheduled, At: e.CreatedAt}, e.Owner)
			if err != nil {
				return err
			}
			msgs = append(msgs, broker.Acked{MsgID: msgID(e.ID, 1), Envelope: env})
		}
		for _, err := range s.events.PublishAcked(ctx, msgs) {
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Store) announcedRequest(ctx context.Context, id string) error {
	_, err := s.requests.UpdateIf(ctx, id, ds.Eq("status", Done), map[string]any{"announce_pending": false})
	if err != nil && !errors.Is(err, ds.ErrNotFound) && !errors.Is(err, ds.ErrConditionFailed) {
		return fmt.Errorf("mark request %s announced: %w", id, err)
	}
	s.reqs.set(&s.reqs.announced, id)
	return nil
}
