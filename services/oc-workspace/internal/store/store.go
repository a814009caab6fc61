// Package store keeps workspaces, areas and the areas' op log in the libs
// document store, builds the domains' queries on it, and translates the
// store's errors into the domains'.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	ds "github.com/opencloud/opencloud/libs/store"
	wire "github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/internal/area"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/errs"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/workspace"
)

// WorkspaceSpec declares the workspace collection. workflow_id is unique:
// a workflow owns one workspace (the index is sparse, and workspaces no
// workflow owns do not store the field).
var WorkspaceSpec = ds.Spec{
	Name: "workspace_workspaces",
	Fields: []ds.Field{
		{Name: "id", Type: ds.String},
		{Name: "name", Type: ds.String},
		{Name: "sort_name", Type: ds.String},
		{Name: "owner", Type: ds.String},
		{Name: "workflow_id", Type: ds.String},
		{Name: "created_at", Type: ds.Time},
		{Name: "updated_at", Type: ds.Time},
	},
	Indexes: []ds.Index{{Fields: []string{"workflow_id"}, Unique: true}},
	Text:    []string{"name"},
}

// AreaSpec declares the area collection: the derived arrays let lists find
// the areas of a member and those sharing an item ("peer/id" keys).
var AreaSpec = ds.Spec{
	Name: "workspace_areas",
	Fields: []ds.Field{
		{Name: "name", Type: ds.String},
		{Name: "sort_name", Type: ds.String},
		{Name: "member_subjects", Type: ds.StringArray},
		{Name: "peer_count", Type: ds.Int},
		{Name: "shared_workspaces", Type: ds.StringArray},
		{Name: "shared_workflows", Type: ds.StringArray},
		{Name: "shared_resources", Type: ds.StringArray},
		{Name: "created_at", Type: ds.Time},
		{Name: "updated_at", Type: ds.Time},
	},
	Text: []string{"name"},
}

// OpSpec declares the areas' op log.
var OpSpec = ds.Spec{
	Name: "workspace_area_ops",
	Fields: []ds.Field{
		{Name: "area_id", Type: ds.String},
		{Name: "seq", Type: ds.Int},
		{Name: "origin_seq", Type: ds.Int},
	},
	Indexes: []ds.Index{{Fields: []string{"area_id", "seq"}, Unique: true}},
}

// Open opens (creating if needed) the three collections.
func Open(ctx context.Context, s ds.Store) (*Workspaces, *Areas, *Ops, error) {
	var cs [3]ds.Collection
	for i, spec := range []ds.Spec{WorkspaceSpec, AreaSpec, OpSpec} {
		c, err := s.Collection(ctx, spec)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("open collection %s: %w", spec.Name, err)
		}
		cs[i] = c
	}
	return &Workspaces{c: cs[0]}, &Areas{c: cs[1]}, &Ops{c: cs[2]}, nil
}

// All implements area.OpLog.
func (s *Ops) All(ctx context.Context, areaID string) ([]wire.Op, error) {
	ops, _, err := s.find(ctx, areaID, false, 0, 0)
	return ops, err
}

// Seal implements area.OpLog.
func (s *Ops) Seal(ctx context.Context, op wire.Op) error {
	_, err := s.c.UpdateIf(ctx, op.ID, nil, map[string]any{"origin_seq": op.OriginSeq, "key_id": op.KeyID, "sig": op.Sig})
	if err != nil {
		return fmt.Errorf("seal op %s: %w", op.ID, translate(err))
	}
	return nil
}

// ---- workspaces ----

type workspaceDoc struct {
	wire.Workspace
	WorkflowVersion int64  `json:"workflow_version,omitempty"`
	SortName        string `json:"sort_name"`
}

// Workspaces implements workspace.Repository.
type Workspaces struct{ c ds.Collection }

var _ workspace.Repository = (*Workspaces)(nil)

func toWorkspaceDoc(r workspace.Record) workspaceDoc {
	if r.Resources == nil {
		r.Resources = []wire.Entry{}
	}
	return workspaceDoc{Workspace: r.Workspace, WorkflowVersion: r.WorkflowVersion, SortName: strings.ToLower(r.Name)}
}

func (d workspaceDoc) record(id string, v int64) workspace.Record {
	d.Workspace.ID, d.Workspace.Version = id, v
	if d.Resources == nil {
		d.Resources = []wire.Entry{}
	}
	return workspace.Record{Workspace: d.Workspace, WorkflowVersion: d.WorkflowVersion}
}

// Count returns how many workspaces are stored.
func (s *Workspaces) Count(ctx context.Context) (int64, error) {
	n, err := s.c.Count(ctx, nil)
	return n, translate(err)
}

// Insert implements workspace.Repository.
func (s *Workspaces) Insert(ctx context.Context, r workspace.Record) (int64, error) {
	v, err := s.c.Insert(ctx, r.ID, toWorkspaceDoc(r))
	if err != nil {
		return 0, fmt.Errorf("insert workspace %s: %w", r.ID, translate(err))
	}
	return v, nil
}

// Get implements workspace.Repository.
func (s *Workspaces) Get(ctx context.Context, id string) (workspace.Record, error) {
	var d workspaceDoc
	v, err := s.c.Get(ctx, id, &d)
	if err != nil {
		return workspace.Record{}, fmt.Errorf("get workspace %s: %w", id, translateAs(err, "workspace"))
	}
	return d.record(id, v), nil
}

// ByWorkflow implements workspace.Repository.
func (s *Workspaces) ByWorkflow(ctx context.Context, workflowID string) (workspace.Record, error) {
	recs, _, err := s.c.Find(ctx, ds.Query{Filter: ds.Eq("workflow_id", workflowID), Limit: 1})
	if err != nil {
		return workspace.Record{}, fmt.Errorf("workspace of workflow %s: %w", workflowID, translate(err))
	}
	if len(recs) == 0 {
		return workspace.Record{}, fmt.Errorf("workspace of workflow %s: %w", workflowID, errs.NotFound("workspace"))
	}
	var d workspaceDoc
	if err := recs[0].Decode(&d); err != nil {
		return workspace.Record{}, fmt.Errorf("decode workspace %s: %w", recs[0].ID, err)
	}
	return d.record(recs[0].ID, recs[0].Version), nil
}

// Replace implements workspace.Repository.
func (s *Workspaces) Replace(ctx context.Context, r workspace.Record, version int64) (int64, error) {
	v, err := s.c.Replace(ctx, r.ID, version, toWorkspaceDoc(r))
	if err != nil {
		return 0, fmt.Errorf("replace workspace %s: %w", r.ID, translateAs(err, "workspace"))
	}
	return v, nil
}

// Delete implements workspace.Repository.
func (s *Workspaces) Delete(ctx context.Context, id string, version int64) error {
	if err := s.c.Delete(ctx, id, version); err != nil {
		return fmt.Errorf("delete workspace %s: %w", id, translateAs(err, "workspace"))
	}
	return nil
}

// Find implements workspace.Repository.
func (s *Workspaces) Find(ctx context.Context, q workspace.Query) ([]wire.Workspace, int64, error) {
	var all []ds.Filter
	if v := q.Visible; v != nil {
		visible := []ds.Filter{ds.Eq("owner", v.Subject)}
		if len(v.SharedIDs) > 0 {
			visible = append(visible, ds.In("id", anys(v.SharedIDs)...))
		}
		all = append(all, ds.Or(visible...))
	}
	if q.IDs != nil {
		// An empty In matches nothing, as an area sharing no workspace should.
		all = append(all, ds.In("id", anys(q.IDs)...))
	}
	if q.WorkflowID != "" {
		all = append(all, ds.Eq("workflow_id", q.WorkflowID))
	}
	if q.Owner != "" {
		all = append(all, ds.Eq("owner", q.Owner))
	}
	if strings.TrimSpace(q.Text) != "" {
		all = append(all, ds.Text(q.Text))
	}
	sorts := make([]ds.Sort, len(q.Sort))
	for i, so := range q.Sort {
		f := string(so.Field)
		if so.Field == workspace.SortName {
			f = "sort_name"
		}
		sorts[i] = ds.Sort{Field: f, Desc: so.Desc}
	}
	recs, total, err := s.c.Find(ctx, ds.Query{Filter: and(all), Sort: sorts, Limit: q.Limit, Offset: q.Offset})
	if err != nil {
		return nil, 0, fmt.Errorf("find workspaces: %w", translate(err))
	}
	out := make([]wire.Workspace, 0, len(recs))
	for _, rec := range recs {
		var d workspaceDoc
		if err := rec.Decode(&d); err != nil {
			return nil, 0, fmt.Errorf("decode workspace %s: %w", rec.ID, err)
		}
		out = append(out, d.record(rec.ID, rec.Version).Workspace)
	}
	return out, total, nil
}

// ---- areas ----

type areaDoc struct {
	wire.Area
	Items    []area.Item `json:"items"`
	LastOp   *wire.Op    `json:"last_op,omitempty"`
	Pending  []wire.Op   `json:"pending_ops,omitempty"`
	Vector   area.Vector `json:"vector,omitempty"`
	SortName string      `json:"sort_name"`
	// MemberSubjects are the subjects of the members who are users of
	// this peer; PeerCount counts the member peers.
	MemberSubjects   []string `json:"member_subjects"`
	PeerCount        int      `json:"peer_count"`
	SharedWorkspaces []string `json:"shared_workspaces"`
	SharedWorkflows  []string `json:"shared_workflows"`
	SharedResources  []string `json:"shared_resources"`
}

// Areas implements area.Repository.
type Areas struct {
	c ds.Collection
	// Self is this peer's id: members of other peers are not listed as
	// this peer's users.
	Self string
}

var _ area.Repository = (*Areas)(nil)

func (s *Areas) toAreaDoc(r area.Record) areaDoc {
	d := areaDoc{Area: r.Area, Items: r.Items, LastOp: r.LastOp, Pending: r.Pending, Vector: r.Vector, PeerCount: len(r.Peers),
		SortName:       strings.ToLower(r.Name),
		MemberSubjects: []string{}, SharedWorkspaces: []string{}, SharedWorkflows: []string{}, SharedResources: []string{}}
	// Items are the truth of the shared list; storing both would let them drift.
	d.Area.Shared = nil
	if d.Items == nil {
		d.Items = []area.Item{}
	}
	for _, m := range r.Members {
		if m.Peer == "" || m.Peer == s.Self {
			d.MemberSubjects = append(d.MemberSubjects, m.Subject)
		}
	}
	for _, it := range r.Items {
		k := area.Key(it.Ref)
		switch it.Kind {
		case wire.SharedWorkspace:
			d.SharedWorkspaces = append(d.SharedWorkspaces, k)
		case wire.SharedWorkflow:
			d.SharedWorkflows = append(d.SharedWorkflows, k)
		case wire.SharedResource:
			d.SharedResources = append(d.SharedResources, k)
		}
	}
	return d
}

func (d areaDoc) record(id string, v int64) area.Record {
	d.Area.ID, d.Area.Version = id, v
	return area.Record{Area: d.Area, Items: d.Items, LastOp: d.LastOp, Pending: d.Pending, Vector: d.Vector}
}

// Insert implements area.Repository.
func (s *Areas) Insert(ctx context.Context, r area.Record) (int64, error) {
	v, err := s.c.Insert(ctx, r.ID, s.toAreaDoc(r))
	if err != nil {
		return 0, fmt.Errorf("insert area %s: %w", r.ID, translate(err))
	}
	return v, nil
}

// Get implements area.Repository.
func (s *Areas) Get(ctx context.Context, id string) (area.Record, error) {
	var d areaDoc
	v, err := s.c.Get(ctx, id, &d)
	if err != nil {
		return area.Record{}, fmt.Errorf("get area %s: %w", id, translateAs(err, "area"))
	}
	return d.record(id, v), nil
}

// Replace implements area.Repository.
func (s *Areas) Replace(ctx context.Context, r area.Record, version int64) (int64, error) {
	v, err := s.c.Replace(ctx, r.ID, version, s.toAreaDoc(r))
	if err != nil {
		return 0, fmt.Errorf("replace area %s: %w", r.ID, translateAs(err, "area"))
	}
	return v, nil
}

// Delete implements area.Repository.
func (s *Areas) Delete(ctx context.Context, id string, version int64) error {
	if err := s.c.Delete(ctx, id, version); err != nil {
		return fmt.Errorf("delete area %s: %w", id, translateAs(err, "area"))
	}
	return nil
}

// Find implements area.Repository.
func (s *Areas) Find(ctx context.Context, q area.Query) ([]area.Record, int64, error) {
	var all []ds.Filter
	for _, m := range q.Members {
		all = append(all, ds.Eq("member_subjects", m))
	}
	if q.WithPeers {
		all = append(all, ds.Gt("peer_count", 0))
	}
	for field, v := range map[string]string{"shared_workflows": q.Workflow, "shared_workspaces": q.Workspace, "shared_resources": q.Resource} {
		if v != "" {
			all = append(all, ds.Eq(field, v))
		}
	}
	if strings.TrimSpace(q.Text) != "" {
		all = append(all, ds.Text(q.Text))
	}
	sorts := make([]ds.Sort, len(q.Sort))
	for i, so := range q.Sort {
		f := string(so.Field)
		if so.Field == area.SortName {
			f = "sort_name"
		}
		sorts[i] = ds.Sort{Field: f, Desc: so.Desc}
	}
	recs, total, err := s.c.Find(ctx, ds.Query{Filter: and(all), Sort: sorts, Limit: q.Limit, Offset: q.Offset})
	if err != nil {
		return nil, 0, fmt.Errorf("find areas: %w", translate(err))
	}
	out := make([]area.Record, 0, len(recs))
	for _, rec := range recs {
		var d areaDoc
		if err := rec.Decode(&d); err != nil {
			return nil, 0, fmt.Errorf("decode area %s: %w", rec.ID, err)
		}
		out = append(out, d.record(rec.ID, rec.Version))
	}
	return out, total, nil
}

// ---- op log ----

// Ops implements area.OpLog.
type Ops struct{ c ds.Collection }

var _ area.OpLog = (*Ops)(nil)

// Append implements area.OpLog.
func (s *Ops) Append(ctx context.Context, op wire.Op) error {
	if _, err := s.c.Insert(ctx, op.ID, op); err != nil {
		return fmt.Errorf("append op %s: %w", op.ID, translate(err))
	}
	return nil
}

// List implements area.OpLog.
func (s *Ops) List(ctx context.Context, areaID string, limit, offset int) ([]wire.Op, int64, error) {
	return s.find(ctx, areaID, true, limit, offset)
}

func (s *Ops) find(ctx context.Context, areaID string, newest bool, limit, offset int) ([]wire.Op, int64, error) {
	recs, total, err := s.c.Find(ctx, ds.Query{Filter: ds.Eq("area_id", areaID),
		Sort: []ds.Sort{{Field: "seq", Desc: newest}}, Limit: limit, Offset: offset})
	if err != nil {
		return nil, 0, fmt.Errorf("history of area %s: %w", areaID, translate(err))
	}
	out := make([]wire.Op, 0, len(recs))
	for _, rec := range recs {
		var op wire.Op
		if err := rec.Decode(&op); err != nil {
			return nil, 0, fmt.Errorf("decode op %s: %w", rec.ID, err)
		}
		op.ID = rec.ID
		op.Stamp.At = op.Stamp.At.UTC()
		out = append(out, op)
	}
	return out, total, nil
}

// Count returns how many ops area areaID has in the log.
func (s *Ops) Count(ctx context.Context, areaID string) (int64, error) {
	n, err := s.c.Count(ctx, ds.Eq("area_id", areaID))
	return n, translate(err)
}

func and(fs []ds.Filter) ds.Filter {
	if len(fs) == 0 {
		return nil
	}
	return ds.And(fs...)
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func translate(err error) error { return translateAs(err, "document") }

func translateAs(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ds.ErrNotFound):
		return fmt.Errorf("%w (%w)", errs.NotFound(what), err)
	case errors.Is(err, ds.ErrVersionConflict):
		return fmt.Errorf("%w (%w)", errs.ErrVersionConflict, err)
	case errors.Is(err, ds.ErrDuplicate):
		return fmt.Errorf("%w (%w)", errs.ErrDuplicate, err)
	}
	return err
}
