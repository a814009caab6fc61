// Package workspace is the workspace domain of oc-workspace: a user's named
// selections of resource references (local or a partner peer's), who may
// read and change them, the workspaces workflows own, and how changes happen
// (optimistic concurrency, events after every committed change).
//
// A workspace is private to its owner (and admins) unless it is shared in a
// collaborative area: the area's members may then read it, never change it.
package workspace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/server/retry"
	wire "github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/internal/errs"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/resolve"
)

// Record is a workspace as stored: the wire form and what only the service
// needs.
type Record struct {
	wire.Workspace
	// WorkflowVersion is the version of the owning workflow last applied;
	// older updates are ignored.
	WorkflowVersion int64
}

// Repository is the storage workspaces need. Implementations return
// errs.ErrNotFound, errs.ErrVersionConflict and errs.ErrDuplicate (wrapped).
type Repository interface {
	Insert(ctx context.Context, r Record) (int64, error)
	Get(ctx context.Context, id string) (Record, error)
	// ByWorkflow returns the workspace workflow workflowID owns.
	ByWorkflow(ctx context.Context, workflowID string) (Record, error)
	Replace(ctx context.Context, r Record, version int64) (int64, error)
	Delete(ctx context.Context, id string, version int64) error
	Find(ctx context.Context, q Query) ([]wire.Workspace, int64, error)
}

// Sharing is what workspaces need to know of collaborative areas.
type Sharing interface {
	// SharedWorkspaceIDs returns the ids of this peer's workspaces shared
	// in the areas subject is a member of.
	SharedWorkspaceIDs(ctx context.Context, subject string) ([]string, error)
	// AreaWorkspaceIDs returns the ids of this peer's workspaces shared in
	// area areaID; errs.ErrNotFound unless p may read the area.
	AreaWorkspaceIDs(ctx context.Context, p authn.Principal, areaID string) ([]string, error)
	// CheckWorkspace evaluates the resources workspace id would hold against
	// the rules of the areas sharing it, with facts the catalog gives p.
	CheckWorkspace(ctx context.Context, p authn.Principal, id string, refs []resource.Ref) (wire.Report, error)
	// WorkspaceChanged carries a committed change of w (or its deletion) to
	// the areas sharing it. by is who made it.
	WorkspaceChanged(ctx context.Context, by string, w wire.Workspace, deleted bool) error
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

// Query selects workspaces. Empty fields do not filter.
type Query struct {
	// Visible restricts to what a non-admin may read; nil for admins.
	Visible *Visible
	// IDs, when not nil, restricts to these ids (an area's workspaces).
	IDs        []string
	Text       string
	WorkflowID string
	Owner      string
	Sort       []Sort
	Limit      int
	Offset     int
}

// Visible is what a non-admin reads: their own workspaces and those shared
// in their areas.
type Visible struct {
	Subject   string
	SharedIDs []string
}

// Service implements the workspace use cases.
type Service struct {
	repo     Repository
	sharing  Sharing
	resolver resolve.Resolver
	events   Events
	peerID   string
	log      *slog.Logger
	now      func() time.Time
}

// NewService returns the workspaces of peer peerID.
func NewService(repo Repository, sharing Sharing, resolver resolve.Resolver, events Events, peerID string, log *slog.Logger) *Service {
	return &Service{repo: repo, sharing: sharing, resolver: resolver, events: events, peerID: peerID, log: log,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }}
}

// SetSharing wires the areas in once both exist (they need each other).
func (s *Service) SetSharing(sh Sharing) { s.sharing = sh }

// Create validates in and stores it as a new workspace of p's.
func (s *Service) Create(ctx context.Context, p authn.Principal, in wire.Input) (wire.Workspace, error) {
	var probs errs.Problems
	refs := s.check(&probs, in.Name, in.Description, in.Resources)
	if in.Version != 0 {
		probs.Add("version", "not accepted when creating a workspace; the service sets it")
	}
	if err := probs.Err(); err != nil {
		return wire.Workspace{}, err
	}
	now := s.now()
	r := Record{Workspace: wire.Workspace{
		ID: uuid.NewString(), Name: in.Name, Description: in.Description, Owner: p.Subject,
		Resources: entries(nil, refs, now), CreatedAt: now, UpdatedAt: now,
	}}
	v, err := s.repo.Insert(ctx, r)
	if err != nil {
		return wire.Workspace{}, fmt.Errorf("create workspace: %w", err)
	}
	r.Version = v
	s.publish(ctx, event.WorkspaceCreated, p, r.Workspace)
	return r.Workspace, nil
}

// Get returns workspace id if p may read it, else errs.ErrNotFound.
func (s *Service) Get(ctx context.Context, p authn.Principal, id string) (wire.Workspace, error) {
	r, err := s.readable(ctx, p, id)
	return r.Workspace, err
}

// Owned returns workspace id if p owns it (or is an admin): what sharing it
// in an area requires.
func (s *Service) Owned(ctx context.Context, p authn.Principal, id string) (wire.Workspace, error) {
	r, err := s.editable(ctx, p, id)
	return r.Workspace, err
}

// Stored returns workspace id whoever may read it: what re-checking an
// area's rules reads.
func (s *Service) Stored(ctx context.Context, id string) (wire.Workspace, error) {
	r, err := s.repo.Get(ctx, id)
	return r.Workspace, err
}

// List returns the page of workspaces matching q that p may read.
func (s *Service) List(ctx context.Context, p authn.Principal, q Query) ([]wire.Workspace, int64, error) {
	if !p.IsAdmin() {
		ids, err := s.sharing.SharedWorkspaceIDs(ctx, p.Subject)
		if err != nil {
			return nil, 0, fmt.Errorf("list workspaces: %w", err)
		}
		q.Visible = &Visible{Subject: p.Subject, SharedIDs: ids}
	}
	items, total, err := s.repo.Find(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("list workspaces: %w", err)
	}
	return items, total, nil
}

// AreaIDs returns the workspace ids shared in area areaID, for a list
// filtered by area.
func (s *Service) AreaIDs(ctx context.Context, p authn.Principal, areaID string) ([]string, error) {
	return s.sharing.AreaWorkspaceIDs(ctx, p, areaID)
}

// Resources returns a page of workspace id's entries resolved through the
// catalog; those that cannot be resolved are listed unavailable with the reason.
func (s *Service) Resources(ctx context.Context, p authn.Principal, id string, limit, offset int) (wire.ResolvedPage, error) {
	r, err := s.readable(ctx, p, id)
	if err != nil {
		return wire.ResolvedPage{}, err
	}
	page := wire.ResolvedPage{Items: []wire.Resolved{}, Total: int64(len(r.Resources)), Limit: limit, Offset: offset}
	if offset >= len(r.Resources) {
		return page, nil
	}
	es := r.Resources[offset:min(offset+limit, len(r.Resources))]
	refs := make([]resource.Ref, len(es))
	for i, e := range es {
		refs[i] = e.Ref
	}
	for i, res := range s.resolver.Resolve(ctx, p.Token, refs) {
		page.Items = append(page.Items, wire.Resolved{Ref: es[i].Ref, AddedAt: es[i].AddedAt,
			Available: res.Resource != nil, Reason: res.Reason, Resource: res.Resource})
	}
	return page, nil
}

// Replace overwrites workspace id's name, description and resources. The
// version replaced is ifMatch or in.Version; one is required. The resources
// of a workspace a workflow owns cannot change by hand: they must be omitted
// or equal to the current ones.
func (s *Service) Replace(ctx context.Context, p authn.Principal, id string, in wire.Input, ifMatch int64) (wire.Workspace, error) {
	if ifMatch == 0 && in.Version == 0 {
		return wire.Workspace{}, errs.ErrPreconditionRequired
	}
	if ifMatch != 0 && in.Version != 0 && ifMatch != in.Version {
		return wire.Workspace{}, errs.Invalid("version",
			"the body names version %d but If-Match names %d; send one, or the same in both", in.Version, ifMatch)
	}
	want := max(ifMatch, in.Version)
	var probs errs.Problems
	refs := s.check(&probs, in.Name, in.Description, in.Resources)
	if err := probs.Err(); err != nil {
		return wire.Workspace{}, err
	}
	return s.update(ctx, p, id, want, func(r *Record) (bool, error) {
		if r.WorkflowID != "" {
			if len(refs) > 0 && !sameRefs(refs, r.Resources) {
				return false, errs.ManagedByWorkflow(r.WorkflowID)
			}
			refs = refsOf(r.Resources)
		}
		r.Name, r.Description = in.Name, in.Description
		r.Resources = entries(r.Resources, refs, s.now())
		return true, nil
	})
}

// AddResource adds ref to workspace id; adding one already there changes nothing.
func (s *Service) AddResource(ctx context.Context, p authn.Principal, id string, ref resource.Ref) (wire.Workspace, error) {
	var probs errs.Problems
	refs := s.refs(&probs, "", []resource.Ref{ref})
	if err := probs.Err(); err != nil {
		return wire.Workspace{}, err
	}
	ref = refs[0]
	return s.update(ctx, p, id, 0, func(r *Record) (bool, error) {
		if r.WorkflowID != "" {
			return false, errs.ManagedByWorkflow(r.WorkflowID)
		}
		if slices.ContainsFunc(r.Resources, func(e wire.Entry) bool { return e.Ref == ref }) {
			return false, nil
		}
		if len(r.Resources) >= wire.MaxResources {
			return false, errs.Invalid("resources", "the workspace holds %d resources already, the most it may; remove some first", wire.MaxResources)
		}
		r.Resources = append(r.Resources, wire.Entry{Ref: ref, AddedAt: s.now()})
		return true, nil
	})
}

// RemoveResource removes ref from workspace id: errs.ErrNotFound if it is not there.
func (s *Service) RemoveResource(ctx context.Context, p authn.Principal, id string, ref resource.Ref) (wire.Workspace, error) {
	return s.update(ctx, p, id, 0, func(r *Record) (bool, error) {
		if r.WorkflowID != "" {
			return false, errs.ManagedByWorkflow(r.WorkflowID)
		}
		i := slices.IndexFunc(r.Resources, func(e wire.Entry) bool { return e.Ref == ref })
		if i < 0 {
			return false, errs.NotFound("resource in this workspace")
		}
		r.Resources = slices.Delete(r.Resources, i, i+1)
		return true, nil
	})
}

// update applies change to workspace id (which p must own or administer) at
// version want, or at whatever is current (retrying a lost race) when want
// is 0. change reports whether it changed anything.
func (s *Service) update(ctx context.Context, p authn.Principal, id string, want int64, change func(*Record) (bool, error)) (wire.Workspace, error) {
	return retry.OnConflict(ctx, func(ctx context.Context) (wire.Workspace, error) {
		cur, err := s.editable(ctx, p, id)
		if err != nil {
			return wire.Workspace{}, err
		}
		if want != 0 && want != cur.Version {
			return wire.Workspace{}, &errs.ConflictError{Given: want, Current: cur.Version}
		}
		next := cur
		next.Resources = slices.Clone(cur.Resources)
		changed, err := change(&next)
		if err != nil {
			return wire.Workspace{}, err
		}
		if !changed {
			return cur.Workspace, nil
		}
		if err := s.checkAreas(ctx, p, cur, next); err != nil {
			return wire.Workspace{}, err
		}
		next.UpdatedAt = s.now()
		v, err := s.repo.Replace(ctx, next, cur.Version)
		if errors.Is(err, errs.ErrVersionConflict) || errors.Is(err, errs.ErrNotFound) {
			err = s.conflict(ctx, id, cur.Version, err)
			if want == 0 {
				err = retry.LostRace(err)
			}
			return wire.Workspace{}, err
		}
		if err != nil {
			return wire.Workspace{}, fmt.Errorf("update workspace %s: %w", id, err)
		}
		next.Version = v
		s.publish(ctx, event.WorkspaceUpdated, p, next.Workspace)
		s.areasFollow(ctx, p, next.Workspace, false)
		return next.Workspace, nil
	})
}

// checkAreas refuses a change that brings into workspace cur resources
// breaking a rule of an area sharing it (errs.RuleBroken); removing
// resources breaks no rule, so it is not checked.
func (s *Service) checkAreas(ctx context.Context, p authn.Principal, cur, next Record) error {
	if s.sharing == nil || !slices.ContainsFunc(next.Resources, func(e wire.Entry) bool {
		return !slices.ContainsFunc(cur.Resources, func(c wire.Entry) bool { return c.Ref == e.Ref })
	}) {
		return nil
	}
	report, err := s.sharing.CheckWorkspace(ctx, p, cur.ID, refsOf(next.Resources))
	if err != nil {
		return fmt.Errorf("check the areas sharing workspace %s: %w", cur.ID, err)
	}
	if len(report.Violations) > 0 {
		return errs.RuleBroken(report.Violations)
	}
	return nil
}

// areasFollow carries a committed change to the areas sharing the
// workspace. The workspace is the truth: a failure leaves the areas' copy
// of its usage stale until the next change or re-check, so it is logged.
func (s *Service) areasFollow(ctx context.Context, p authn.Principal, w wire.Workspace, deleted bool) {
	if s.sharing == nil {
		return
	}
	if err := s.sharing.WorkspaceChanged(ctx, p.Subject, w, deleted); err != nil {
		s.log.WarnContext(ctx, "areas sharing the workspace not updated", "workspace", w.ID, "err", err)
	}
}

// Delete removes workspace id; ifMatch, if not 0, is the version meant.
func (s *Service) Delete(ctx context.Context, p authn.Principal, id string, ifMatch int64) error {
	_, err := retry.OnConflict(ctx, func(ctx context.Context) (struct{}, error) {
		cur, err := s.editable(ctx, p, id)
		if err != nil {
			return struct{}{}, err
		}
		if ifMatch != 0 && ifMatch != cur.Version {
			return struct{}{}, &errs.ConflictError{Given: ifMatch, Current: cur.Version}
		}
		err = s.repo.Delete(ctx, id, cur.Version)
		if errors.Is(err, errs.ErrVersionConflict) {
			err = s.conflict(ctx, id, cur.Version, err)
			if ifMatch == 0 {
				err = retry.LostRace(err)
			}
			return struct{}{}, err
		}
		if err != nil {
			return struct{}{}, fmt.Errorf("delete workspace %s: %w", id, err)
		}
		s.publish(ctx, event.WorkspaceDeleted, p, cur.Workspace)
		s.areasFollow(ctx, p, cur.Workspace, true)
		return struct{}{}, nil
	})
	return err
}

// PutForWorkflow creates or replaces the workspace workflow workflowID owns
// and reports whether it was created. An update with a workflow version
// older than the stored one is ignored: the stored workspace is answered.
func (s *Service) PutForWorkflow(ctx context.Context, p authn.Principal, workflowID string, in wire.WorkflowWorkspace) (wire.Workspace, bool, error) {
	var probs errs.Problems
	checkText(&probs, "name", in.Name, 1, wire.MaxNameLength)
	checkIdentifier(&probs, "owner", in.Owner)
	refs := s.refs(&probs, "resources", in.Resources)
	if in.WorkflowVersion < 1 {
		probs.Add("workflow_version", "expected the workflow's version, an integer >= 1")
	}
	if err := probs.Err(); err != nil {
		return wire.Workspace{}, false, err
	}
	if !p.IsAdmin() && p.Subject != in.Owner {
		return wire.Workspace{}, false, errs.Forbidden("only the workflow's owner (\"owner\") or an admin may set the workspace of a workflow")
	}
	name := in.Name + "_workspace"
	type put struct {
		ws      wire.Workspace
		created bool
	}
	out, err := retry.OnConflict(ctx, func(ctx context.Context) (put, error) {
		cur, err := s.repo.ByWorkflow(ctx, workflowID)
		if errors.Is(err, errs.ErrNotFound) {
			now := s.now()
			r := Record{Workspace: wire.Workspace{ID: uuid.NewString(), Name: name, Owner: in.Owner,
				Resources: entries(nil, refs, now), WorkflowID: workflowID, CreatedAt: now, UpdatedAt: now},
				WorkflowVersion: in.WorkflowVersion}
			v, err := s.repo.Insert(ctx, r)
			if errors.Is(err, errs.ErrDuplicate) {
				// Created concurrently: update it instead.
				return put{}, retry.LostRace(fmt.Errorf("create workspace of workflow %s: %w", workflowID, err))
			}
			if err != nil {
				return put{}, fmt.Errorf("create workspace of workflow %s: %w", workflowID, err)
			}
			r.Version = v
			s.publish(ctx, event.WorkspaceCreated, p, r.Workspace)
			return put{r.Workspace, true}, nil
		}
		if err != nil {
			return put{}, fmt.Errorf("workspace of workflow %s: %w", workflowID, err)
		}
		if cur.Owner != p.Subject && !p.IsAdmin() {
			return put{}, errs.Forbidden("the workspace of this workflow belongs to another user; only an admin may change it")
		}
		if in.WorkflowVersion < cur.WorkflowVersion {
			return put{cur.Workspace, false}, nil
		}
		if cur.Name == name && cur.Owner == in.Owner && cur.WorkflowVersion == in.WorkflowVersion &&
			slices.Equal(refs, refsOf(cur.Resources)) {
			return put{cur.Workspace, false}, nil
		}
		next := cur
		next.Name, next.Owner, next.WorkflowVersion = name, in.Owner, in.WorkflowVersion
		next.Resources = entries(cur.Resources, refs, s.now())
		next.UpdatedAt = s.now()
		v, err := s.repo.Replace(ctx, next, cur.Version)
		if errors.Is(err, errs.ErrVersionConflict) || errors.Is(err, errs.ErrNotFound) {
			return put{}, retry.LostRace(fmt.Errorf("update workspace of workflow %s: %w", workflowID, err))
		}
		if err != nil {
			return put{}, fmt.Errorf("update workspace of workflow %s: %w", workflowID, err)
		}
		next.Version = v
		s.publish(ctx, event.WorkspaceUpdated, p, next.Workspace)
		// The workflow's own check covered its areas; these are the areas
		// sharing the workspace itself.
		s.areasFollow(ctx, p, next.Workspace, false)
		return put{next.Workspace, false}, nil
	})
	return out.ws, out.created, err
}

// DeleteForWorkflow removes the workspace workflow workflowID owns.
func (s *Service) DeleteForWorkflow(ctx context.Context, p authn.Principal, workflowID string) error {
	_, err := retry.OnConflict(ctx, func(ctx context.Context) (struct{}, error) {
		cur, err := s.repo.ByWorkflow(ctx, workflowID)
		if err != nil {
			return struct{}{}, fmt.Errorf("workspace of workflow %s: %w", workflowID, err)
		}
		if cur.Owner != p.Subject && !p.IsAdmin() {
			return struct{}{}, fmt.Errorf("workspace of workflow %s: %w", workflowID, errs.NotFound("workspace"))
		}
		err = s.repo.Delete(ctx, cur.ID, cur.Version)
		if errors.Is(err, errs.ErrVersionConflict) || errors.Is(err, errs.ErrNotFound) {
			return struct{}{}, retry.LostRace(fmt.Errorf("delete workspace of workflow %s: %w", workflowID, err))
		}
		if err != nil {
			return struct{}{}, fmt.Errorf("delete workspace of workflow %s: %w", workflowID, err)
		}
		s.publish(ctx, event.WorkspaceDeleted, p, cur.Workspace)
		s.areasFollow(ctx, p, cur.Workspace, true)
		return struct{}{}, nil
	})
	return err
}

// readable loads workspace id for p: its owner, an admin, or a member of an
// area it is shared in; errs.ErrNotFound for anyone else.
func (s *Service) readable(ctx context.Context, p authn.Principal, id string) (Record, error) {
	r, err := s.repo.Get(ctx, id)
	if err != nil {
		return Record{}, fmt.Errorf("get workspace %s: %w", id, err)
	}
	if p.IsAdmin() || r.Owner == p.Subject {
		return r, nil
	}
	ids, err := s.sharing.SharedWorkspaceIDs(ctx, p.Subject)
	if err != nil {
		return Record{}, fmt.Errorf("get workspace %s: %w", id, err)
	}
	if !slices.Contains(ids, id) {
		return Record{}, fmt.Errorf("get workspace %s: %w", id, errs.NotFound("workspace"))
	}
	return r, nil
}

// editable loads workspace id for a change by p: errs.ErrNotFound if p
// cannot read it, errs.ErrForbidden if p reads it through an area only.
func (s *Service) editable(ctx context.Context, p authn.Principal, id string) (Record, error) {
	r, err := s.readable(ctx, p, id)
	if err != nil {
		return Record{}, err
	}
	if !p.IsAdmin() && r.Owner != p.Subject {
		return Record{}, errs.Forbidden("only the owner of this workspace or an admin may change it; members of the areas it is shared in may read it")
	}
	return r, nil
}

func (s *Service) conflict(ctx context.Context, id string, given int64, cause error) error {
	now, err := s.repo.Get(ctx, id)
	if errors.Is(err, errs.ErrNotFound) {
		return fmt.Errorf("workspace %s: %w", id, errs.NotFound("workspace"))
	}
	if err != nil {
		return fmt.Errorf("workspace %s after %w: %w", id, cause, err)
	}
	return &errs.ConflictError{Given: given, Current: now.Version}
}

// publish announces a committed change; a lost event is logged, not returned
// (the store is the truth).
func (s *Service) publish(ctx context.Context, typ string, p authn.Principal, w wire.Workspace) {
	if s.events == nil {
		return
	}
	if err := s.events.Publish(ctx, typ, w.ID, p.Subject, w); err != nil {
		s.log.WarnContext(ctx, "workspace event not published", "type", typ, "id", w.ID, "err", err)
	}
}

// entries builds the entries of refs, keeping the AddedAt of those already in old.
func entries(old []wire.Entry, refs []resource.Ref, now time.Time) []wire.Entry {
	added := make(map[resource.Ref]time.Time, len(old))
	for _, e := range old {
		added[e.Ref] = e.AddedAt
	}
	out := make([]wire.Entry, len(refs))
	for i, r := range refs {
		at, ok := added[r]
		if !ok {
			at = now
		}
		out[i] = wire.Entry{Ref: r, AddedAt: at}
	}
	return out
}

func refsOf(es []wire.Entry) []resource.Ref {
	out := make([]resource.Ref, len(es))
	for i, e := range es {
		out[i] = e.Ref
	}
	return out
}

// sameRefs compares as sets: a workflow's workspace may be renamed with its
// resources sent back in any order.
func sameRefs(refs []resource.Ref, es []wire.Entry) bool {
	if len(refs) != len(es) {
		return false
	}
	set := make(map[resource.Ref]bool, len(es))
	for _, e := range es {
		set[e.Ref] = true
	}
	for _, r := range refs {
		if !set[r] {
			return false
		}
	}
	return true
}
