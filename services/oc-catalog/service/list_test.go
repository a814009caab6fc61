package service_test

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/resource"

	"github.com/opencloud/opencloud/services/oc-catalog/client"
)

// fixture is a small catalog of several kinds, owners and visibilities.
type fixture struct {
	by map[string]resource.Resource // by name
}

func seed(t *testing.T, e *env) fixture {
	t.Helper()
	type item struct {
		owner authn.Principal
		kind  resource.Kind
		name  string
		desc  string
		tags  []string
		vis   resource.Visibility
		group string
	}
	items := []item{
		{alice, resource.KindData, "Sentinel tiles", "Satellite images of Europe", []string{"eo", "satellite"}, resource.Public, ""},
		{alice, resource.KindData, "census 2020", "Population by town", []string{"stats"}, resource.Partners, ""},
		{alice, resource.KindProcessing, "NDVI", "Vegetation index from satellite bands", []string{"eo", "raster"}, resource.Groups, "lab-a"},
		{alice, resource.KindStorage, "alice bucket", "Private results", []string{"s3"}, resource.Private, ""},
		{bob, resource.KindCompute, "Edge cluster", "ARM boards in Lyon", []string{"edge", "arm"}, resource.Public, ""},
		{bob, resource.KindWorkflow, "Crop monitoring", "Satellite pipeline for farms", []string{"eo", "agri"}, resource.Public, ""},
		{bob, resource.KindData, "bob secrets", "Nothing to see", []string{"eo"}, resource.Private, ""},
		{bob, resource.KindStorage, "Lab B bucket", "Shared with lab b", []string{"s3"}, resource.Groups, "lab-b"},
	}
	f := fixture{by: map[string]resource.Resource{}}
	for _, it := range items {
		in := sample(it.kind, it.name)
		in.Description, in.Tags, in.Visibility = it.desc, it.tags, it.vis
		if it.group != "" {
			in.Groups = []string{it.group}
		}
		f.by[it.name] = e.create(it.owner, in)
	}
	return f
}

func names(items []resource.Resource) []string {
	out := make([]string, len(items))
	for i, r := range items {
		out[i] = r.Name
	}
	return out
}

func sorted(xs ...string) []string {
	out := slices.Clone(xs)
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i]) < strings.ToLower(out[j]) })
	return out
}

func TestListFiltersAndSearch(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		seed(t, e)
		ctx := context.Background()
		tests := []struct {
			name string
			as   authn.Principal
			opts client.ListOptions
			want []string // in name order (the default)
		}{
			{"everything alice sees", alice, client.ListOptions{},
				sorted("Sentinel tiles", "census 2020", "NDVI", "alice bucket", "Edge cluster", "Crop monitoring")},
			{"everything bob sees", bob, client.ListOptions{},
				sorted("Sentinel tiles", "census 2020", "Edge cluster", "Crop monitoring", "bob secrets", "Lab B bucket")},
			{"carol is in lab-a", carol, client.ListOptions{},
				sorted("Sentinel tiles", "census 2020", "NDVI", "Edge cluster", "Crop monitoring")},
			{"admin sees all", root, client.ListOptions{},
				sorted("Sentinel tiles", "census 2020", "NDVI", "alice bucket", "Edge cluster", "Crop monitoring", "bob secrets", "Lab B bucket")},
			{"kind", alice, client.ListOptions{Kind: resource.KindData}, sorted("Sentinel tiles", "census 2020")},
			{"tag", alice, client.ListOptions{Tags: []string{"eo"}}, sorted("Sentinel tiles", "NDVI", "Crop monitoring")},
			{"two tags, both required", alice, client.ListOptions{Tags: []string{"eo", "satellite"}}, []string{"Sentinel tiles"}},
			{"owner me", alice, client.ListOptions{Owner: "me"}, sorted("Sentinel tiles", "census 2020", "NDVI", "alice bucket")},
			{"owner bob, seen by alice", alice, client.ListOptions{Owner: "bob"}, sorted("Edge cluster", "Crop monitoring")},
			{"visibility", alice, client.ListOptions{Visibility: resource.Groups}, []string{"NDVI"}},
			{"visibility private of others", carol, client.ListOptions{Visibility: resource.Private}, []string{}},
			{"search name, any case", alice, client.ListOptions{Query: "SENTINEL"}, []string{"Sentinel tiles"}},
			{"search description", alice, client.ListOptions{Query: "satellite"}, sorted("Sentinel tiles", "NDVI", "Crop monitoring")},
			{"search every word", alice, client.ListOptions{Query: "satellite farms"}, []string{"Crop monitoring"}},
			{"search tags", alice, client.ListOptions{Query: "raster"}, []string{"NDVI"}},
			{"search hides the invisible", carol, client.ListOptions{Query: "secrets"}, []string{}},
			{"search wildcards are literal: %", alice, client.ListOptions{Query: "%"}, []string{}},
			{"search wildcards are literal: _", alice, client.ListOptions{Query: "_"}, []string{}},
			{"search regexp characters are literal", alice, client.ListOptions{Query: ".* ( [ \\"}, []string{}},
			{"search unicode", alice, client.ListOptions{Query: "été"}, []string{}},
			{"filters combine", alice, client.ListOptions{Kind: resource.KindData, Tags: []string{"eo"}, Query: "europe"}, []string{"Sentinel tiles"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				page, err := e.as(tt.as).List(ctx, tt.opts)
				if err != nil {
					t.Fatal(err)
				}
				if got := names(page.Items); !slices.Equal(got, tt.want) || page.Total != int64(len(tt.want)) {
					t.Errorf("got %v (total %d), want %v", got, page.Total, tt.want)
				}
			})
		}
	})
}

func TestListSortAndPaginate(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		f := seed(t, e)
		ctx := context.Background()
		c := e.as(root)
		all := sorted(names(mapValues(f.by))...)

		page, err := c.List(ctx, client.ListOptions{Sort: []string{"-name"}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := names(page.Items), reversed(all); !slices.Equal(got, want) {
			t.Errorf("-name: %v, want %v", got, want)
		}

		// Touch one resource: it becomes the most recently updated (after
		// the clock's millisecond, the precision times are kept at).
		time.Sleep(2 * time.Millisecond)
		touched := f.by["census 2020"]
		if _, err := e.as(alice).Patch(ctx, touched.ID, touched.Version, map[string]any{"description": "Updated"}); err != nil {
			t.Fatal(err)
		}
		page, err = c.List(ctx, client.ListOptions{Sort: []string{"-updated_at"}, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 || page.Items[0].ID != touched.ID || page.Total != int64(len(all)) || page.Limit != 1 {
			t.Errorf("-updated_at, limit 1: %+v, want %s first and total %d", names(page.Items), touched.Name, len(all))
		}

		page, err = c.List(ctx, client.ListOptions{Sort: []string{"kind", "name"}})
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(page.Items); i++ {
			a, b := page.Items[i-1], page.Items[i]
			if a.Kind > b.Kind || a.Kind == b.Kind && strings.ToLower(a.Name) > strings.ToLower(b.Name) {
				t.Errorf("kind,name: %s/%s before %s/%s", a.Kind, a.Name, b.Kind, b.Name)
			}
		}

		// Walk the pages: every resource exactly once, in order.
		var walked []string
		for offset := 0; ; offset += 3 {
			page, err := c.List(ctx, client.ListOptions{Limit: 3, Offset: offset})
			if err != nil {
				t.Fatal(err)
			}
			if page.Total != int64(len(all)) || page.Offset != offset || page.Limit != 3 {
				t.Fatalf("page at %d: total %d, offset %d, limit %d", offset, page.Total, page.Offset, page.Limit)
			}
			if len(page.Items) == 0 {
				break
			}
			walked = append(walked, names(page.Items)...)
		}
		if !slices.Equal(walked, all) {
			t.Errorf("pages walked %v, want %v", walked, all)
		}
		page, err = c.List(ctx, client.ListOptions{Offset: 100})
		if err != nil || len(page.Items) != 0 || page.Items == nil || page.Total != int64(len(all)) {
			t.Errorf("past the end: %+v, %v: want an empty list and the total", page, err)
		}
	})
}

func mapValues(m map[string]resource.Resource) []resource.Resource {
	out := make([]resource.Resource, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	return out
}

func reversed(xs []string) []string {
	out := slices.Clone(xs)
	slices.Reverse(out)
	return out
}
