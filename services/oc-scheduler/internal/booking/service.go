package booking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"

	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
)

// Workflows reads workflows from oc-workflow as the caller.
type Workflows interface {
	// Get returns ErrWorkflowNotFound when the caller may not read it.
	Get(ctx context.Context, p authn.Principal, id string) (wf.Workflow, error)
}

// Catalog looks resources up in this peer's catalog as the caller.
type Catalog interface {
	Lookup(ctx context.Context, p authn.Principal, ids []string) (resource.LookupResult, error)
}

// Lock serialises bookings across every process sharing the store.
type Lock interface {
	// Acquire returns ErrBusy when it could not be taken in time.
	Acquire(ctx context.Context) (Lease, error)
}

// Lease is a held Lock.
type Lease interface {
	// Renew returns an error when the lock was lost.
	Renew(ctx context.Context) error
	Release(ctx context.Context)
}

// Journal records booking requests so that a crash half-way is undone:
// the executions of a request are claimable once it is finished
// (committed), and removed if it is undone.
type Journal interface {
	Begin(ctx context.Context, id, workflowID, owner string) error
	Finish(ctx context.Context, id string) error
	// Undo returns executions.ErrCommitted, undoing nothing, when the
	// request was finished after all.
	Undo(ctx context.Context, id string) error
}

// Config is what the Service is built from.
type Config struct {
	Workflows       Workflows
	Catalog         Catalog
	Executions      *executions.Store
	Lock            Lock
	Journal         Journal
	PeerID          string
	DefaultDuration time.Duration
	Now             func() time.Time
	Log             *slog.Logger
}

// Service books executions and answers for them.
type Service struct{ c Config }

// NewService returns the service.
func NewService(c Config) *Service { return &Service{c: c} }

// prepared is a request checked and resolved: what to book, for whom.
type prepared struct {
	plan      Plan
	workflow  wf.Workflow
	resources []resource.Resource
	needs     []Need
	warnings  []string
	steps     []execution.Step
}

// prepare validates the request and loads the workflow and its resources.
func (s *Service) prepare(ctx context.Context, p authn.Principal, workflowID string, r execution.Request) (prepared, error) {
	plan, err := Expand(r, s.c.Now(), s.c.DefaultDuration)
	if err != nil {
		return prepared{}, err
	}
	w, err := s.c.Workflows.Get(ctx, p, workflowID)
	if err != nil {
		return prepared{}, err
	}
	out := prepared{plan: plan, workflow: w}
	var local []string
	seen := map[resource.Ref]bool{}
	for _, n := range w.Graph.Nodes {
		if seen[n.Resource] {
			continue
		}
		seen[n.Resource] = true
		if n.Resource.Peer == s.c.PeerID {
			local = append(local, n.Resource.ID)
		} else if n.Kind == resource.KindCompute || n.Kind == resource.KindStorage {
			out.warnings = append(out.warnings, fmt.Sprintf("%s %s of node %q cannot be checked: peer %q is not reachable from this peer yet (federation is not configured); it is booked anyway",
				n.Kind, n.Resource, n.ID, n.Resource.Peer))
		}
	}
	found := map[resource.Ref]resource.Resource{}
	for start := 0; start < len(local); start += resource.MaxLookup {
		res, err := s.c.Catalog.Lookup(ctx, p, local[start:min(start+resource.MaxLookup, len(local))])
		if err != nil {
			return prepared{}, err
		}
		for _, r := range res.Items {
			found[resource.Ref{Peer: s.c.PeerID, ID: r.ID}] = r
			out.resources = append(out.resources, r)
		}
	}
	var missing []resource.Ref
	for _, id := range local {
		if ref := (resource.Ref{Peer: s.c.PeerID, ID: id}); !seenIn(found, ref) {
			missing = append(missing, ref)
		}
	}
	if len(missing) > 0 {
		return prepared{}, &UnbookableError{Missing: missing}
	}
	if out.resources == nil {
		out.resources = []resource.Resource{}
	}
	out.needs, out.steps = needsOf(w.Graph, found, s.c.PeerID)
	return out, nil
}

func seenIn(m map[resource.Ref]resource.Resource, r resource.Ref) bool { _, ok := m[r]; return ok }

// needsOf derives what each execution holds: every compute and storage of
// the graph, a compute holding the sum of the requests of the processings
// placed on it. It also returns the steps an execution will run.
func needsOf(g wf.Graph, found map[resource.Ref]resource.Resource, peer string) ([]Need, []execution.Step) {
	nodes := make(map[string]wf.Node, len(g.Nodes))
	for _, n := range g.Nodes {
		nodes[n.ID] = n
	}
	index := map[resource.Ref]int{}
	var needs []Need
	for _, n := range g.Nodes {
		if n.Kind != resource.KindCompute && n.Kind != resource.KindStorage {
			continue
		}
		if _, ok := index[n.Resource]; ok {
			continue
		}
		c := Capacity{Unchecked: true}
		if r, ok := found[n.Resource]; ok && n.Resource.Peer == peer {
			c = CapacityOf(r)
		}
		index[n.Resource] = len(needs)
		needs = append(needs, Need{Ref: n.Resource, Kind: n.Kind, Capacity: c})
	}
	var steps []execution.Step
	for _, l := range g.Links {
		if l.Kind != wf.LinkCompute {
			continue
		}
		proc, comp := nodes[l.From], nodes[l.To]
		if proc.Kind != resource.KindProcessing || comp.Kind != resource.KindCompute {
			continue
		}
		var req resource.Requests
		if r, ok := found[proc.Resource]; ok && r.Processing != nil {
			req = r.Processing.Requests
		}
		steps = append(steps, execution.Step{Node: proc.ID, State: execution.Scheduled, Requests: req, Compute: comp.Resource})
		if i, ok := index[comp.Resource]; ok {
			d := &needs[i].Demand
			d.CPUMillicores += req.CPUMillicores
			d.MemoryBytes += req.MemoryBytes
			d.GPUs += req.GPUs
		}
	}
	if steps == nil {
		steps = []execution.Step{}
	}
	return needs, steps
}

// checked are the resources whose bookings a check reads.
func checked(needs []Need) []resource.Ref {
	var refs []resource.Ref
	for _, n := range needs {
		if !n.Capacity.Unchecked {
			refs = append(refs, n.Ref)
		}
	}
	return refs
}

// fit decides the windows of a prepared request against what is held now:
// planned windows as asked, or the first free slot of an ASAP request. It
// returns the plan (with conflicts if it does not fit).
func (s *Service) fit(ctx context.Context, pr prepared) (execution.Plan, error) {
	plan := execution.Plan{WorkflowID: pr.workflow.ID, Windows: pr.plan.Windows, Conflicts: []execution.Conflict{}, Warnings: pr.warnings}
	refs := checked(pr.needs)
	if pr.plan.Mode == execution.ASAP {
		w := execution.Window{Start: pr.plan.Earliest, End: pr.plan.Earliest.Add(pr.plan.Duration)}
		plan.Windows = []execution.Window{w}
		if len(refs) == 0 {
			return plan, nil
		}
		limit := pr.plan.Deadline
		if limit.IsZero() {
			limit = w.End.Add(SearchHorizon)
		}
		held, _, err := s.c.Executions.FindBookings(ctx, executions.BookingQuery{Resources: refs, From: w.Start, To: limit})
		if err != nil {
			return plan, err
		}
		if d, ok := NextFree(pr.needs, plan.Windows, held, limit); ok {
			plan.Windows = shift(plan.Windows, d)
			return plan, nil
		}
		plan.Conflicts = Check(pr.needs, plan.Windows, held)
		if len(plan.Conflicts) == 0 {
			// Free at first, but nothing after fits before the deadline.
			plan.Conflicts = []execution.Conflict{{Start: w.Start, End: w.End, Held: []execution.Booking{},
				Problem: "no slot of this length is free before the deadline (end) or within a year"}}
		}
		return plan, nil
	}
	if len(refs) == 0 {
		return plan, nil
	}
	from, to := Span(plan.Windows)
	held, _, err := s.c.Executions.FindBookings(ctx, executions.BookingQuery{Resources: refs, From: from, To: to})
	if err != nil {
		return plan, err
	}
	plan.Conflicts = Check(pr.needs, plan.Windows, held)
	return plan, nil
}

// nextFree fills in the plan's next free start for a planned request.
func (s *Service) nextFree(ctx context.Context, pr prepared, plan *execution.Plan) error {
	if pr.plan.Mode == execution.ASAP || len(plan.Windows) == 0 {
		return nil
	}
	from, to := Span(plan.Windows)
	held, _, err := s.c.Executions.FindBookings(ctx, executions.BookingQuery{Resources: checked(pr.needs), From: from, To: to.Add(SearchHorizon)})
	if err != nil {
		return err
	}
	if d, ok := NextFree(pr.needs, plan.Windows, held, time.Time{}); ok {
		next := plan.Windows[0].Start.Add(d)
		plan.NextFree = &next
	}
	return nil
}

// Check answers what booking the request would give now, booking nothing.
func (s *Service) Check(ctx context.Context, p authn.Principal, workflowID string, r execution.Request) (execution.Plan, error) {
	pr, err := s.prepare(ctx, p, workflowID, r)
	if err != nil {
		return execution.Plan{}, err
	}
	plan, err := s.fit(ctx, pr)
	if err != nil {
		return plan, err
	}
	if len(plan.Conflicts) > 0 {
		if err := s.nextFree(ctx, pr, &plan); err != nil {
			return plan, err
		}
	}
	return plan, nil
}

// Book books the executions of the request: all of them, or none with a
// *ConflictError carrying the conflicts.
func (s *Service) Book(ctx context.Context, p authn.Principal, workflowID string, r execution.Request) (execution.Plan, error) {
	pr, err := s.prepare(ctx, p, workflowID, r)
	if err != nil {
		return execution.Plan{}, err
	}
	lease, err := s.c.Lock.Acquire(ctx)
	if err != nil {
		return execution.Plan{}, err
	}
	// The writes below must not stop half-way because the client left.
	wctx := context.WithoutCancel(ctx)
	defer lease.Release(wctx)
	plan, err := s.fit(ctx, pr)
	if err != nil {
		return plan, err
	}
	if len(plan.Conflicts) > 0 {
		lease.Release(wctx)
		if err := s.nextFree(wctx, pr, &plan); err != nil {
			return plan, err
		}
		return plan, &ConflictError{Plan: plan}
	}
	requestID := uuid.NewString()
	if err := s.c.Journal.Begin(wctx, requestID, pr.workflow.ID, p.Subject); err != nil {
		return plan, err
	}
	execs, err := s.write(wctx, p, pr, plan.Windows, requestID)
	if err == nil {
		// Still the holder: nobody else checked against a partial write.
		err = lease.Renew(wctx)
	}
	if err == nil {
		err = s.c.Journal.Finish(wctx, requestID)
	}
	if err != nil {
		uerr := s.c.Journal.Undo(wctx, requestID)
		switch {
		case errors.Is(uerr, executions.ErrCommitted):
			// Finish went through; only its answer was lost.
		case uerr != nil:
			s.c.Log.ErrorContext(ctx, "undoing a failed booking request failed; the next holder of the lock will", "request_id", requestID, "err", uerr)
			return plan, err
		default:
			return plan, err
		}
	}
	lease.Release(wctx)
	if err := s.c.Executions.AnnounceRequest(wctx, requestID, execs); err != nil {
		s.c.Log.DebugContext(ctx, "the booked executions are announced later", "request_id", requestID, "err", err)
	}
	plan.Executions = execs
	return plan, nil
}

// write stages the executions (not claimable before the request is
// finished), then inserts their bookings.
func (s *Service) write(ctx context.Context, p authn.Principal, pr prepared, windows []execution.Window, requestID string) ([]execution.Execution, error) {
	now := executions.Stamp(s.c.Now())
	name := pr.plan.Name
	if name == "" {
		name = pr.workflow.Name
	}
	out := make([]execution.Execution, 0, len(windows))
	for _, w := range windows {
		e := execution.Execution{ID: uuid.NewString(), WorkflowID: pr.workflow.ID, RequestID: requestID, Name: name,
			Owner: p.Subject, State: execution.Scheduled, Start: w.Start, End: w.End,
			Graph: pr.workflow.Graph, Resources: pr.resources, Steps: pr.steps, CreatedAt: now, UpdatedAt: now}
		e, err := s.c.Executions.Stage(ctx, e)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	for _, e := range out {
		for _, n := range pr.needs {
			b := executions.Booked{RequestID: requestID, Booking: execution.Booking{ID: uuid.NewString(), ExecutionID: e.ID,
				WorkflowID: e.WorkflowID, Resource: n.Ref, Kind: n.Kind, Start: e.Start, End: e.End, Demand: n.Demand}}
			if err := s.c.Executions.InsertBooking(ctx, b); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Get returns an execution its owner or an admin asks for.
func (s *Service) Get(ctx context.Context, p authn.Principal, id string) (execution.Execution, error) {
	e, err := s.c.Executions.Get(ctx, id)
	if errors.Is(err, executions.ErrNotFound) || err == nil && e.Owner != p.Subject && !p.IsAdmin() {
		return execution.Execution{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return e, err
}

// List returns the caller's executions (an admin's: everyone's).
func (s *Service) List(ctx context.Context, p authn.Principal, q executions.Query) ([]execution.Execution, int64, error) {
	if !p.IsAdmin() {
		q.Owner = p.Subject
	}
	return s.c.Executions.Find(ctx, q)
}

// Cancel cancels an execution: at once if it is scheduled (its bookings are
// released), by asking its worker if it is starting or running. Cancelling
// a cancelled execution changes nothing; any other terminal state is a
// *TerminalError.
func (s *Service) Cancel(ctx context.Context, p authn.Principal, id string) (execution.Execution, error) {
	for range 5 {
		e, err := s.Get(ctx, p, id)
		if err != nil {
			return e, err
		}
		switch e.State {
		case execution.Cancelled:
			return e, nil
		case execution.Scheduled:
			e, err = s.c.Executions.Transition(ctx, id, []execution.State{execution.Scheduled}, execution.Cancelled,
				func(e *execution.Execution) { e.Reason = "cancelled by " + p.Subject })
		case execution.Starting, execution.Running:
			e, err = s.c.Executions.RequestCancel(ctx, id)
		default:
			return e, &TerminalError{State: e.State}
		}
		if errors.Is(err, executions.ErrStateChanged) {
			continue // it moved meanwhile: decide again on its new state
		}
		return e, err
	}
	return execution.Execution{}, fmt.Errorf("%w: the execution kept changing state", ErrBusy)
}

// Bookings returns the bookings held on a resource the caller may see in
// the catalog, overlapping [from, to) when given.
func (s *Service) Bookings(ctx context.Context, p authn.Principal, ref resource.Ref, from, to time.Time, limit, offset int) ([]execution.Booking, int64, error) {
	if ref.Peer == "" {
		ref.Peer = s.c.PeerID
	}
	if ref.Peer != s.c.PeerID {
		return nil, 0, fmt.Errorf("%w: peer %q is not reachable from this peer yet (federation is not configured)", ErrResourceNotFound, ref.Peer)
	}
	res, err := s.c.Catalog.Lookup(ctx, p, []string{ref.ID})
	if err != nil {
		return nil, 0, err
	}
	if !slices.ContainsFunc(res.Items, func(r resource.Resource) bool { return r.ID == ref.ID }) {
		return nil, 0, fmt.Errorf("%w: %s", ErrResourceNotFound, ref)
	}
	return s.c.Executions.FindBookings(ctx, executions.BookingQuery{Resources: []resource.Ref{ref}, From: from, To: to, Limit: limit, Offset: offset})
}
