// Package workflow is the domain of oc-workflow: what a valid workflow graph
// is, who may read and change a workflow, and how changes happen (optimistic
// concurrency, the owned workspace kept in step, events after every
// committed change).
package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/server/retry"
	wf "github.com/opencloud/opencloud/libs/workflow"
	"github.com/opencloud/opencloud/libs/workspace"
)

// Repository is the storage the domain needs. Implementations return
// ErrNotFound and ErrVersionConflict (wrapped) for those cases.
type Repository interface {
	Insert(ctx context.Context, w wf.Workflow) (int64, error)
	Get(ctx context.Context, id string) (wf.Workflow, error)
	Replace(ctx context.Context, w wf.Workflow, version int64) (int64, error)
	Delete(ctx context.Context, id string, version int64) error
	Find(ctx context.Context, q Query) ([]wf.Workflow, int64, error)

	// Synced returns, for those of ids that have one, the last workspace
	// sync: kept apart from the workflow so that recording it does not
	// change the workflow's version.
	Synced(ctx context.Context, ids []string) (map[string]Sync, error)
	// MarkSynced records that version of workflow id is carried to its
	// workspace, unless a newer version already is.
	MarkSynced(ctx context.Context, id string, s Sync) error
	// ForgetSync removes the sync record of a deleted workflow.
	ForgetSync(ctx context.Context, id string) error
}

// Sync is the last version of a workflow carried to its workspace.
type Sync struct {
	WorkspaceID string
	Version     int64
}

// Catalog is what the domain asks of oc-catalog, on behalf of the caller
// (implementations send the caller's token). 404 answers are ErrGone,
// unreachable or failing catalogs ErrUnavailable; other refusals are
// returned as the catalog gave them.
type Catalog interface {
	Lookup(ctx context.Context, p authn.Principal, ids []string) (resource.LookupResult, error)
	Get(ctx context.Context, p authn.Principal, id string) (resource.Resource, error)
	Create(ctx context.Context, p authn.Principal, in resource.Input) (resource.Resource, error)
	Update(ctx context.Context, p authn.Principal, id string, version int64, in resource.Input) (resource.Resource, error)
}

// Workspaces is what the domain asks of oc-workspace, on behalf of the
// caller, with the error conventions of Catalog.
type Workspaces interface {
	PutWorkflowWorkspace(ctx context.Context, p authn.Principal, workflowID string, in workspace.WorkflowWorkspace) (workspace.Workspace, error)
	DeleteWorkflowWorkspace(ctx context.Context, p authn.Principal, workflowID string) error
	CheckWorkflow(ctx context.Context, p authn.Principal, in workspace.WorkflowCheck) (workspace.Report, error)
	// HoldsWorkflow reports whether a collaborative area p is a member of
	// shares workflow workflowID.
	HoldsWorkflow(ctx context.Context, p authn.Principal, workflowID string) (bool, error)
	// AreaWorkflows returns the workflows shared in area areaID; ErrGone if
	// it does not exist or p is not a member.
	AreaWorkflows(ctx context.Context, p authn.Principal, areaID string) ([]resource.Ref, error)
}

// Resolver tells what the resources a graph references are. The local
// catalog answers for this peer's; federation will plug partners' in.
type Resolver interface {
	Resolve(ctx context.Context, p authn.Principal, refs []resource.Ref) (map[resource.Ref]Fact, error)
}

// Events publishes facts after they are committed to the store.
type Events interface {
	Publish(ctx context.Context, typ, subject, actor string, data any) error
}

// SortField is a field lists can be ordered by.
type SortField string

// Sortable fields.
const (
	SortName      SortField = "name"
	SortCreatedAt SortField = "created_at"
	SortUpdatedAt SortField = "updated_at"
)

// SortFields lists the sortable fields.
var SortFields = []SortField{SortName, SortCreatedAt, SortUpdatedAt}

// Sort is one ordering key.
type Sort struct {
	Field SortField
	Desc  bool
}

// Query selects workflows. Empty fields do not filter.
type Query struct {
	// Viewer, when set, restricts to the workflows this subject owns.
	Viewer string
	// IDs, when not nil, restricts to these workflows (none if empty).
	IDs   []string
	Owner string
	Tags  []string      // every tag must be present
	Uses  *resource.Ref // only workflows with a node on this resource
	Text  string        // every word must occur in the name or description
	Sort  []Sort
	Limit int
	// Offset is the number of items skipped.
	Offset int
}

// ListQuery is a Query as a caller asks it: Area, when set, lists the
// workflows shared in that collaborative area instead of the caller's own.
type ListQuery struct {
	Query
	Area string
}

// Config is what a Service is built from.
type Config struct {
	Repo       Repository
	Resolver   Resolver
	Catalog    Catalog
	Workspaces Workspaces
	Events     Events
	PeerID     string
	Log        *slog.Logger
}

// Service implements oc-workflow's use cases.
type Service struct {
	repo     Repository
	resolver Resolver
	catalog  Catalog
	spaces   Workspaces
	events   Events
	peerID   string
	log      *slog.Logger
	now      func() time.Time
}

// NewService returns the workflow service of peer c.PeerID.
func NewService(c Config) *Service {
	return &Service{repo: c.Repo, resolver: c.Resolver, catalog: c.Catalog, spaces: c.Workspaces,
		events: c.Events, peerID: c.PeerID, log: c.Log,
		// Milliseconds: what every store backend keeps exactly.
		now: func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }}
}

// PeerID is this peer's id.
func (s *Service) PeerID() string { return s.peerID }

// check validates a normalized input: structure, resources (with p's
// visibility), and, for an existing workflow, the rules of the areas that
// hold it.
func (s *Service) check(ctx context.Context, p authn.Principal, in *wf.Input, workflowID string, extra ...wf.Problem) (wf.Validation, error) {
	st := CheckStructure(in)
	st.Problems = append(st.Problems, extra...)
	var facts Facts
	if !st.TooLarge {
		if len(st.Refs) > 0 {
			res, err := s.resolver.Resolve(ctx, p, st.Refs)
			if err != nil {
				return wf.Validation{}, err
			}
			facts.Resources = res
		}
		if workflowID != "" {
			rep, err := s.spaces.CheckWorkflow(ctx, p, workspace.WorkflowCheck{WorkflowID: workflowID, Usage: usageOf(&in.Graph, st.Refs)})
			if err != nil {
				return wf.Validation{}, fmt.Errorf("check area rules: %w", err)
			}
			facts.Violations, facts.Unchecked = rep.Violations, rep.Unchecked
		}
	}
	return Evaluate(in, st, facts), nil
}

// usageOf is the graph's usage restricted to well-formed references, so
// that rule checks are not asked about malformed ones.
func usageOf(g *wf.Graph, refs []resource.Ref) wf.Usage {
	ok := make(map[resource.Ref]bool, len(refs))
	for _, r := range refs {
		ok[r] = true
	}
	u := wf.UsageOf(*g)
	keep := func(rs []resource.Ref) []resource.Ref {
		out := rs[:0]
		for _, r := range rs {
			if ok[r] {
				out = append(out, r)
			}
		}
		return out
	}
	u.Resources, u.Writes = keep(u.Resources), keep(u.Writes)
	return u
}

// Validate checks in as p would save it, without saving anything. With a
// workflowID (one p may read), the rules of the areas holding it apply too.
func (s *Service) Validate(ctx context.Context, p authn.Principal, in wf.Input, workflowID string) (wf.Validation, error) {
	if workflowID != "" {
		if _, err := s.Get(ctx, p, workflowID); err != nil {
			return wf.Validation{}, err
		}
	}
	Normalize(&in, s.peerID)
	return s.check(ctx, p, &in, workflowID)
}

// Create validates in and stores it as a new workflow of p's.
func (s *Service) Create(ctx context.Context, p authn.Principal, in wf.Input) (wf.Workflow, error) {
	Normalize(&in, s.peerID)
	return s.create(ctx, p, in)
}

func (s *Service) create(ctx context.Context, p authn.Principal, in wf.Input, extra ...wf.Problem) (wf.Workflow, error) {
	if in.Version != 0 {
		extra = append(extra, wf.Problem{Code: wf.ProblemInvalidField, Field: "version",
			Message: "not accepted when creating a workflow: the service sets it; remove it"})
	}
	val, err := s.check(ctx, p, &in, "", extra...)
	if err != nil {
		return wf.Workflow{}, err
	}
	if !val.Valid {
		return wf.Workflow{}, &InvalidError{Validation: val}
	}
	now := s.now()
	w := apply(wf.Workflow{ID: uuid.NewString(), Owner: p.Subject, CreatedAt: now}, in, val, now)
	v, err := s.repo.Insert(ctx, w)
	if err != nil {
		return wf.Workflow{}, fmt.Errorf("create workflow: %w", err)
	}
	w.Version = v
	s.sync(ctx, p, &w)
	s.publish(ctx, event.WorkflowCreated, p, w)
	return w, nil
}

// Get returns workflow id if p may read it: its owner, an admin, or a
// member of a collaborative area sharing it. The owner's read retries a
// workspace sync that failed.
func (s *Service) Get(ctx context.Context, p authn.Principal, id string) (wf.Workflow, error) {
	w, err := s.readable(ctx, p, id)
	if err != nil {
		return wf.Workflow{}, err
	}
	if !w.WorkspaceInSync && w.Owner == p.Subject {
		s.sync(ctx, p, &w)
	}
	return w, nil
}

// readable loads workflow id with its sync state, if p may read it.
func (s *Service) readable(ctx context.Context, p authn.Principal, id string) (wf.Workflow, error) {
	w, err := s.load(ctx, id)
	if err != nil {
		return wf.Workflow{}, err
	}
	if canEdit(p, w) {
		return w, nil
	}
	held, err := s.spaces.HoldsWorkflow(ctx, p, id)
	if err != nil {
		return wf.Workflow{}, fmt.Errorf("areas holding workflow %s: %w", id, err)
	}
	if !held {
		return wf.Workflow{}, fmt.Errorf("workflow %s: %w", id, ErrNotFound)
	}
	return w, nil
}

// editable loads workflow id for a change by p: ErrNotFound if p may not
// read it, ErrForbidden if p reads it through an area only.
func (s *Service) editable(ctx context.Context, p authn.Principal, id string) (wf.Workflow, error) {
	w, err := s.readable(ctx, p, id)
	if err != nil {
		return wf.Workflow{}, err
	}
	if !canEdit(p, w) {
		return wf.Workflow{}, fmt.Errorf("change workflow %s: %w", id, ErrForbidden)
	}
	return w, nil
}

func canEdit(p authn.Principal, w wf.Workflow) bool {
	return p.IsAdmin() || (p.Subject != "" && p.Subject == w.Owner)
}

func (s *Service) load(ctx context.Context, id string) (wf.Workflow, error) {
	w, err := s.repo.Get(ctx, id)
	if err != nil {
		return wf.Workflow{}, fmt.Errorf("get workflow %s: %w", id, err)
	}
	if err := s.attach(ctx, []*wf.Workflow{&w}); err != nil {
		return wf.Workflow{}, err
	}
	return w, nil
}

// attach fills in the workspace sync state of ws.
func (s *Service) attach(ctx context.Context, ws []*wf.Workflow) error {
	if len(ws) == 0 {
		return nil
	}
	ids := make([]string, len(ws))
	for i, w := range ws {
		ids[i] = w.ID
	}
	synced, err := s.repo.Synced(ctx, ids)
	if err != nil {
		return fmt.Errorf("workspace sync state: %w", err)
	}
	for _, w := range ws {
		st := synced[w.ID]
		w.WorkspaceID, w.WorkspaceInSync = st.WorkspaceID, st.WorkspaceID != "" && st.Version >= w.Version
	}
	return nil
}

// List returns the page of workflows matching q that p may see: p's own
// (all, for an admin), or those shared in area q.Area if p is a member.
func (s *Service) List(ctx context.Context, p authn.Principal, q ListQuery) ([]wf.Workflow, int64, error) {
	query := q.Query
	if q.Area != "" {
		refs, err := s.spaces.AreaWorkflows(ctx, p, q.Area)
		if errors.Is(err, ErrGone) {
			return nil, 0, fmt.Errorf("area %s: %w", q.Area, ErrAreaNotFound)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("area %s: %w", q.Area, err)
		}
		query.IDs = []string{}
		for _, r := range refs {
			if r.Peer == s.peerID || r.Peer == "" {
				query.IDs = append(query.IDs, r.ID)
			}
		}
	} else if !p.IsAdmin() {
		query.Viewer = p.Subject
	}
	items, total, err := s.repo.Find(ctx, query)
	if err != nil {
		return nil, 0, fmt.Errorf("list workflows: %w", err)
	}
	ptrs := make([]*wf.Workflow, len(items))
	for i := range items {
		ptrs[i] = &items[i]
	}
	if err := s.attach(ctx, ptrs); err != nil {
		return nil, 0, err
	}
	return items, total, nil
}

// Replace overwrites workflow id with in. The version replaced is ifMatch
// or in.Version; one is required (ErrPreconditionRequired) and a stale one
// is a *ConflictError.
func (s *Service) Replace(ctx context.Context, p authn.Principal, id string, in wf.Input, ifMatch int64) (wf.Workflow, error) {
	if ifMatch == 0 && in.Version == 0 {
		return wf.Workflow{}, ErrPreconditionRequired
	}
	want := ifMatch
	if in.Version != 0 {
		if want != 0 && in.Version != want {
			return wf.Workflow{}, &InvalidError{Validation: Result([]wf.Problem{{Code: wf.ProblemInvalidField, Field: "version",
				Message: fmt.Sprintf("the body names version %d but If-Match names %d: send one, or the same in both", in.Version, want)}}, nil)}
		}
		want = in.Version
	}
	in.Version = 0
	cur, err := s.editable(ctx, p, id)
	if err != nil {
		return wf.Workflow{}, err
	}
	if want != cur.Version {
		return wf.Workflow{}, &ConflictError{Given: want, Current: cur.Version}
	}
	Normalize(&in, s.peerID)
	val, err := s.check(ctx, p, &in, id)
	if err != nil {
		return wf.Workflow{}, err
	}
	if !val.Valid {
		return wf.Workflow{}, &InvalidError{Validation: val}
	}
	next := apply(cur, in, val, s.now())
	v, err := s.repo.Replace(ctx, next, cur.Version)
	if errors.Is(err, ErrVersionConflict) || errors.Is(err, ErrNotFound) {
		return wf.Workflow{}, s.conflict(ctx, id, cur.Version, err)
	}
	if err != nil {
		return wf.Workflow{}, fmt.Errorf("replace workflow %s: %w", id, err)
	}
	next.Version = v
	s.sync(ctx, p, &next)
	s.publish(ctx, event.WorkflowUpdated, p, next)
	return next, nil
}

// Delete removes workflow id and the workspace it owns. ifMatch, if not 0,
// is the version the caller means to delete.
func (s *Service) Delete(ctx context.Context, p authn.Principal, id string, ifMatch int64) error {
	cur, err := retry.OnConflict(ctx, func(ctx context.Context) (wf.Workflow, error) {
		cur, err := s.editable(ctx, p, id)
		if err != nil {
			return wf.Workflow{}, err
		}
		if ifMatch != 0 && ifMatch != cur.Version {
			return wf.Workflow{}, &ConflictError{Given: ifMatch, Current: cur.Version}
		}
		err = s.repo.Delete(ctx, id, cur.Version)
		if errors.Is(err, ErrVersionConflict) {
			// Changed since we read it: its owners may have changed too, so check again.
			err = s.conflict(ctx, id, cur.Version, err)
			if ifMatch == 0 {
				err = retry.LostRace(err)
			}
			return wf.Workflow{}, err
		}
		if err != nil {
			return wf.Workflow{}, fmt.Errorf("delete workflow %s: %w", id, err)
		}
		return cur, nil
	})
	if err != nil {
		return err
	}
	// The workflow is gone whatever happens to its workspace: a
	// workspace left behind is logged for an operator, not a failure.
	if err := s.spaces.DeleteWorkflowWorkspace(ctx, p, id); err != nil && !errors.Is(err, ErrGone) {
		s.log.WarnContext(ctx, "workspace of deleted workflow not deleted", "workflow", id, "err", err)
	}
	if err := s.repo.ForgetSync(ctx, id); err != nil {
		s.log.WarnContext(ctx, "sync record of deleted workflow not deleted", "workflow", id, "err", err)
	}
	s.publish(ctx, event.WorkflowDeleted, p, cur)
	return nil
}

// Duplicate copies workflow id (one p may read) as a new workflow of p's,
// named name or "<name> (copy)". The copy is validated as p's.
func (s *Service) Duplicate(ctx context.Context, p authn.Principal, id string, name *string) (wf.Workflow, error) {
	cur, err := s.readable(ctx, p, id)
	if err != nil {
		return wf.Workflow{}, err
	}
	in := wf.Input{Name: cur.Name, Description: cur.Description, Tags: cur.Tags, Graph: cur.Graph}
	if name != nil {
		in.Name = *name
	} else {
		in.Name = copyName(cur.Name)
	}
	Normalize(&in, s.peerID)
	return s.create(ctx, p, in)
}

// copyName is "<name> (copy)", the name cut so that the whole fits.
func copyName(name string) string {
	const suffix = " (copy)"
	r := []rune(name)
	if room := wf.MaxNameLength - len([]rune(suffix)); len(r) > room {
		r = r[:room]
	}
	return string(r) + suffix
}

// Export returns workflow id in portable form: every reference names its peer.
func (s *Service) Export(ctx context.Context, p authn.Principal, id string) (wf.Export, error) {
	w, err := s.readable(ctx, p, id)
	if err != nil {
		return wf.Export{}, err
	}
	g := w.Graph
	g.Nodes = append([]wf.Node(nil), g.Nodes...)
	for i := range g.Nodes {
		if g.Nodes[i].Resource.Peer == "" {
			g.Nodes[i].Resource.Peer = s.peerID
		}
	}
	if g.Links == nil {
		g.Links = []wf.Link{}
	}
	return wf.Export{Format: wf.ExportFormat, Name: w.Name, Description: w.Description, Tags: w.Tags, Graph: g,
		ExportedBy: s.peerID, ExportedAt: s.now()}, nil
}

// Import creates a workflow of p's from an export, its references kept: a
// reference without a peer is the exporting peer's.
func (s *Service) Import(ctx context.Context, p authn.Principal, ex wf.Export) (wf.Workflow, error) {
	var extra []wf.Problem
	if ex.Format != wf.ExportFormat {
		extra = append(extra, wf.Problem{Code: wf.ProblemInvalidField, Field: "format",
			Message: fmt.Sprintf("format %s is not one this peer reads: export the workflow again; the format must be %q", quote(ex.Format), wf.ExportFormat)})
	}
	origin := s.peerID
	if validRefPart(ex.ExportedBy) {
		origin = ex.ExportedBy
	}
	in := wf.Input{Name: ex.Name, Description: ex.Description, Tags: ex.Tags, Graph: ex.Graph}
	Normalize(&in, origin)
	if len(extra) > 0 {
		// A document of another format is not read further: its graph may
		// mean something else.
		return wf.Workflow{}, &InvalidError{Validation: Result(extra, nil)}
	}
	return s.create(ctx, p, in)
}

// Publish offers workflow id in the catalog as a resource of kind workflow:
// created the first time (created true), updated after.
func (s *Service) Publish(ctx context.Context, p authn.Principal, id string, pub wf.Publish) (resource.Resource, bool, error) {
	cur, err := s.editable(ctx, p, id)
	if err != nil {
		return resource.Resource{}, false, err
	}
	in := resource.Input{Kind: resource.KindWorkflow, Name: cur.Name, Description: cur.Description, Tags: cur.Tags,
		Visibility: pub.Visibility, Groups: pub.Groups, ShortDescription: pub.ShortDescription, License: pub.License,
		Pricing: pub.Pricing, Workflow: &resource.Workflow{WorkflowID: cur.ID}}
	if cur.PublishedAs != "" {
		r, err := s.catalog.Get(ctx, p, cur.PublishedAs)
		switch {
		case err == nil:
			up, err := s.catalog.Update(ctx, p, r.ID, r.Version, in)
			if err != nil {
				return resource.Resource{}, false, fmt.Errorf("update catalog resource %s: %w", r.ID, err)
			}
			s.publish(ctx, event.WorkflowPublished, p, cur)
			return up, false, nil
		case !errors.Is(err, ErrGone):
			return resource.Resource{}, false, fmt.Errorf("catalog resource %s: %w", cur.PublishedAs, err)
		}
		// Deleted from the catalog since: publish it anew.
	}
	r, err := s.catalog.Create(ctx, p, in)
	if err != nil {
		return resource.Resource{}, false, fmt.Errorf("create catalog resource: %w", err)
	}
	if _, err := s.setPublished(ctx, p, cur, r.ID); err != nil {
		return resource.Resource{}, false, err
	}
	return r, true, nil
}

// setPublished records the catalog resource id on the workflow, retrying
// if another change got there first.
func (s *Service) setPublished(ctx context.Context, p authn.Principal, cur wf.Workflow, resourceID string) (wf.Workflow, error) {
	next, err := retry.OnConflict(ctx, func(ctx context.Context) (wf.Workflow, error) {
		next := cur
		next.PublishedAs = resourceID
		next.UpdatedAt = s.now()
		v, err := s.repo.Replace(ctx, next, cur.Version)
		if errors.Is(err, ErrVersionConflict) {
			lost := fmt.Errorf("record publication of workflow %s: %w", cur.ID, err)
			// Another change got there first: the next attempt starts from it.
			fresh, err := s.load(ctx, cur.ID)
			if err != nil {
				return wf.Workflow{}, err
			}
			cur = fresh
			return wf.Workflow{}, retry.LostRace(lost)
		}
		if err != nil {
			return wf.Workflow{}, fmt.Errorf("record publication of workflow %s: %w", cur.ID, err)
		}
		next.Version = v
		return next, nil
	})
	if err != nil {
		return wf.Workflow{}, err
	}
	if cur.WorkspaceInSync {
		// The graph did not change: the workspace still matches.
		if err := s.repo.MarkSynced(ctx, next.ID, Sync{WorkspaceID: cur.WorkspaceID, Version: next.Version}); err != nil {
			next.WorkspaceInSync = false
			s.log.WarnContext(ctx, "workspace sync record not carried", "workflow", next.ID, "err", err)
		}
	}
	s.publish(ctx, event.WorkflowPublished, p, next)
	return next, nil
}

// sync carries w's graph to the workspace it owns. A failure leaves w saved
// and marked out of sync; the owner's next read or write retries.
func (s *Service) sync(ctx context.Context, p authn.Principal, w *wf.Workflow) {
	ws, err := s.spaces.PutWorkflowWorkspace(ctx, p, w.ID, workspace.WorkflowWorkspace{
		Name: w.Name, Owner: w.Owner, Resources: wf.UsageOf(w.Graph).Resources, WorkflowVersion: w.Version})
	if err == nil {
		err = s.repo.MarkSynced(ctx, w.ID, Sync{WorkspaceID: ws.ID, Version: w.Version})
	}
	if err != nil {
		w.WorkspaceInSync = false
		s.log.WarnContext(ctx, "workflow's workspace not updated; the owner's next read retries", "workflow", w.ID, "version", w.Version, "err", err)
		return
	}
	w.WorkspaceID, w.WorkspaceInSync = ws.ID, true
}

// conflict turns a lost race into a ConflictError naming the version that
// is current now (or ErrNotFound if the workflow is gone).
func (s *Service) conflict(ctx context.Context, id string, given int64, cause error) error {
	now, err := s.repo.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("workflow %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("workflow %s after %w: %w", id, cause, err)
	}
	return &ConflictError{Given: given, Current: now.Version}
}

// apply sets the writable fields of w from a validated input.
func apply(w wf.Workflow, in wf.Input, val wf.Validation, now time.Time) wf.Workflow {
	w.Name, w.Description = in.Name, in.Description
	w.Tags = in.Tags
	if w.Tags == nil {
		w.Tags = []string{}
	}
	w.Graph = in.Graph
	if w.Graph.Nodes == nil {
		w.Graph.Nodes = []wf.Node{}
	}
	if w.Graph.Links == nil {
		w.Graph.Links = []wf.Link{}
	}
	w.Warnings = val.Warnings
	w.UpdatedAt = now
	return w
}

// publish announces a committed change. The store is the truth and
// consumers reconcile from it, so a lost event is logged, not returned.
func (s *Service) publish(ctx context.Context, typ string, p authn.Principal, w wf.Workflow) {
	if s.events == nil {
		return
	}
	if err := s.events.Publish(ctx, typ, w.ID, p.Subject, w); err != nil {
		s.log.WarnContext(ctx, "workflow event not published", "type", typ, "id", w.ID, "err", err)
	}
}
