// Package store keeps workflows in the libs document store and builds the
// domain's queries on it, translating the store's errors into the domain's.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	ds "github.com/opencloud/opencloud/libs/store"
	wf "github.com/opencloud/opencloud/libs/workflow"

	"github.com/opencloud/opencloud/services/oc-workflow/internal/workflow"
)

// Spec declares the workflow collection: the fields lists filter and sort
// on, and those a search looks into.
var Spec = ds.Spec{
	Name: "workflows",
	Fields: []ds.Field{
		{Name: "id", Type: ds.String},
		{Name: "name", Type: ds.String},
		{Name: "description", Type: ds.String},
		{Name: "sort_name", Type: ds.String},
		{Name: "owner", Type: ds.String},
		{Name: "tags", Type: ds.StringArray},
		{Name: "uses", Type: ds.StringArray},
		{Name: "created_at", Type: ds.Time},
		{Name: "updated_at", Type: ds.Time},
	},
	Text: []string{"name", "description"},
}

// SyncSpec declares the collection of workspace sync records, one per
// workflow, apart so that recording a sync leaves the workflow's version alone.
var SyncSpec = ds.Spec{
	Name: "workflow_workspace_syncs",
	Fields: []ds.Field{
		{Name: "id", Type: ds.String},
		{Name: "synced_version", Type: ds.Int},
	},
}

// doc is the stored shape: the wire workflow plus what queries need.
type doc struct {
	wf.Workflow
	// SortName orders by name regardless of case.
	SortName string `json:"sort_name"`
	// Uses are the referenced resources as "peer/id", for the uses filter.
	Uses []string `json:"uses"`
}

type syncDoc struct {
	ID            string `json:"id"`
	WorkspaceID   string `json:"workspace_id"`
	SyncedVersion int64  `json:"synced_version"`
}

// Workflows implements workflow.Repository.
type Workflows struct {
	c     ds.Collection
	syncs ds.Collection
}

var _ workflow.Repository = (*Workflows)(nil)

// Open opens (creating if needed) the workflow collections.
func Open(ctx context.Context, s ds.Store) (*Workflows, error) {
	c, err := s.Collection(ctx, Spec)
	if err != nil {
		return nil, fmt.Errorf("open collection %s: %w", Spec.Name, err)
	}
	syncs, err := s.Collection(ctx, SyncSpec)
	if err != nil {
		return nil, fmt.Errorf("open collection %s: %w", SyncSpec.Name, err)
	}
	return &Workflows{c: c, syncs: syncs}, nil
}

// Count returns how many workflows are stored, whoever owns them.
func (s *Workflows) Count(ctx context.Context) (int64, error) {
	n, err := s.c.Count(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("count workflows: %w", translate(err))
	}
	return n, nil
}

// Insert implements workflow.Repository.
func (s *Workflows) Insert(ctx context.Context, w wf.Workflow) (int64, error) {
	v, err := s.c.Insert(ctx, w.ID, toDoc(w))
	if err != nil {
		return 0, fmt.Errorf("insert workflow %s: %w", w.ID, translate(err))
	}
	return v, nil
}

// Get implements workflow.Repository.
func (s *Workflows) Get(ctx context.Context, id string) (wf.Workflow, error) {
	var d doc
	v, err := s.c.Get(ctx, id, &d)
	if err != nil {
		return wf.Workflow{}, fmt.Errorf("get workflow %s: %w", id, translate(err))
	}
	return fromDoc(d, id, v), nil
}

// Replace implements workflow.Repository.
func (s *Workflows) Replace(ctx context.Context, w wf.Workflow, version int64) (int64, error) {
	v, err := s.c.Replace(ctx, w.ID, version, toDoc(w))
	if err != nil {
		return 0, fmt.Errorf("replace workflow %s: %w", w.ID, translate(err))
	}
	return v, nil
}

// Delete implements workflow.Repository.
func (s *Workflows) Delete(ctx context.Context, id string, version int64) error {
	if err := s.c.Delete(ctx, id, version); err != nil {
		return fmt.Errorf("delete workflow %s: %w", id, translate(err))
	}
	return nil
}

// Find implements workflow.Repository.
func (s *Workflows) Find(ctx context.Context, q workflow.Query) ([]wf.Workflow, int64, error) {
	if q.IDs != nil && len(q.IDs) == 0 {
		return []wf.Workflow{}, 0, nil
	}
	recs, total, err := s.c.Find(ctx, ds.Query{Filter: filter(q), Sort: sorts(q.Sort), Limit: q.Limit, Offset: q.Offset})
	if err != nil {
		return nil, 0, fmt.Errorf("find workflows: %w", translate(err))
	}
	out := make([]wf.Workflow, 0, len(recs))
	for _, rec := range recs {
		var d doc
		if err := rec.Decode(&d); err != nil {
			return nil, 0, fmt.Errorf("decode workflow %s: %w", rec.ID, err)
		}
		out = append(out, fromDoc(d, rec.ID, rec.Version))
	}
	return out, total, nil
}

// Synced implements workflow.Repository.
func (s *Workflows) Synced(ctx context.Context, ids []string) (map[string]workflow.Sync, error) {
	out := make(map[string]workflow.Sync, len(ids))
	if len(ids) == 1 {
		var d syncDoc
		_, err := s.syncs.Get(ctx, ids[0], &d)
		if errors.Is(err, ds.ErrNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("get sync record %s: %w", ids[0], err)
		}
		out[ids[0]] = workflow.Sync{WorkspaceID: d.WorkspaceID, Version: d.SyncedVersion}
		return out, nil
	}
	vals := make([]any, len(ids))
	for i, id := range ids {
		vals[i] = id
	}
	recs, _, err := s.syncs.Find(ctx, ds.Query{Filter: ds.In("id", vals...)})
	if err != nil {
		return nil, fmt.Errorf("find sync records: %w", err)
	}
	for _, rec := range recs {
		var d syncDoc
		if err := rec.Decode(&d); err != nil {
			return nil, fmt.Errorf("decode sync record %s: %w", rec.ID, err)
		}
		out[rec.ID] = workflow.Sync{WorkspaceID: d.WorkspaceID, Version: d.SyncedVersion}
	}
	return out, nil
}

// MarkSynced implements workflow.Repository.
func (s *Workflows) MarkSynced(ctx context.Context, id string, st workflow.Sync) error {
	_, err := s.syncs.Insert(ctx, id, syncDoc{ID: id, WorkspaceID: st.WorkspaceID, SyncedVersion: st.Version})
	if !errors.Is(err, ds.ErrDuplicate) {
		if err != nil {
			return fmt.Errorf("insert sync record %s: %w", id, err)
		}
		return nil
	}
	_, err = s.syncs.UpdateIf(ctx, id, ds.Lt("synced_version", st.Version),
		map[string]any{"workspace_id": st.WorkspaceID, "synced_version": st.Version})
	if errors.Is(err, ds.ErrConditionFailed) {
		// A newer version is carried already.
		return nil
	}
	if err != nil {
		return fmt.Errorf("update sync record %s: %w", id, err)
	}
	return nil
}

// ForgetSync implements workflow.Repository.
func (s *Workflows) ForgetSync(ctx context.Context, id string) error {
	if err := s.syncs.Delete(ctx, id, 0); err != nil && !errors.Is(err, ds.ErrNotFound) {
		return fmt.Errorf("delete sync record %s: %w", id, err)
	}
	return nil
}

func filter(q workflow.Query) ds.Filter {
	var all []ds.Filter
	if q.Viewer != "" {
		all = append(all, ds.Eq("owner", q.Viewer))
	}
	if q.IDs != nil {
		vals := make([]any, len(q.IDs))
		for i, id := range q.IDs {
			vals[i] = id
		}
		all = append(all, ds.In("id", vals...))
	}
	if q.Owner != "" {
		all = append(all, ds.Eq("owner", q.Owner))
	}
	for _, t := range q.Tags {
		all = append(all, ds.Eq("tags", t))
	}
	if q.Uses != nil {
		all = append(all, ds.Eq("uses", q.Uses.String()))
	}
	if strings.TrimSpace(q.Text) != "" {
		all = append(all, ds.Text(q.Text))
	}
	if len(all) == 0 {
		return nil
	}
	return ds.And(all...)
}

func sorts(in []workflow.Sort) []ds.Sort {
	out := make([]ds.Sort, 0, len(in))
	for _, s := range in {
		field := string(s.Field)
		if s.Field == workflow.SortName {
			field = "sort_name"
		}
		out = append(out, ds.Sort{Field: field, Desc: s.Desc})
	}
	return out
}

func toDoc(w wf.Workflow) doc {
	// The sync state lives in its own collection.
	w.WorkspaceID, w.WorkspaceInSync = "", false
	uses := make([]string, 0, len(w.Graph.Nodes))
	for _, r := range wf.UsageOf(w.Graph).Resources {
		uses = append(uses, r.String())
	}
	return doc{Workflow: w, SortName: strings.ToLower(w.Name), Uses: uses}
}

func fromDoc(d doc, id string, version int64) wf.Workflow {
	w := d.Workflow
	w.ID, w.Version = id, version
	if w.Tags == nil {
		w.Tags = []string{}
	}
	if w.Graph.Nodes == nil {
		w.Graph.Nodes = []wf.Node{}
	}
	if w.Graph.Links == nil {
		w.Graph.Links = []wf.Link{}
	}
	return w
}

func translate(err error) error {
	switch {
	case errors.Is(err, ds.ErrNotFound):
		return fmt.Errorf("%w (%w)", workflow.ErrNotFound, err)
	case errors.Is(err, ds.ErrVersionConflict):
		return fmt.Errorf("%w (%w)", workflow.ErrVersionConflict, err)
	}
	return err
}
