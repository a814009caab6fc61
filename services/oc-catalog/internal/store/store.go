// Package store keeps catalog resources in the libs document store and
// builds the catalog's queries on it, translating the store's errors into
// the catalog's.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/opencloud/opencloud/libs/resource"
	ds "github.com/opencloud/opencloud/libs/store"

	"github.com/opencloud/opencloud/services/oc-catalog/internal/catalog"
)

// Spec declares the collection: the fields lists filter and sort on, and
// the fields a search looks into (which must be declared too).
var Spec = ds.Spec{
	Name: "catalog_resources",
	Fields: []ds.Field{
		{Name: "id", Type: ds.String},
		{Name: "name", Type: ds.String},
		{Name: "short_description", Type: ds.String},
		{Name: "description", Type: ds.String},
		{Name: "kind", Type: ds.String},
		{Name: "sort_name", Type: ds.String},
		{Name: "owners", Type: ds.StringArray},
		{Name: "tags", Type: ds.StringArray},
		{Name: "visibility", Type: ds.String},
		{Name: "groups", Type: ds.StringArray},
		{Name: "created_at", Type: ds.Time},
		{Name: "updated_at", Type: ds.Time},
	},
	Text: []string{"name", "short_description", "description", "tags"},
}

// doc is the stored shape: the wire resource plus what queries need.
type doc struct {
	resource.Resource
	// SortName orders by name regardless of case.
	SortName string `json:"sort_name"`
}

// Resources implements catalog.Repository.
type Resources struct{ c ds.Collection }

var _ catalog.Repository = (*Resources)(nil)

// Open opens (creating if needed) the resource collection.
func Open(ctx context.Context, s ds.Store) (*Resources, error) {
	c, err := s.Collection(ctx, Spec)
	if err != nil {
		return nil, fmt.Errorf("open collection %s: %w", Spec.Name, err)
	}
	return &Resources{c: c}, nil
}

// Count returns how many resources are stored (all of them, whoever owns them).
func (s *Resources) Count(ctx context.Context) (int64, error) {
	n, err := s.c.Count(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("count resources: %w", translate(err))
	}
	return n, nil
}

// Insert implements catalog.Repository.
func (s *Resources) Insert(ctx context.Context, r resource.Resource) (int64, error) {
	v, err := s.c.Insert(ctx, r.ID, toDoc(r))
	if err != nil {
		return 0, fmt.Errorf("insert resource %s: %w", r.ID, translate(err))
	}
	return v, nil
}

// Get implements catalog.Repository.
func (s *Resources) Get(ctx context.Context, id string) (resource.Resource, error) {
	var d doc
	v, err := s.c.Get(ctx, id, &d)
	if err != nil {
		return resource.Resource{}, fmt.Errorf("get resource %s: %w", id, translate(err))
	}
	d.Resource.ID, d.Resource.Version = id, v
	return d.Resource, nil
}

// Replace implements catalog.Repository.
func (s *Resources) Replace(ctx context.Context, r resource.Resource, version int64) (int64, error) {
	v, err := s.c.Replace(ctx, r.ID, version, toDoc(r))
	if err != nil {
		return 0, fmt.Errorf("replace resource %s: %w", r.ID, translate(err))
	}
	return v, nil
}

// Delete implements catalog.Repository.
func (s *Resources) Delete(ctx context.Context, id string, version int64) error {
	if err := s.c.Delete(ctx, id, version); err != nil {
		return fmt.Errorf("delete resource %s: %w", id, translate(err))
	}
	return nil
}

// Find implements catalog.Repository.
func (s *Resources) Find(ctx context.Context, q catalog.Query) ([]resource.Resource, int64, error) {
	recs, total, err := s.c.Find(ctx, ds.Query{Filter: filter(q), Sort: sorts(q.Sort), Limit: q.Limit, Offset: q.Offset})
	if err != nil {
		return nil, 0, fmt.Errorf("find resources: %w", translate(err))
	}
	out := make([]resource.Resource, 0, len(recs))
	for _, rec := range recs {
		var d doc
		if err := rec.Decode(&d); err != nil {
			return nil, 0, fmt.Errorf("decode resource %s: %w", rec.ID, err)
		}
		d.Resource.ID, d.Resource.Version = rec.ID, rec.Version
		out = append(out, d.Resource)
	}
	return out, total, nil
}

// filter is the query's conditions and the viewer's visibility rule, the
// same rule as catalog.CanSee.
func filter(q catalog.Query) ds.Filter {
	var all []ds.Filter
	if rm := q.Viewer.Remote; rm != nil {
		visible := []ds.Filter{ds.Eq("visibility", string(resource.Public))}
		if rm.Partner {
			visible = append(visible, ds.Eq("visibility", string(resource.Partners)))
		}
		if len(rm.Groups) > 0 {
			groups := make([]any, len(rm.Groups))
			for i, g := range rm.Groups {
				groups[i] = g
			}
			visible = append(visible, ds.And(ds.Eq("visibility", string(resource.Groups)), ds.In("groups", groups...)))
		}
		all = append(all, ds.Or(visible...))
	} else if v := q.Viewer; !v.All {
		visible := []ds.Filter{
			ds.In("visibility", string(resource.Public), string(resource.Partners)),
			ds.Eq("owners", v.Subject),
		}
		if len(v.Groups) > 0 {
			groups := make([]any, len(v.Groups))
			for i, g := range v.Groups {
				groups[i] = g
			}
			visible = append(visible, ds.And(ds.Eq("visibility", string(resource.Groups)), ds.In("groups", groups...)))
		}
		all = append(all, ds.Or(visible...))
	}
	if q.Kind != "" {
		all = append(all, ds.Eq("kind", string(q.Kind)))
	}
	for _, t := range q.Tags {
		all = append(all, ds.Eq("tags", t))
	}
	if q.Owner != "" {
		all = append(all, ds.Eq("owners", q.Owner))
	}
	if q.Visibility != "" {
		all = append(all, ds.Eq("visibility", string(q.Visibility)))
	}
	if len(q.IDs) > 0 {
		ids := make([]any, len(q.IDs))
		for i, id := range q.IDs {
			ids[i] = id
		}
		all = append(all, ds.In("id", ids...))
	}
	if strings.TrimSpace(q.Text) != "" {
		all = append(all, ds.Text(q.Text))
	}
	if len(all) == 0 {
		return nil
	}
	return ds.And(all...)
}

func sorts(in []catalog.Sort) []ds.Sort {
	out := make([]ds.Sort, 0, len(in))
	for _, s := range in {
		field := string(s.Field)
		if s.Field == catalog.SortName {
			field = "sort_name"
		}
		out = append(out, ds.Sort{Field: field, Desc: s.Desc})
	}
	return out
}

func toDoc(r resource.Resource) doc {
	return doc{Resource: r, SortName: strings.ToLower(r.Name)}
}

func translate(err error) error {
	switch {
	case errors.Is(err, ds.ErrNotFound):
		return fmt.Errorf("%w (%w)", catalog.ErrNotFound, err)
	case errors.Is(err, ds.ErrVersionConflict):
		return fmt.Errorf("%w (%w)", catalog.ErrVersionConflict, err)
	}
	return err
}
