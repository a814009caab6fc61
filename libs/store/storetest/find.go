package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/store"
)

type (
	level int32  // a named integer, as services declare enums
	state string // a named string
)

// findFixture inserts five documents covering every field type, missing
// fields and nulls. In byte order the names sort a, c, b, d, e.
func findFixture(t *testing.T, s store.Store) store.Collection {
	c := collection(t, s, thingSpec())
	cest := time.FixedZone("CEST", 2*3600)
	for id, doc := range map[string]map[string]any{
		"a": {"name": "Alpha Centauri", "size": 1, "score": 0.5, "active": true, "at": at,
			"tags": []string{"red", "Blue"}, "owner": map[string]any{"name": "ann"}, "state": "new"},
		"b": {"name": "beta", "size": 2, "score": 1.5, "active": false, "at": at.Add(time.Hour).In(cest),
			"tags": []string{"green"}, "owner": map[string]any{"name": "bob"}, "state": "done"},
		"c": {"name": "Gamma ray", "size": 3, "score": 2.5, "active": true, "at": at.Add(2 * time.Hour),
			"tags": []string{}, "state": "new"},
		"d": {"name": "delta", "size": -4, "score": -1, "at": at.Add(-24 * time.Hour),
			"tags": []string{"red"}, "owner": map[string]any{"name": "ann"}, "state": "running"},
		"e": {"name": "Épsilon ÜBER", "state": nil, "owner": nil},
	} {
		insert(t, c, id, doc)
	}
	return c
}

func testFind(t *testing.T, s store.Store) {
	c := findFixture(t, s)
	cest := time.FixedZone("CEST", 2*3600)
	for _, tc := range []struct {
		name   string
		filter store.Filter
		want   []string
	}{
		{"all", nil, []string{"a", "b", "c", "d", "e"}},

		{"String eq", store.Eq("name", "beta"), []string{"b"}},
		{"String eq is case-sensitive", store.Eq("name", "Beta"), nil},
		{"String ne includes missing", store.Ne("name", "beta"), []string{"a", "c", "d", "e"}},
		{"String gt in byte order", store.Gt("name", "beta"), []string{"d", "e"}},
		{"String gte", store.Gte("name", "beta"), []string{"b", "d", "e"}},
		{"String lt", store.Lt("name", "beta"), []string{"a", "c"}},
		{"String lte", store.Lte("name", "beta"), []string{"a", "b", "c"}},
		{"String named type", store.Eq("state", state("done")), []string{"b"}},

		{"Int eq", store.Eq("size", 2), []string{"b"}},
		{"Int eq int64", store.Eq("size", int64(3)), []string{"c"}},
		{"Int eq named type", store.Eq("size", level(-4)), []string{"d"}},
		{"Int eq unsigned", store.Eq("size", uint8(1)), []string{"a"}},
		{"Int eq integral float", store.Eq("size", 2.0), []string{"b"}},
		{"Int ne", store.Ne("size", 2), []string{"a", "c", "d", "e"}},
		{"Int gt", store.Gt("size", 1), []string{"b", "c"}},
		{"Int gte", store.Gte("size", 1), []string{"a", "b", "c"}},
		{"Int lt", store.Lt("size", 1), []string{"d"}},
		{"Int lte", store.Lte("size", 2), []string{"a", "b", "d"}},

		{"Float eq", store.Eq("score", 1.5), []string{"b"}},
		{"Float eq int", store.Eq("score", -1), []string{"d"}},
		{"Float ne", store.Ne("score", 1.5), []string{"a", "c", "d", "e"}},
		{"Float gt", store.Gt("score", 0.5), []string{"b", "c"}},
		{"Float gte", store.Gte("score", -1), []string{"a", "b", "c", "d"}},
		{"Float lt", store.Lt("score", 0), []string{"d"}},
		{"Float lte", store.Lte("score", 0.5), []string{"a", "d"}},

		{"Bool eq true", store.Eq("active", true), []string{"a", "c"}},
		{"Bool eq false", store.Eq("active", false), []string{"b"}},
		{"Bool ne true", store.Ne("active", true), []string{"b", "d", "e"}},

		{"Time eq across zones", store.Eq("at", at.Add(time.Hour)), []string{"b"}},
		{"Time eq RFC 3339 string", store.Eq("at", at.Add(time.Hour).In(cest).Format(time.RFC3339Nano)), []string{"b"}},
		{"Time ne", store.Ne("at", at), []string{"b", "c", "d", "e"}},
		{"Time gt", store.Gt("at", at), []string{"b", "c"}},
		{"Time gte", store.Gte("at", at), []string{"a", "b", "c"}},
		{"Time lt", store.Lt("at", at), []string{"d"}},
		{"Time lte other zone", store.Lte("at", at.Add(time.Hour).In(cest)), []string{"a", "b", "d"}},
		{"Time range", store.And(store.Gte("at", at), store.Lt("at", at.Add(2*time.Hour))), []string{"a", "b"}},
		{"Time range by the millisecond", store.And(store.Gt("at", at.Add(-time.Millisecond)), store.Lt("at", at.Add(time.Millisecond))), []string{"a"}},

		{"StringArray contains", store.Eq("tags", "red"), []string{"a", "d"}},
		{"StringArray contains is case-sensitive", store.Eq("tags", "blue"), nil},
		{"StringArray does not contain", store.Ne("tags", "red"), []string{"b", "c", "e"}},
		{"StringArray contains any", store.In("tags", "green", "Blue", "none"), []string{"a", "b"}},

		{"In strings", store.In("name", "beta", "delta", "zeta"), []string{"b", "d"}},
		{"In ints", store.In("size", 1, int64(3)), []string{"a", "c"}},
		{"In named strings", store.In("state", state("new")), []string{"a", "c"}},
		{"In times", store.In("at", at, at.Add(2*time.Hour)), []string{"a", "c"}},
		{"In ids", store.In("id", "a", "e", "zz"), []string{"a", "e"}},
		{"In nothing", store.In("name"), nil},

		{"dotted field", store.Eq("owner.name", "ann"), []string{"a", "d"}},
		{"dotted field missing", store.Eq("owner.name", nil), []string{"c", "e"}},
		{"null eq matches null and missing", store.Eq("state", nil), []string{"e"}},
		{"null ne matches present", store.Ne("state", nil), []string{"a", "b", "c", "d"}},
		{"missing eq", store.Eq("size", nil), []string{"e"}},

		{"And", store.And(store.Eq("state", "new"), store.Eq("active", true)), []string{"a", "c"}},
		{"And empty matches all", store.And(), []string{"a", "b", "c", "d", "e"}},
		{"Or", store.Or(store.Eq("size", 1), store.Eq("size", 2)), []string{"a", "b"}},
		{"Or empty matches nothing", store.Or(), nil},
		{"Or of And", store.Or(store.And(store.Eq("state", "new"), store.Gt("size", 1)), store.Eq("name", "delta")), []string{"c", "d"}},
		{"And of Or", store.And(store.Or(store.Eq("tags", "red"), store.Eq("tags", "green")), store.Or(store.Lt("size", 0), store.Eq("state", "done"))), []string{"b", "d"}},
		{"And with empty Or", store.And(store.Eq("state", "new"), store.Or()), nil},
		{"Or with empty And", store.Or(store.Eq("size", 99), store.And()), []string{"a", "b", "c", "d", "e"}},

		{"Text word", store.Text("alpha"), []string{"a"}},
		{"Text is case-insensitive", store.Text("ALPHA"), []string{"a"}},
		{"Text substring", store.Text("entau"), []string{"a"}},
		{"Text every word", store.Text("alpha ray"), nil},
		{"Text words in different fields", store.Text("red ALPHA"), []string{"a"}},
		{"Text in StringArray", store.Text("BLUE"), []string{"a"}},
		{"Text common letter", store.Text("a"), []string{"a", "b", "c", "d"}},
		{"Text non-ASCII case", store.Text("épsilon über"), []string{"e"}},
		{"Text empty matches all", store.Text("  "), []string{"a", "b", "c", "d", "e"}},
		{"Text regexp characters are literal", store.Text("a.*"), nil},
		{"Text SQL wildcards are literal", store.Text("%"), nil},
		{"Text does not span values", store.Text("ired"), nil},
		{"Text does not span elements", store.Text("redb"), nil},
		{"Text and a field", store.And(store.Text("a"), store.Eq("state", "new")), []string{"a", "c"}},
		{"Text in Or", store.Or(store.Text("gamma ray"), store.Eq("size", 2)), []string{"b", "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertIDs(t, c, tc.filter, tc.want...)
		})
	}
}

func testSort(t *testing.T, s store.Store) {
	c := findFixture(t, s)
	asc := func(f string) store.Sort { return store.Sort{Field: f} }
	desc := func(f string) store.Sort { return store.Sort{Field: f, Desc: true} }
	for _, tc := range []struct {
		name string
		sort []store.Sort
		want []string
	}{
		{"none: by id", nil, []string{"a", "b", "c", "d", "e"}},
		{"String asc in byte order", []store.Sort{asc("name")}, []string{"a", "c", "b", "d", "e"}},
		{"String desc", []store.Sort{desc("name")}, []string{"e", "d", "b", "c", "a"}},
		{"Int asc, missing first", []store.Sort{asc("size")}, []string{"e", "d", "a", "b", "c"}},
		{"Int desc, missing last", []store.Sort{desc("size")}, []string{"c", "b", "a", "d", "e"}},
		{"Float desc", []store.Sort{desc("score")}, []string{"c", "b", "a", "d", "e"}},
		{"Bool asc, ties by id", []store.Sort{asc("active")}, []string{"d", "e", "b", "a", "c"}},
		{"Time asc as instants", []store.Sort{asc("at")}, []string{"e", "d", "a", "b", "c"}},
		{"Time desc", []store.Sort{desc("at")}, []string{"c", "b", "a", "d", "e"}},
		{"dotted field, ties by id", []store.Sort{asc("owner.name")}, []string{"c", "e", "a", "d", "b"}},
		{"ties by id even when desc", []store.Sort{desc("state")}, []string{"d", "a", "c", "b", "e"}},
		{"two keys", []store.Sort{asc("state"), desc("name")}, []string{"e", "b", "c", "a", "d"}},
		{"two keys mixed", []store.Sort{desc("owner.name"), asc("size")}, []string{"b", "d", "a", "e", "c"}},
		{"id desc", []store.Sort{desc("id")}, []string{"e", "d", "c", "b", "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, _, err := c.Find(context.Background(), store.Query{Sort: tc.sort})
			if err != nil {
				t.Fatal(err)
			}
			if got := recordIDs(recs); !slices.Equal(got, tc.want) {
				t.Errorf("sorted %v, want %v", got, tc.want)
			}
		})
	}
}

func testPage(t *testing.T, s store.Store) {
	c := collection(t, s, thingSpec())
	for i := range 25 {
		insert(t, c, fmt.Sprintf("p%02d", i), map[string]any{"size": 100 - i, "state": []string{"even", "odd"}[i%2]})
	}
	seq := func(from, to int) []string {
		var ids []string
		for i := from; i < to; i++ {
			ids = append(ids, fmt.Sprintf("p%02d", i))
		}
		return ids
	}
	bySizeDesc := []store.Sort{{Field: "size", Desc: true}}
	for _, tc := range []struct {
		name      string
		q         store.Query
		want      []string
		wantTotal int64
	}{
		{"first page", store.Query{Sort: bySizeDesc, Limit: 10}, seq(0, 10), 25},
		{"middle page", store.Query{Sort: bySizeDesc, Limit: 10, Offset: 10}, seq(10, 20), 25},
		{"last page", store.Query{Sort: bySizeDesc, Limit: 10, Offset: 20}, seq(20, 25), 25},
		{"past the end", store.Query{Sort: bySizeDesc, Limit: 10, Offset: 30}, nil, 25},
		{"offset without limit", store.Query{Sort: bySizeDesc, Offset: 22}, seq(22, 25), 25},
		{"limit above total", store.Query{Sort: bySizeDesc, Limit: 100}, seq(0, 25), 25},
		{"filtered page", store.Query{Filter: store.Eq("state", "odd"), Sort: bySizeDesc, Limit: 3, Offset: 3},
			[]string{"p07", "p09", "p11"}, 12},
		{"filtered, nothing", store.Query{Filter: store.Eq("state", "none"), Limit: 3}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, total, err := c.Find(context.Background(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			got := recordIDs(recs)
			if tc.want == nil {
				tc.want = []string{}
			}
			if !slices.Equal(got, tc.want) || total != tc.wantTotal {
				t.Errorf("page %v (total %d), want %v (total %d)", got, total, tc.want, tc.wantTotal)
			}
		})
	}
}

// testPageStable pages through documents that all tie on the sort key: the
// id order breaks the ties, so pages neither overlap nor skip.
func testPageStable(t *testing.T, s store.Store) {
	c := collection(t, s, thingSpec())
	var want []string
	for i := range 17 {
		id := fmt.Sprintf("s%02d", (i*7)%17) // inserted out of order
		insert(t, c, id, map[string]any{"state": "same"})
		want = append(want, fmt.Sprintf("s%02d", i))
	}
	for _, desc := range []bool{false, true} {
		var got []string
		for off := 0; ; off += 5 {
			recs, total, err := c.Find(context.Background(), store.Query{
				Sort: []store.Sort{{Field: "state", Desc: desc}}, Limit: 5, Offset: off,
			})
			if err != nil || total != 17 {
				t.Fatalf("Find: total %d, %v", total, err)
			}
			if len(recs) == 0 {
				break
			}
			got = append(got, recordIDs(recs)...)
		}
		if !slices.Equal(got, want) {
			t.Errorf("desc=%v: pages %v, want %v", desc, got, want)
		}
	}
}

func testCount(t *testing.T, s store.Store) {
	c := findFixture(t, s)
	for _, tc := range []struct {
		filter store.Filter
		want   int64
	}{
		{nil, 5},
		{store.Eq("state", "new"), 2},
		{store.Eq("tags", "red"), 2},
		{store.Text("a"), 4},
		{store.Or(), 0},
	} {
		n, err := c.Count(context.Background(), tc.filter)
		if err != nil || n != tc.want {
			t.Errorf("Count(%#v) = %d, %v; want %d", tc.filter, n, err, tc.want)
		}
	}
}

func testQueryErrors(t *testing.T, s store.Store) {
	c := findFixture(t, s)
	noText := collection(t, s, store.Spec{Fields: []store.Field{{Name: "name", Type: store.String}}})
	for _, tc := range []struct {
		name string
		c    store.Collection
		q    store.Query
		want error
	}{
		{"undeclared field", c, store.Query{Filter: store.Eq("color", "red")}, store.ErrUndeclaredField},
		{"undeclared nested", c, store.Query{Filter: store.Or(store.Eq("name", "x"), store.In("owner.id", "1"))}, store.ErrUndeclaredField},
		{"undeclared sort", c, store.Query{Sort: []store.Sort{{Field: "color"}}}, store.ErrUndeclaredField},
		{"undeclared parent of a dotted field", c, store.Query{Filter: store.Eq("owner", "ann")}, store.ErrUndeclaredField},
		{"unknown operator", c, store.Query{Filter: store.Cmp{Field: "size", Op: "like", Value: 1}}, store.ErrInvalidQuery},
		{"string for Int", c, store.Query{Filter: store.Eq("size", "1")}, store.ErrInvalidQuery},
		{"fraction for Int", c, store.Query{Filter: store.Eq("size", 1.5)}, store.ErrInvalidQuery},
		{"string for Float", c, store.Query{Filter: store.Gt("score", "1")}, store.ErrInvalidQuery},
		{"int for String", c, store.Query{Filter: store.Eq("name", 1)}, store.ErrInvalidQuery},
		{"int for Bool", c, store.Query{Filter: store.Eq("active", 1)}, store.ErrInvalidQuery},
		{"bad time string", c, store.Query{Filter: store.Gt("at", "yesterday")}, store.ErrInvalidQuery},
		{"int for Time", c, store.Query{Filter: store.Gt("at", 1)}, store.ErrInvalidQuery},
		{"time after year 9999", c, store.Query{Filter: store.Lt("at", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))}, store.ErrInvalidQuery},
		{"array for StringArray", c, store.Query{Filter: store.Eq("tags", []string{"red"})}, store.ErrInvalidQuery},
		{"range on StringArray", c, store.Query{Filter: store.Gt("tags", "a")}, store.ErrInvalidQuery},
		{"null range", c, store.Query{Filter: store.Lt("size", nil)}, store.ErrInvalidQuery},
		{"null in In", c, store.Query{Filter: store.In("name", "a", nil)}, store.ErrInvalidQuery},
		{"null on StringArray", c, store.Query{Filter: store.Eq("tags", nil)}, store.ErrInvalidQuery},
		{"nil inside And", c, store.Query{Filter: store.And(store.Eq("name", "a"), nil)}, store.ErrInvalidQuery},
		{"sort by StringArray", c, store.Query{Sort: []store.Sort{{Field: "tags"}}}, store.ErrInvalidQuery},
		{"negative limit", c, store.Query{Limit: -1}, store.ErrInvalidQuery},
		{"negative offset", c, store.Query{Offset: -1}, store.ErrInvalidQuery},
		{"Text without Text fields", noText, store.Query{Filter: store.Text("x")}, store.ErrInvalidQuery},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := tc.c.Find(context.Background(), tc.q)
			wantErr(t, "Find", err, tc.want)
			if tc.q.Filter != nil {
				_, err = tc.c.Count(context.Background(), tc.q.Filter)
				wantErr(t, "Count", err, tc.want)
			}
		})
	}
}

func testReopen(t *testing.T, s store.Store) {
	ctx := context.Background()
	spec := thingSpec()
	spec.Name = uniqueName(t)
	c1, err := s.Collection(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	insert(t, c1, "t1", thing{Name: "one", Tags: []string{"x"}})
	c2, err := s.Collection(ctx, thingSpec2(spec.Name))
	if err != nil {
		t.Fatalf("reopen with the same spec: %v", err)
	}
	assertIDs(t, c2, store.Eq("tags", "x"), "t1")
	other := thingSpec()
	other.Name = spec.Name
	other.Fields = other.Fields[:3]
	if _, err := s.Collection(ctx, other); err == nil {
		t.Errorf("reopen with another spec: no error")
	}
}

// thingSpec2 is thingSpec built anew, so reopening compares specs by value.
func thingSpec2(name string) store.Spec {
	spec := thingSpec()
	spec.Name = name
	return spec
}

func testInvalidSpec(t *testing.T, s store.Store) {
	base := func() store.Spec {
		spec := thingSpec()
		spec.Name = uniqueName(t)
		return spec
	}
	for _, tc := range []struct {
		name   string
		mutate func(*store.Spec)
		want   error // nil: any error
	}{
		{"empty name", func(s *store.Spec) { s.Name = "" }, nil},
		{"name with a dot", func(s *store.Spec) { s.Name = "a.b" }, nil},
		{"name starting with _", func(s *store.Spec) { s.Name = "_x" }, nil},
		{"bad field name", func(s *store.Spec) { s.Fields = append(s.Fields, store.Field{Name: "a-b"}) }, nil},
		{"field with $", func(s *store.Spec) { s.Fields = append(s.Fields, store.Field{Name: "$where"}) }, nil},
		{"field declared twice", func(s *store.Spec) { s.Fields = append(s.Fields, store.Field{Name: "name"}) }, nil},
		{"field inside a field", func(s *store.Spec) { s.Fields = append(s.Fields, store.Field{Name: "name.first"}) }, nil},
		{"unknown type", func(s *store.Spec) { s.Fields = append(s.Fields, store.Field{Name: "x", Type: 99}) }, nil},
		{"id not a String", func(s *store.Spec) { s.Fields[0].Type = store.Int }, nil},
		{"index on undeclared field", func(s *store.Spec) { s.Indexes = append(s.Indexes, store.Index{Fields: []string{"color"}}) }, store.ErrUndeclaredField},
		{"empty index", func(s *store.Spec) { s.Indexes = append(s.Indexes, store.Index{}) }, nil},
		{"index on StringArray", func(s *store.Spec) {
			s.Indexes = append(s.Indexes, store.Index{Fields: []string{"tags"}, Unique: true})
		}, nil},
		{"undeclared text field", func(s *store.Spec) { s.Text = append(s.Text, "color") }, store.ErrUndeclaredField},
		{"text field not a string", func(s *store.Spec) { s.Text = append(s.Text, "size") }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := base()
			tc.mutate(&spec)
			_, err := s.Collection(context.Background(), spec)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("Collection: %v, want an error (%v)", err, tc.want)
			}
		})
	}
}
