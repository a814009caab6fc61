// Package executions is the persistence the scheduler family shares:
// oc-scheduler books executions, oc-schedulerd claims them and oc-monitord
// writes how they ran, all through this package, so that every state change
// goes through Transition — one conditional update that two callers can
// never both win — and is announced on NATS (see PublishPending: a change
// is published at least once, even when NATS was down when it was made).
// A worker writes under its lease (Hold), which fences it: once another
// worker was given the execution, the first one's writes are refused.
//
// Allowed transitions:
//
//	scheduled → starting | cancelled | missed
//	starting  → running | failed | cancelled | scheduled (a launcher giving an execution back)
//	running   → succeeded | failed | cancelled
//
// Terminal states (succeeded, failed, cancelled, missed) release the
// execution's bookings; SweepBookings releases those a crash left behind.
package executions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	ds "github.com/opencloud/opencloud/libs/store"
	wf "github.com/opencloud/opencloud/libs/workflow"
)

// Sentinel errors.
var (
	// ErrNotFound: no execution with this id.
	ErrNotFound = errors.New("executions: not found")
	// ErrStateChanged: the execution is no longer in one of the states the
	// caller expected (another caller moved it first).
	ErrStateChanged = errors.New("executions: the execution's state changed")
	// ErrTransitionNotAllowed: the life cycle has no such transition.
	ErrTransitionNotAllowed = errors.New("executions: transition not allowed")
	// ErrLeaseHeld: another worker's lease on the execution has not run out.
	ErrLeaseHeld = errors.New("executions: another worker holds the execution")
	// ErrLeaseLost: the worker no longer holds the execution (another took
	// it over after its lease ran out, or it ended).
	ErrLeaseLost = errors.New("executions: the worker's lease on the execution was lost")
)

// allowed lists the transitions of the life cycle.
var allowed = map[execution.State][]execution.State{
	execution.Scheduled: {execution.Starting, execution.Cancelled, execution.Missed},
	execution.Starting:  {execution.Running, execution.Failed, execution.Cancelled, execution.Scheduled},
	execution.Running:   {execution.Succeeded, execution.Failed, execution.Cancelled},
}

// Allowed reports whether an execution may go from one state to the other.
func Allowed(from, to execution.State) bool { return slices.Contains(allowed[from], to) }

// Spec declares the executions collection.
var Spec = ds.Spec{
	Name: "scheduler_executions",
	Fields: []ds.Field{
		{Name: "id", Type: ds.String},
		{Name: "version", Type: ds.Int},
		{Name: "workflow_id", Type: ds.String},
		{Name: "request_id", Type: ds.String},
		{Name: "owner", Type: ds.String},
		{Name: "state", Type: ds.String},
		{Name: "start", Type: ds.Time},
		{Name: "end", Type: ds.Time},
		{Name: "created_at", Type: ds.Time},
		{Name: "worker", Type: ds.String},
		{Name: "worker_until", Type: ds.Time},
		{Name: "lease_epoch", Type: ds.Int},
		{Name: "holds_bookings", Type: ds.Bool},
		{Name: "unpublished", Type: ds.Bool},
		{Name: "event_seq", Type: ds.Int},
	},
	Indexes: []ds.Index{{Fields: []string{"owner", "start"}}, {Fields: []string{"state", "start"}}, {Fields: []string{"state", "worker_until"}},
		{Fields: []string{"holds_bookings", "state"}}},
}

// BookingSpec declares the bookings collection: a booking's resource is
// stored as "peer/id" so that availability is one indexed query.
var BookingSpec = ds.Spec{
	Name: "scheduler_bookings",
	Fields: []ds.Field{
		{Name: "id", Type: ds.String},
		{Name: "resource", Type: ds.String},
		{Name: "start", Type: ds.Time},
		{Name: "end", Type: ds.Time},
		{Name: "execution_id", Type: ds.String},
		{Name: "request_id", Type: ds.String},
	},
	Indexes: []ds.Index{{Fields: []string{"resource", "start"}}, {Fields: []string{"resource", "end"}}},
}

// bookingDoc is a stored booking: the wire booking with its resource as
// "peer/id" and the booking request it came from.
type bookingDoc struct {
	ID          string           `json:"id"`
	ExecutionID string           `json:"execution_id"`
	WorkflowID  string           `json:"workflow_id"`
	RequestID   string           `json:"request_id"`
	Resource    string           `json:"resource"`
	Ref         resource.Ref     `json:"ref"`
	Kind        resource.Kind    `json:"kind"`
	Start       time.Time        `json:"start"`
	End         time.Time        `json:"end"`
	Demand      execution.Demand `json:"demand"`
}

// doc is an execution as stored: the wire execution, and what only this
// package reads.
type doc struct {
	execution.Execution
	// LeaseEpoch is the fencing token of the worker's lease: one more on
	// every Claim and Acquire, so that the writes of a worker, conditional
	// on it, are refused once the execution was given to another.
	LeaseEpoch int64 `json:"lease_epoch,omitempty"`
	// HoldsBookings is set from the execution's insertion until a terminal
	// state released its bookings.
	HoldsBookings bool `json:"holds_bookings,omitempty"`
	// EventSeq numbers the execution's state changes (its creation is 1);
	// Outbox holds those not published yet, oldest first, and Unpublished
	// says it is not empty.
	EventSeq    int64         `json:"event_seq,omitempty"`
	Outbox      []outboxEntry `json:"outbox,omitempty"`
	Unpublished bool          `json:"unpublished,omitempty"`
}

// Store keeps executions, their bookings and the journal of the booking
// requests that made them.
type Store struct {
	execs    ds.Collection
	bookings ds.Collection
	requests ds.Collection
	logs     ds.Collection
	events   *broker.Publisher
	now      func() time.Time
	reqs     requestStates
}

// Option tunes a Store.
type Option func(*Store)

// WithEvents publishes every state change on NATS through p.
func WithEvents(p *broker.Publisher) Option { return func(s *Store) { s.events = p } }

// WithClock sets the clock stamping updated_at (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Open opens (creating if needed) the executions, bookings, booking
// requests and step logs collections.
func Open(ctx context.Context, st ds.Store, opts ...Option) (*Store, error) {
	execs, err := st.Collection(ctx, Spec)
	if err != nil {
		return nil, fmt.Errorf("open collection %s: %w", Spec.Name, err)
	}
	bookings, err := st.Collection(ctx, BookingSpec)
	if err != nil {
		return nil, fmt.Errorf("open collection %s: %w", BookingSpec.Name, err)
	}
	requests, err := st.Collection(ctx, RequestSpec)
	if err != nil {
		return nil, fmt.Errorf("open collection %s: %w", RequestSpec.Name, err)
	}
	logs, err := st.Collection(ctx, LogSpec)
	if err != nil {
		return nil, fmt.Errorf("open collection %s: %w", LogSpec.Name, err)
	}
	s := &Store{execs: execs, bookings: bookings, requests: requests, logs: logs, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Stamp is a time as the store keeps it: UTC, to the millisecond.
func Stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// Get returns one execution.
func (s *Store) Get(ctx context.Context, id string) (execution.Execution, error) {
	d, err := s.get(ctx, id)
	return d.Execution, err
}

func (s *Store) get(ctx context.Context, id string) (doc, error) {
	var d doc
	v, err := s.execs.Get(ctx, id, &d)
	if errors.Is(err, ds.ErrNotFound) {
		return d, fmt.Errorf("execution %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("get execution %s: %w", id, err)
	}
	d.Execution = normalise(d.Execution, id, v)
	return d, nil
}

// SortField is a key executions may be listed by.
type SortField string

// Sort keys.
const (
	SortStart     SortField = "start"
	SortCreatedAt SortField = "created_at"
	// SortWorkerUntil orders by the end of the worker's lease.
	SortWorkerUntil SortField = "worker_until"
)

// Sort is one key of a list's order.
type Sort struct {
	Field SortField
	Desc  bool
}

// Query selects executions; zero values do not filter.
type Query struct {
	IDs        []string
	Owner      string
	WorkflowID string
	RequestID  string
	States     []execution.State
	// From and To keep the executions whose window overlaps [From, To).
	From, To time.Time
	// EndedBy keeps the executions whose window ended at or before it.
	EndedBy time.Time
	// StartBy keeps the executions whose window starts at or before it.
	StartBy time.Time
	// LeaseEndedBy keeps the executions whose worker's lease ran out
	// before it.
	LeaseEndedBy time.Time
	// After keeps the executions whose id sorts after it (paging by id).
	After  string
	Sort   []Sort
	Limit  int
	Offset int
}

// Find returns a page of executions and how many match.
func (s *Store) Find(ctx context.Context, q Query) ([]execution.Execution, int64, error) {
	var all []ds.Filter
	if q.IDs != nil {
		if len(q.IDs) == 0 {
			return []execution.Execution{}, 0, nil
		}
		all = append(all, ds.In("id", anys(q.IDs)...))
	}
	if q.Owner != "" {
		all = append(all, ds.Eq("owner", q.Owner))
	}
	if q.WorkflowID != "" {
		all = append(all, ds.Eq("workflow_id", q.WorkflowID))
	}
	if q.RequestID != "" {
		all = append(all, ds.Eq("request_id", q.RequestID))
	}
	if len(q.States) > 0 {
		states := make([]string, len(q.States))
		for i, st := range q.States {
			states[i] = string(st)
		}
		all = append(all, ds.In("state", anys(states)...))
	}
	if !q.From.IsZero() {
		all = append(all, ds.Gt("end", q.From))
	}
	if !q.To.IsZero() {
		all = append(all, ds.Lt("start", q.To))
	}
	if !q.EndedBy.IsZero() {
		all = append(all, ds.Lte("end", q.EndedBy))
	}
	if !q.StartBy.IsZero() {
		all = append(all, ds.Lte("start", q.StartBy))
	}
	if !q.LeaseEndedBy.IsZero() {
		all = append(all, ds.Lt("worker_until", q.LeaseEndedBy))
	}
	if q.After != "" {
		all = append(all, ds.Gt("id", q.After))
	}
	var f ds.Filter
	if len(all) > 0 {
		f = ds.And(all...)
	}
	sorts := make([]ds.Sort, len(q.Sort))
	for i, so := range q.Sort {
		sorts[i] = ds.Sort{Field: string(so.Field), Desc: so.Desc}
	}
	recs, total, err := s.execs.Find(ctx, ds.Query{Filter: f, Sort: sorts, Limit: q.Limit, Offset: q.Offset})
	if err != nil {
		return nil, 0, fmt.Errorf("find executions: %w", err)
	}
	out := make([]execution.Execution, 0, len(recs))
	for _, rec := range recs {
		var e execution.Execution
		if err := rec.Decode(&e); err != nil {
			return nil, 0, fmt.Errorf("decode execution %s: %w", rec.ID, err)
		}
		out = append(out, normalise(e, rec.ID, rec.Version))
	}
	return out, total, nil
}

// MissedReason is why an execution went from scheduled to missed.
const MissedReason = "its booked window ended before it could start: no oc-schedulerd claimed it in time"

// MarkMissed moves every execution still scheduled when its window has
// ended (at now) to missed, which releases its bookings, and returns how
// many it moved. One lost to another writer (claimed or cancelled meanwhile)
// is left as that writer made it, and one whose booking request has not
// committed is left to the request.
func (s *Store) MarkMissed(ctx context.Context, now time.Time) (int, error) {
	moved, skipped := 0, 0
	for {
		all, _, err := s.Find(ctx, Query{States: []execution.State{execution.Scheduled}, EndedBy: now,
			Sort: []Sort{{Field: "end"}}, Limit: 200, Offset: skipped})
		if err != nil {
			return moved, err
		}
		n := len(all)
		page, err := s.onlyCommitted(ctx, all)
		if err != nil {
			return moved, err
		}
		skipped += n - len(page)
		progressed := false
		for _, e := range page {
			_, err := s.Transition(ctx, e.ID, []execution.State{execution.Scheduled}, execution.Missed, func(x *execution.Execution) {
				x.Reason = MissedReason
			})
			switch {
			case err == nil:
				moved++
				progressed = true
			case errors.Is(err, ErrStateChanged) || errors.Is(err, ErrNotFound):
				progressed = true
			default:
				return moved, err
			}
		}
		if n < 200 || !progressed && len(page) > 0 {
			return moved, nil
		}
	}
}

// Count returns how many executions are stored.
func (s *Store) Count(ctx context.Context) (int64, error) { return s.execs.Count(ctx, nil) }

// Insert stores a new execution that no booking request journals (its
// state is the one given, normally scheduled) and announces it as a change
// from "" to that state.
func (s *Store) Insert(ctx context.Context, e execution.Execution) (execution.Execution, error) {
	env, err := s.envelope(ctx, execution.StateChange{ExecutionID: e.ID, WorkflowID: e.WorkflowID, To: e.State, Reason: e.Reason, At: e.CreatedAt}, e.Owner)
	if err != nil {
		return e, err
	}
	d := doc{Execution: e, HoldsBookings: true, EventSeq: 1, Outbox: []outboxEntry{{Seq: 1, Event: env}}, Unpublished: true}
	v, err := s.execs.Insert(ctx, e.ID, d)
	if err != nil {
		return e, fmt.Errorf("insert execution %s: %w", e.ID, err)
	}
	e.Version = v
	if v := s.flush(ctx, d); v > 0 {
		e.Version = v
	}
	return e, nil
}

// Stage stores a new scheduled execution of booking request
// e.RequestID, which must be pending in the journal (BeginRequest): the
// execution is neither claimable nor announced before the request
// commits (FinishRequest, then AnnounceRequest or PublishPending).
func (s *Store) Stage(ctx context.Context, e execution.Execution) (execution.Execution, error) {
	if e.RequestID == "" {
		return e, errors.New("executions: an execution staged without its booking request")
	}
	v, err := s.execs.Insert(ctx, e.ID, doc{Execution: e, HoldsBookings: true, EventSeq: 1})
	if err != nil {
		return e, fmt.Errorf("insert execution %s: %w", e.ID, err)
	}
	e.Version = v
	return e, nil
}

// Transition moves execution id from one of the states from to the state
// to, applying mutate (which may be nil) to the execution first. It is an
// atomic claim: of concurrent callers expecting the same state, one wins and
// the others get ErrStateChanged, as does a caller whose execution is no
// longer in one of from. A transition the life cycle does not have is
// ErrTransitionNotAllowed. The change is written with its event, published
// after the write; a move to a terminal state releases the execution's
// bookings. A worker holding the execution writes through its Lease
// instead, which fences it.
func (s *Store) Transition(ctx context.Context, id string, from []execution.State, to execution.State, mutate func(*execution.Execution)) (execution.Execution, error) {
	return s.transition(ctx, id, from, to, mutate, nil)
}

func (s *Store) transition(ctx context.Context, id string, from []execution.State, to execution.State, mutate func(*execution.Execution), l *Lease) (execution.Execution, error) {
	if len(from) == 0 {
		return execution.Execution{}, fmt.Errorf("%w: no state to move from", ErrTransitionNotAllowed)
	}
	for _, f := range from {
		if !Allowed(f, to) {
			return execution.Execution{}, fmt.Errorf("%w: %s → %s", ErrTransitionNotAllowed, f, to)
		}
	}
	for {
		d, err := s.get(ctx, id)
		if err != nil {
			return d.Execution, err
		}
		now := Stamp(s.now())
		if err := l.holds(d, now); err != nil {
			return d.Execution, err
		}
		e := d.Execution
		if !slices.Contains(from, e.State) {
			return e, fmt.Errorf("execution %s is %s, not %v: %w", id, e.State, from, ErrStateChanged)
		}
		prev, read := e.State, e.Version
		if mutate != nil {
			mutate(&e)
		}
		e.ID, e.State, e.UpdatedAt = id, to, now
		if to.Terminal() && e.FinishedAt == nil {
			e.FinishedAt = &now
		}
		e.Steps, _ = execution.SettleSteps(e.Steps, to, now) // no step of an ended execution reads scheduled
		set, err := fields(e)
		if err != nil {
			return e, err
		}
		seq := max(d.EventSeq, 1) + 1
		env, err := s.envelope(ctx, execution.StateChange{ExecutionID: id, WorkflowID: e.WorkflowID, From: prev, To: to, Reason: e.Reason, At: now}, e.Owner)
		if err != nil {
			return e, err
		}
		outbox := append(slices.Clip(d.Outbox), outboxEntry{Seq: seq, Event: env})
		set["event_seq"], set["outbox"], set["unpublished"] = seq, outbox, true
		if to == execution.Scheduled || to == execution.Starting {
			// Claimed, or given back: no worker may write under a lease it had before.
			set["lease_epoch"] = d.LeaseEpoch + 1
		}
		// The version makes the claim exact: a write in between (a cancel
		// request, another claim, a take-over of the lease) fails the
		// condition and the execution is read again.
		v, err := s.execs.UpdateIf(ctx, id, ds.And(ds.Eq("version", read), ds.Eq("state", string(prev))), set)
		if errors.Is(err, ds.ErrConditionFailed) {
			continue
		}
		if errors.Is(err, ds.ErrNotFound) {
			return e, fmt.Errorf("execution %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return e, fmt.Errorf("update execution %s: %w", id, err)
		}
		e.Version = v
		if to.Terminal() {
			// A failure here leaves the bookings to SweepBookings: the
			// execution has ended all the same.
			if v, err := s.release(ctx, id); err == nil && v > 0 {
				e.Version = v
			}
		}
		d.Execution, d.EventSeq, d.Outbox = e, seq, outbox
		if v := s.flush(ctx, d); v > 0 {
			e.Version = v
		}
		return e, nil
	}
}

// Update changes fields of execution id without changing its state:
// mutate is applied to the execution as stored, which must be in one of
// the states from, and written only if nothing else wrote in between (a
// cancel request, a transition); otherwise it is read again and mutate
// applied again, so mutate must be safe to call more than once. The state,
// id and version mutate may set are ignored. ErrStateChanged when the
// execution is no longer in one of from. Nothing is published: the caller
// announces what its change means (a step's progress, say). A worker
// holding the execution writes through its Lease instead.
func (s *Store) Update(ctx context.Context, id string, from []execution.State, mutate func(*execution.Execution)) (execution.Execution, error) {
	return s.update(ctx, id, from, mutate, nil)
}

func (s *Store) update(ctx context.Context, id string, from []execution.State, mutate func(*execution.Execution), l *Lease) (execution.Execution, error) {
	if len(from) == 0 {
		return execution.Execution{}, fmt.Errorf("%w: no state to update in", ErrTransitionNotAllowed)
	}
	for {
		d, err := s.get(ctx, id)
		if err != nil {
			return d.Execution, err
		}
		now := Stamp(s.now())
		if err := l.holds(d, now); err != nil {
			return d.Execution, err
		}
		e := d.Execution
		if !slices.Contains(from, e.State) {
			return e, fmt.Errorf("execution %s is %s, not %v: %w", id, e.State, from, ErrStateChanged)
		}
		state, read := e.State, e.Version
		if mutate != nil {
			mutate(&e)
		}
		e.ID, e.State, e.UpdatedAt = id, state, now
		set, err := fields(e)
		if err != nil {
			return e, err
		}
		v, err := s.execs.UpdateIf(ctx, id, ds.And(ds.Eq("version", read), ds.Eq("state", string(state))), set)
		if errors.Is(err, ds.ErrConditionFailed) {
			continue
		}
		if errors.Is(err, ds.ErrNotFound) {
			return e, fmt.Errorf("execution %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return e, fmt.Errorf("update execution %s: %w", id, err)
		}
		e.Version = v
		return e, nil
	}
}

// RequestCancel marks an execution that is starting or running to be
// stopped by the worker following it; ErrStateChanged when it is in
// neither state.
func (s *Store) RequestCancel(ctx context.Context, id string) (execution.Execution, error) {
	_, err := s.execs.UpdateIf(ctx, id, ds.In("state", string(execution.Starting), string(execution.Running)),
		map[string]any{"cancel_requested": true, "updated_at": Stamp(s.now())})
	switch {
	case errors.Is(err, ds.ErrNotFound):
		return execution.Execution{}, fmt.Errorf("execution %s: %w", id, ErrNotFound)
	case errors.Is(err, ds.ErrConditionFailed):
		e, gerr := s.Get(ctx, id)
		if gerr != nil {
			return e, gerr
		}
		return e, fmt.Errorf("execution %s is %s: %w", id, e.State, ErrStateChanged)
	case err != nil:
		return execution.Execution{}, fmt.Errorf("request cancel of execution %s: %w", id, err)
	}
	return s.Get(ctx, id)
}

func (s *Store) deleteRecords(ctx context.Context, c ds.Collection, recs []ds.Record) error {
	for _, r := range recs {
		if err := c.Delete(ctx, r.ID, 0); err != nil && !errors.Is(err, ds.ErrNotFound) {
			return fmt.Errorf("delete %s: %w", r.ID, err)
		}
	}
	return nil
}

// Booked is a booking with the request that made it.
type Booked struct {
	execution.Booking
	RequestID string
}

// InsertBooking stores one booking.
func (s *Store) InsertBooking(ctx context.Context, b Booked) error {
	d := bookingDoc{ID: b.ID, ExecutionID: b.ExecutionID, WorkflowID: b.WorkflowID, RequestID: b.RequestID,
		Resource: b.Resource.String(), Ref: b.Resource, Kind: b.Kind, Start: b.Start, End: b.End, Demand: b.Demand}
	if _, err := s.bookings.Insert(ctx, b.ID, d); err != nil {
		return fmt.Errorf("insert booking %s: %w", b.ID, err)
	}
	return nil
}

// BookingQuery selects bookings: those on the resources given whose window
// overlaps [From, To) (zero: unbounded).
type BookingQuery struct {
	Resources []resource.Ref
	From, To  time.Time
	Limit     int
	Offset    int
}

// FindBookings returns bookings in start order and how many match.
func (s *Store) FindBookings(ctx context.Context, q BookingQuery) ([]execution.Booking, int64, error) {
	if len(q.Resources) == 0 {
		return []execution.Booking{}, 0, nil
	}
	refs := make([]string, len(q.Resources))
	for i, r := range q.Resources {
		refs[i] = r.String()
	}
	all := []ds.Filter{ds.In("resource", anys(refs)...)}
	if !q.From.IsZero() {
		all = append(all, ds.Gt("end", q.From))
	}
	if !q.To.IsZero() {
		all = append(all, ds.Lt("start", q.To))
	}
	recs, total, err := s.bookings.Find(ctx, ds.Query{Filter: ds.And(all...), Sort: []ds.Sort{{Field: "start"}},
		Limit: q.Limit, Offset: q.Offset})
	if err != nil {
		return nil, 0, fmt.Errorf("find bookings: %w", err)
	}
	out := make([]execution.Booking, 0, len(recs))
	for _, rec := range recs {
		var d bookingDoc
		if err := rec.Decode(&d); err != nil {
			return nil, 0, fmt.Errorf("decode booking %s: %w", rec.ID, err)
		}
		out = append(out, execution.Booking{ID: rec.ID, ExecutionID: d.ExecutionID, WorkflowID: d.WorkflowID,
			Resource: d.Ref, Kind: d.Kind, Start: d.Start, End: d.End, Demand: d.Demand})
	}
	return out, total, nil
}

// CountBookings returns how many bookings are stored.
func (s *Store) CountBookings(ctx context.Context) (int64, error) { return s.bookings.Count(ctx, nil) }

// DeleteBookings releases every booking of an execution.
func (s *Store) DeleteBookings(ctx context.Context, executionID string) error {
	recs, _, err := s.bookings.Find(ctx, ds.Query{Filter: ds.Eq("execution_id", executionID)})
	if err != nil {
		return fmt.Errorf("find bookings of execution %s: %w", executionID, err)
	}
	return s.deleteRecords(ctx, s.bookings, recs)
}

// fields are the top-level fields of e, for UpdateIf.
func fields(e execution.Execution) (map[string]any, error) {
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode execution %s: %w", e.ID, err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("encode execution %s: %w", e.ID, err)
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != "id" && k != "version" {
			out[k] = v
		}
	}
	// Fields left empty are omitted by encoding/json; they must be cleared.
	for _, k := range []string{"reason", "failed_step", "cancel_requested", "namespace", "started_at", "finished_at", "worker", "worker_until", "attempts"} {
		if _, ok := out[k]; !ok {
			out[k] = nil
		}
	}
	return out, nil
}

func normalise(e execution.Execution, id string, version int64) execution.Execution {
	e.ID, e.Version = id, version
	if e.Graph.Nodes == nil {
		e.Graph.Nodes = []wf.Node{}
	}
	if e.Graph.Links == nil {
		e.Graph.Links = []wf.Link{}
	}
	if e.Resources == nil {
		e.Resources = []resource.Resource{}
	}
	if e.Steps == nil {
		e.Steps = []execution.Step{}
	}
	return e
}

func anys[T any](in []T) []any {
	out := make([]any, len(in))
	for i, v := range in {
		out[i] = v
	}
	return out
}
