// Package storetest is the contract of the store API: one suite that every
// backend passes, so services can rely on the same behaviour from SQLite in
// the all-in-one binary and MongoDB in production.
//
// Call Run from a backend's tests and Bench from its benchmarks:
//
//	func TestContract(t *testing.T) { storetest.Run(t, func(t *testing.T) store.Store { return testenv.SQLiteStore(t) }) }
//
// Times in the suite have millisecond precision: MongoDB stores no finer.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/store"
)

// Run runs the contract suite against the store open returns. open is called
// once; every subtest works in a collection of its own, in parallel.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Ping", testPing},
		{"InsertGet", testInsertGet},
		{"InsertErrors", testInsertErrors},
		{"GetNotFound", testGetNotFound},
		{"Replace", testReplace},
		{"Delete", testDelete},
		{"Unique", testUnique},
		{"UniqueCompound", testUniqueCompound},
		{"UpdateIf", testUpdateIf},
		{"UpdateIfErrors", testUpdateIfErrors},
		{"UpdateIfClaim", testUpdateIfClaim},
		{"IDAndVersionOwnedByStore", testIDAndVersion},
		{"InvalidDocument", testInvalidDocument},
		{"Find", testFind},
		{"Sort", testSort},
		{"Page", testPage},
		{"PageStable", testPageStable},
		{"Count", testCount},
		{"QueryErrors", testQueryErrors},
		{"ReopenCollection", testReopen},
		{"InvalidSpec", testInvalidSpec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, s)
		})
	}
}

// thingSpec declares a field of every type, a dotted field, the id, a unique
// index, a compound index and two text fields.
func thingSpec() store.Spec {
	return store.Spec{
		Fields: []store.Field{
			{Name: "id", Type: store.String},
			{Name: "name", Type: store.String},
			{Name: "size", Type: store.Int},
			{Name: "score", Type: store.Float},
			{Name: "active", Type: store.Bool},
			{Name: "at", Type: store.Time},
			{Name: "tags", Type: store.StringArray},
			{Name: "owner.name", Type: store.String},
			{Name: "state", Type: store.String},
		},
		Indexes: []store.Index{
			{Fields: []string{"name"}, Unique: true},
			{Fields: []string{"state", "at"}},
		},
		Text: []string{"name", "tags"},
	}
}

// thing is a document of thingSpec as a service would declare it.
type thing struct {
	ID      string    `json:"id,omitempty"`
	Version int64     `json:"version,omitempty"`
	Name    string    `json:"name,omitempty"`
	Size    int64     `json:"size,omitempty"`
	Score   float64   `json:"score,omitempty"`
	Active  bool      `json:"active,omitempty"`
	At      time.Time `json:"at"`
	Tags    []string  `json:"tags,omitempty"`
	Owner   *owner    `json:"owner,omitempty"`
	State   string    `json:"state,omitempty"`
	Extra   any       `json:"extra,omitempty"` // undeclared: stored, never queried
}

type owner struct {
	Name string `json:"name"`
}

var collectionSeq atomic.Int64

var nonWord = regexp.MustCompile(`[^A-Za-z0-9]+`)

// collection opens spec under a name no other subtest uses.
func collection(t testing.TB, s store.Store, spec store.Spec) store.Collection {
	t.Helper()
	spec.Name = uniqueName(t)
	c, err := s.Collection(context.Background(), spec)
	if err != nil {
		t.Fatalf("Collection(%s): %v", spec.Name, err)
	}
	return c
}

func uniqueName(t testing.TB) string {
	name := nonWord.ReplaceAllString(t.Name(), "_")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return fmt.Sprintf("c%d_%s", collectionSeq.Add(1), name)
}

func insert(t testing.TB, c store.Collection, id string, doc any) {
	t.Helper()
	if _, err := c.Insert(context.Background(), id, doc); err != nil {
		t.Fatalf("Insert(%s): %v", id, err)
	}
}

func get(t testing.TB, c store.Collection, id string) thing {
	t.Helper()
	var out thing
	if _, err := c.Get(context.Background(), id, &out); err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return out
}

func wantErr(t testing.TB, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Errorf("%s: error %v, want %v", what, got, want)
	}
}

// at is a fixed instant with milliseconds; MongoDB keeps no finer precision.
var at = time.Date(2024, 3, 1, 12, 0, 0, 123_000_000, time.UTC)

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func testInsertGet(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := collection(t, s, thingSpec())
	in := thing{
		Name: "one", Size: 3, Score: 1.25, Active: true, At: at.In(time.FixedZone("CEST", 2*3600)),
		Tags: []string{"a", "b"}, Owner: &owner{"ann"}, State: "new",
		Extra: map[string]any{"nested": []any{"x", 1.5, true, nil, map[string]any{"deep": "yes"}}},
	}
	v, err := c.Insert(ctx, "t1", in)
	if err != nil || v != 1 {
		t.Fatalf("Insert: version %d, %v; want 1, nil", v, err)
	}
	var out thing
	v, err = c.Get(ctx, "t1", &out)
	if err != nil || v != 1 {
		t.Fatalf("Get: version %d, %v; want 1, nil", v, err)
	}
	if !out.At.Equal(in.At) {
		t.Errorf("at = %v, want the instant %v", out.At, in.At)
	}
	out.At, in.At = time.Time{}, time.Time{}
	in.ID, in.Version = "t1", 1
	if got, want := mustJSON(t, out), mustJSON(t, in); got != want {
		t.Errorf("Get = %s\nwant  %s", got, want)
	}
}

func testInsertErrors(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := collection(t, s, thingSpec())
	insert(t, c, "t1", thing{Name: "one"})
	_, err := c.Insert(ctx, "t1", thing{Name: "other"})
	wantErr(t, "insert taken id", err, store.ErrDuplicate)
	_, err = c.Insert(ctx, "", thing{Name: "empty id"})
	wantErr(t, "insert empty id", err, store.ErrInvalidDocument)
	if got := get(t, c, "t1"); got.Name != "one" {
		t.Errorf("after failed inserts, name = %q", got.Name)
	}
}

func testGetNotFound(t *testing.T, s store.Store) {
	c := collection(t, s, thingSpec())
	_, err := c.Get(context.Background(), "missing", &thing{})
	wantErr(t, "get missing", err, store.ErrNotFound)
}

func testReplace(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := collection(t, s, thingSpec())
	insert(t, c, "t1", thing{Name: "one", Size: 1, Tags: []string{"old"}})
	v, err := c.Replace(ctx, "t1", 1, thing{Name: "uno", Size: 2, Tags: []string{"new"}})
	if err != nil || v != 2 {
		t.Fatalf("Replace: version %d, %v; want 2, nil", v, err)
	}
	if got := get(t, c, "t1"); got.Name != "uno" || got.Size != 2 || got.Version != 2 {
		t.Errorf("after Replace: %+v", got)
	}
	// The replaced values are what queries see.
	assertIDs(t, c, store.Eq("tags", "new"), "t1")
	assertIDs(t, c, store.Eq("tags", "old"))
	assertIDs(t, c, store.Eq("size", 2), "t1")

	_, err = c.Replace(ctx, "t1", 1, thing{Name: "stale"})
	wantErr(t, "replace stale version", err, store.ErrVersionConflict)
	_, err = c.Replace(ctx, "missing", 1, thing{Name: "x"})
	wantErr(t, "replace missing", err, store.ErrNotFound)
	_, err = c.Replace(ctx, "t1", 2, []int{1})
	wantErr(t, "replace with non-object", err, store.ErrInvalidDocument)
	if got := get(t, c, "t1"); got.Name != "uno" || got.Version != 2 {
		t.Errorf("failed replaces changed the document: %+v", got)
	}
}

func testDelete(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name    string
		id      string
		version int64
		want    error
	}{
		{"unconditional", "t1", 0, nil},
		{"current version", "t1", 2, nil},
		{"stale version", "t1", 1, store.ErrVersionConflict},
		{"missing", "nope", 0, store.ErrNotFound},
		{"missing with version", "nope", 1, store.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c := collection(t, s, thingSpec())
			insert(t, c, "t1", thing{Name: "one", Tags: []string{"x"}})
			if _, err := c.Replace(ctx, "t1", 1, thing{Name: "one", Tags: []string{"x"}}); err != nil {
				t.Fatal(err)
			}
			err := c.Delete(ctx, tc.id, tc.version)
			if tc.want != nil {
				wantErr(t, "delete", err, tc.want)
				get(t, c, "t1")
				return
			}
			if err != nil {
				t.Fatalf("Delete: %v", err)
			}
			_, err = c.Get(ctx, "t1", nil)
			wantErr(t, "get deleted", err, store.ErrNotFound)
			assertIDs(t, c, store.Eq("tags", "x"))
			// The id and the unique name are free again.
			insert(t, c, "t1", thing{Name: "one"})
		})
	}
}

func testUnique(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := collection(t, s, thingSpec())
	insert(t, c, "t1", thing{Name: "one"})
	insert(t, c, "t2", thing{Name: "two"})
	_, err := c.Insert(ctx, "t3", thing{Name: "one"})
	wantErr(t, "insert taken name", err, store.ErrDuplicate)
	_, err = c.Replace(ctx, "t2", 1, thing{Name: "one"})
	wantErr(t, "replace to taken name", err, store.ErrDuplicate)
	_, err = c.UpdateIf(ctx, "t2", nil, map[string]any{"name": "one"})
	wantErr(t, "update to taken name", err, store.ErrDuplicate)
	if got := get(t, c, "t2"); got.Name != "two" || got.Version != 1 {
		t.Errorf("failed writes changed t2: %+v", got)
	}
	assertIDs(t, c, store.Eq("name", "one"), "t1")
	// Documents without the field do not collide.
	insert(t, c, "n1", map[string]any{"size": 1})
	insert(t, c, "n2", map[string]any{"size": 2})
}

func testUniqueCompound(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := collection(t, s, store.Spec{
		Fields:  []store.Field{{Name: "peer", Type: store.String}, {Name: "ref", Type: store.Int}},
		Indexes: []store.Index{{Fields: []string{"peer", "ref"}, Unique: true}},
	})
	insert(t, c, "a", map[string]any{"peer": "p1", "ref": 1})
	insert(t, c, "b", map[string]any{"peer": "p1", "ref": 2})
	insert(t, c, "c", map[string]any{"peer": "p2", "ref": 1})
	_, err := c.Insert(ctx, "d", map[string]any{"peer": "p1", "ref": 1})
	wantErr(t, "insert taken pair", err, store.ErrDuplicate)
	_, err = c.Replace(ctx, "c", 1, map[string]any{"peer": "p1", "ref": 2})
	wantErr(t, "replace to taken pair", err, store.ErrDuplicate)
}

func testUpdateIf(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name    string
		cond    store.Filter
		set     map[string]any
		want    error
		wantDoc func(thing) bool
	}{
		{"no condition", nil, map[string]any{"state": "running"}, nil,
			func(d thing) bool { return d.State == "running" && d.Name == "job" && d.Size == 5 }},
		{"condition met", store.Eq("state", "new"), map[string]any{"state": "running", "owner": owner{"bob"}}, nil,
			func(d thing) bool { return d.State == "running" && d.Owner != nil && d.Owner.Name == "bob" }},
		{"compound condition met", store.And(store.Eq("state", "new"), store.Lt("size", 10), store.Eq("tags", "t")),
			map[string]any{"size": 11}, nil, func(d thing) bool { return d.Size == 11 }},
		{"condition not met", store.Eq("state", "done"), map[string]any{"state": "running"}, store.ErrConditionFailed, nil},
		{"missing field", store.Eq("owner.name", "ann"), map[string]any{"state": "x"}, store.ErrConditionFailed, nil},
		{"id and version ignored", nil, map[string]any{"id": "other", "version": 99, "score": 2.5}, nil,
			func(d thing) bool { return d.ID == "j1" && d.Score == 2.5 }},
		{"new undeclared field", nil, map[string]any{"extra": []string{"x"}}, nil,
			func(d thing) bool { return mustJSON(nil, d.Extra) == `["x"]` }},
		{"field set to null", nil, map[string]any{"state": nil}, nil,
			func(d thing) bool { return d.State == "" }},
		{"nothing to set", nil, map[string]any{}, nil,
			func(d thing) bool { return d.State == "new" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c := collection(t, s, thingSpec())
			insert(t, c, "j1", thing{Name: "job", Size: 5, State: "new", Tags: []string{"t"}})
			v, err := c.UpdateIf(ctx, "j1", tc.cond, tc.set)
			got := get(t, c, "j1")
			if tc.want != nil {
				wantErr(t, "UpdateIf", err, tc.want)
				if got.Version != 1 || got.State != "new" {
					t.Errorf("failed UpdateIf changed the document: %+v", got)
				}
				return
			}
			if err != nil || v != 2 || got.Version != 2 {
				t.Fatalf("UpdateIf: version %d (stored %d), %v; want 2, nil", v, got.Version, err)
			}
			if !tc.wantDoc(got) {
				t.Errorf("after UpdateIf: %s", mustJSON(t, got))
			}
			// Queries see the new values.
			if state, ok := tc.set["state"].(string); ok {
				assertIDs(t, c, store.Eq("state", state), "j1")
			}
		})
	}
}

func testUpdateIfErrors(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := collection(t, s, thingSpec())
	insert(t, c, "j1", thing{Name: "job", State: "new"})
	for _, tc := range []struct {
		name string
		id   string
		cond store.Filter
		set  map[string]any
		want error
	}{
		{"missing document", "nope", nil, map[string]any{"state": "x"}, store.ErrNotFound},
		{"missing document with condition", "nope", store.Eq("state", "new"), map[string]any{"state": "x"}, store.ErrNotFound},
		{"declared field of the wrong type", "j1", nil, map[string]any{"size": "big"}, store.ErrInvalidDocument},
		{"nested declared field of the wrong type", "j1", nil, map[string]any{"owner": map[string]any{"name": 1}}, store.ErrInvalidDocument},
		{"dotted key", "j1", nil, map[string]any{"owner.name": "x"}, store.ErrInvalidQuery},
		{"dollar key", "j1", nil, map[string]any{"$set": "x"}, store.ErrInvalidQuery},
		{"undeclared condition field", "j1", store.Eq("color", "red"), map[string]any{"state": "x"}, store.ErrUndeclaredField},
		{"bad condition value", "j1", store.Eq("size", "big"), map[string]any{"state": "x"}, store.ErrInvalidQuery},
		{"unmarshallable value", "j1", nil, map[string]any{"state": func() {}}, store.ErrInvalidDocument},
	} {
		_, err := c.UpdateIf(ctx, tc.id, tc.cond, tc.set)
		wantErr(t, tc.name, err, tc.want)
	}
	if got := get(t, c, "j1"); got.Version != 1 {
		t.Errorf("failed updates changed the document: %+v", got)
	}
}

// testUpdateIfClaim is the scheduler's claim: of many concurrent UpdateIf
// with the same condition exactly one wins.
func testUpdateIfClaim(t *testing.T, s store.Store) {
	const claimers = 200
	ctx := context.Background()
	c := collection(t, s, thingSpec())
	insert(t, c, "slot", thing{Name: "slot", State: "free"})
	errs := make(chan error, claimers)
	winner := make(chan string, claimers)
	start := make(chan struct{})
	for i := range claimers {
		go func() {
			<-start
			me := fmt.Sprintf("worker-%d", i)
			_, err := c.UpdateIf(ctx, "slot", store.Eq("state", "free"), map[string]any{"state": "taken", "owner": owner{me}})
			if err == nil {
				winner <- me
			}
			errs <- err
		}()
	}
	close(start)
	wins := 0
	for range claimers {
		err := <-errs
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrConditionFailed):
			t.Errorf("claim: %v, want nil or ErrConditionFailed", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d claims won, want exactly 1", wins)
	}
	got := get(t, c, "slot")
	if w := <-winner; got.Version != 2 || got.State != "taken" || got.Owner == nil || got.Owner.Name != w {
		t.Errorf("after the claim: %s, winner %s", mustJSON(t, got), w)
	}
}

func testIDAndVersion(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := collection(t, s, thingSpec())
	insert(t, c, "real", map[string]any{"id": "fake", "version": 42, "name": "n"})
	got := get(t, c, "real")
	if got.ID != "real" || got.Version != 1 {
		t.Errorf("Get: id %q version %d, want real 1", got.ID, got.Version)
	}
	if _, err := c.Replace(ctx, "real", 1, map[string]any{"id": "fake", "version": 7, "name": "n"}); err != nil {
		t.Fatal(err)
	}
	recs, total, err := c.Find(ctx, store.Query{Filter: store.Eq("id", "real")})
	if err != nil || total != 1 || len(recs) != 1 {
		t.Fatalf("Find: %v, %d, %v", recs, total, err)
	}
	r := recs[0]
	var m map[string]any
	if err := r.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if r.ID != "real" || r.Version != 2 || m["id"] != "real" || m["version"] != 2.0 || m["name"] != "n" {
		t.Errorf("record %s/%d: %s", r.ID, r.Version, r.Data)
	}
	assertIDs(t, c, store.Eq("id", "fake"))
}

func testInvalidDocument(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := collection(t, s, thingSpec())
	deep := any("bottom")
	for range 150 {
		deep = []any{deep}
	}
	for _, tc := range []struct {
		name string
		doc  any
	}{
		{"nil", nil},
		{"number", 5},
		{"string", "text"},
		{"array", []int{1, 2}},
		{"raw array", json.RawMessage(`[1]`)},
		{"raw invalid JSON", json.RawMessage(`{"a":`)},
		{"unmarshallable", map[string]any{"f": func() {}}},
		{"string for Int", map[string]any{"size": "big"}},
		{"fraction for Int", map[string]any{"size": 1.5}},
		{"string for Float", map[string]any{"score": "high"}},
		{"number for Bool", map[string]any{"active": 1}},
		{"bad time", map[string]any{"at": "yesterday"}},
		{"number for Time", map[string]any{"at": 1700000000}},
		{"time before year 0 in UTC", map[string]any{"at": "0000-01-01T00:30:00+01:00"}},
		{"number in StringArray", map[string]any{"tags": []any{"a", 1}}},
		{"string for StringArray", map[string]any{"tags": "a"}},
		{"object for String", map[string]any{"name": map[string]any{"x": 1}}},
		{"scalar on a dotted path", map[string]any{"owner": "ann"}},
		{"array on a dotted path", map[string]any{"owner": []any{map[string]any{"name": "ann"}}}},
		{"key with a dot", map[string]any{"a.b": 1}},
		{"key with a dollar", map[string]any{"x": map[string]any{"$in": 1}}},
		{"reserved _id", map[string]any{"_id": 1}},
		{"reserved _v", map[string]any{"_v": 1}},
		{"duplicate key", json.RawMessage(`{"a":1,"a":2}`)},
		{"number out of range", json.RawMessage(`{"a":1e400}`)},
		{"nested too deep", map[string]any{"deep": deep}},
	} {
		_, err := c.Insert(ctx, "bad", tc.doc)
		wantErr(t, tc.name, err, store.ErrInvalidDocument)
	}
	if n, err := c.Count(ctx, nil); err != nil || n != 0 {
		t.Errorf("Count after invalid inserts = %d, %v; want 0", n, err)
	}
}

func mustJSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil && t != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertIDs checks that f matches exactly the documents ids, in id order.
func assertIDs(t testing.TB, c store.Collection, f store.Filter, ids ...string) {
	t.Helper()
	recs, total, err := c.Find(context.Background(), store.Query{Filter: f})
	if err != nil {
		t.Errorf("Find(%#v): %v", f, err)
		return
	}
	got := recordIDs(recs)
	if ids == nil {
		ids = []string{}
	}
	if !slices.Equal(got, ids) || total != int64(len(ids)) {
		t.Errorf("Find(%#v) = %v (total %d), want %v", f, got, total, ids)
	}
	n, err := c.Count(context.Background(), f)
	if err != nil || n != int64(len(ids)) {
		t.Errorf("Count(%#v) = %d, %v; want %d", f, n, err, len(ids))
	}
}

func recordIDs(recs []store.Record) []string {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	return ids
}
