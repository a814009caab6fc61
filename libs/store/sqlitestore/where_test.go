package sqlitestore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/store"
)

// TestFiltersUseIndexes checks the promise of the store API that queries on
// declared fields do not scan: SQLite's plan searches an index for each.
func TestFiltersUseIndexes(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close(ctx) }()
	sc, err := s.Collection(ctx, store.Spec{
		Name: "jobs",
		Fields: []store.Field{
			{Name: "id", Type: store.String}, {Name: "state", Type: store.String}, {Name: "size", Type: store.Int},
			{Name: "at", Type: store.Time}, {Name: "tags", Type: store.StringArray}, {Name: "owner.name", Type: store.String},
		},
		Indexes: []store.Index{{Fields: []string{"state", "at"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := sc.(*collection)
	for _, f := range []store.Filter{
		store.Eq("state", "new"),
		store.In("state", "new", "done"),
		store.Gt("size", 3),
		store.And(store.Gte("at", time.Now()), store.Lt("at", time.Now())),
		store.Eq("tags", "x"),
		store.In("tags", "x", "y"),
		store.Eq("owner.name", "ann"),
		store.In("id", "a", "b"),
		store.And(store.Eq("state", "new"), store.Lt("at", time.Now())),
	} {
		where, err := c.where(f)
		if err != nil {
			t.Fatal(err)
		}
		plan := explain(t, s, "SELECT id FROM "+c.table+" WHERE "+where.sql.String(), where.args)
		if strings.Contains(plan, "SCAN jobs") || !strings.Contains(plan, "USING") {
			t.Errorf("%#v scans:\n%s", f, plan)
		}
	}
}

func explain(t *testing.T, s *Store, query string, args []any) string {
	t.Helper()
	rows, err := s.reader.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "\n")
}
