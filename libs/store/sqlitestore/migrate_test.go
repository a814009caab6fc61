package sqlitestore_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/sqlitestore"
	"github.com/opencloud/opencloud/libs/testenv"
)

// reopen opens the file at path with spec, runs check, and closes it again,
// as a service restart would.
func reopen(t *testing.T, path string, spec store.Spec, check func(store.Collection)) error {
	t.Helper()
	ctx := context.Background()
	s, err := sqlitestore.Open(ctx, path, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	c, err := s.Collection(ctx, spec)
	if err != nil {
		return err
	}
	check(c)
	return nil
}

func findIDs(t *testing.T, c store.Collection, q store.Query) []string {
	t.Helper()
	recs, _, err := c.Find(context.Background(), q)
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	return ids
}

// TestSpecChangesOnRestart declares fields, a text field and indexes on a
// file whose documents were written without them.
func TestSpecChangesOnRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	at := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	v1 := store.Spec{Name: "jobs", Fields: []store.Field{{Name: "name", Type: store.String}}}
	err := reopen(t, path, v1, func(c store.Collection) {
		for id, doc := range map[string]map[string]any{
			"a": {"name": "one", "size": 3, "at": at, "labels": []string{"x", "y"}, "title": "Hello World"},
			"b": {"name": "two", "size": 1, "at": at.Add(time.Hour), "labels": []string{"y"}, "title": "Other"},
			"c": {"name": "two", "size": "big", "at": "soon", "labels": "x"},
		} {
			if _, err := c.Insert(ctx, id, doc); err != nil {
				t.Fatal(err)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	v2 := store.Spec{
		Name: "jobs",
		Fields: []store.Field{
			{Name: "name", Type: store.String}, {Name: "size", Type: store.Int},
			{Name: "at", Type: store.Time}, {Name: "labels", Type: store.StringArray},
			{Name: "title", Type: store.String},
		},
		Indexes: []store.Index{{Fields: []string{"size", "at"}}},
		Text:    []string{"title"},
	}
	err = reopen(t, path, v2, func(c store.Collection) {
		for _, tc := range []struct {
			name string
			q    store.Query
			want []string
		}{
			{"new Int field", store.Query{Filter: store.Gte("size", 1), Sort: []store.Sort{{Field: "size"}}}, []string{"b", "a"}},
			{"new Time field", store.Query{Filter: store.Gt("at", at)}, []string{"b"}},
			{"new StringArray field", store.Query{Filter: store.Eq("labels", "x")}, []string{"a"}},
			{"new Text field", store.Query{Filter: store.Text("hello")}, []string{"a"}},
			{"misfit values read as null", store.Query{Filter: store.Eq("size", nil)}, []string{"c"}},
		} {
			if got := findIDs(t, c, tc.q); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
		// The misfit document is still there, and can be fixed.
		if _, err := c.Replace(ctx, "c", 1, map[string]any{"name": "two", "size": 2}); err != nil {
			t.Errorf("fixing c: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	// A unique index the data violates fails the open and changes nothing.
	v3 := v2
	v3.Indexes = []store.Index{{Fields: []string{"name"}, Unique: true}}
	err = reopen(t, path, v3, func(store.Collection) {})
	if !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("unique index on duplicates: %v, want ErrDuplicate", err)
	}
	err = reopen(t, path, v2, func(c store.Collection) {
		if got := findIDs(t, c, store.Query{Filter: store.Eq("size", 2)}); !slices.Equal(got, []string{"c"}) {
			t.Errorf("after the failed migration: %v", got)
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	// Dropping a field from the spec drops its index; a unique index that
	// is dropped no longer refuses duplicates.
	v4 := store.Spec{Name: "jobs", Fields: []store.Field{{Name: "title", Type: store.String}},
		Indexes: []store.Index{{Fields: []string{"title"}, Unique: true}}}
	if err := reopen(t, path, v4, func(store.Collection) {}); err != nil {
		t.Fatal(err)
	}
	err = reopen(t, path, v1, func(c store.Collection) {
		if _, err := c.Insert(ctx, "d", map[string]any{"title": "Other"}); err != nil {
			t.Errorf("insert after the unique index was dropped: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDeclaringIDOnRestart declares the store's own "id" on a collection
// created without it, as oc-catalog did to look resources up by id.
func TestDeclaringIDOnRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	v1 := store.Spec{Name: "things", Fields: []store.Field{{Name: "name", Type: store.String}}}
	if err := reopen(t, path, v1, func(c store.Collection) {
		for _, id := range []string{"a", "b", "c"} {
			if _, err := c.Insert(ctx, id, map[string]any{"name": id}); err != nil {
				t.Fatal(err)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	v2 := store.Spec{Name: "things", Fields: []store.Field{{Name: "id", Type: store.String}, {Name: "name", Type: store.String}}}
	for range 2 { // the second open finds the spec already applied
		if err := reopen(t, path, v2, func(c store.Collection) {
			if got := findIDs(t, c, store.Query{Filter: store.In("id", "c", "a", "zz")}); !slices.Equal(got, []string{"a", "c"}) {
				t.Errorf("In(id): %v, want [a c]", got)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
}
