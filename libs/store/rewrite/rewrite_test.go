package rewrite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/rewrite"
	"github.com/opencloud/opencloud/libs/testenv"
)

var spec = store.Spec{Name: "notes", Fields: []store.Field{{Name: "n", Type: store.Int}}}

type note struct {
	ID    string `json:"id"`
	N     int    `json:"n"`
	Owner string `json:"owner"`
	Seen  int    `json:"seen"`
}

// renameOld renames owner "old" to "new" in every note of c, as a service
// would at start.
func renameOld(ctx context.Context, c store.Collection) (int, error) {
	return rewrite.All(ctx, func(ctx context.Context, limit, offset int) ([]note, error) {
		recs, _, err := c.Find(ctx, store.Query{Limit: limit, Offset: offset})
		out := make([]note, len(recs))
		for i, rec := range recs {
			if err := rec.Decode(&out[i]); err != nil {
				return nil, err
			}
		}
		return out, err
	}, func(ctx context.Context, listed note) (note, int64, error) {
		var n note
		v, err := c.Get(ctx, listed.ID, &n)
		return n, v, err
	}, func(n *note) bool {
		if n.Owner != "old" {
			return false
		}
		n.Owner = "new"
		return true
	}, func(ctx context.Context, n note, v int64) error {
		_, err := c.Replace(ctx, n.ID, v, n)
		return err
	})
}

// Every document of every page is rewritten once, even by runs started
// together, and a later run changes nothing.
func TestPagesRewritesEachDocumentOnce(t *testing.T) {
	ctx := context.Background()
	c, err := testenv.SQLiteStore(t).Collection(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	const docs = 2*rewrite.PageSize + 3
	for i := range docs {
		owner := "old"
		if i%10 == 0 {
			owner = "someone"
		}
		if _, err := c.Insert(ctx, fmt.Sprintf("n%04d", i), note{N: i, Owner: owner}); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	for range 3 {
		wg.Go(func() {
			n, err := renameOld(ctx, c)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if want := docs - (docs+9)/10; total != want {
		t.Errorf("%d documents rewritten between the runs, want %d", total, want)
	}
	recs, _, err := c.Find(ctx, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		var n note
		if err := rec.Decode(&n); err != nil {
			t.Fatal(err)
		}
		want, version := "new", int64(2)
		if n.N%10 == 0 {
			want, version = "someone", 1
		}
		if n.Owner != want || rec.Version != version {
			t.Fatalf("note %s: owner %q at version %d, want %q at version %d", rec.ID, n.Owner, rec.Version, want, version)
		}
	}
	if n, err := renameOld(ctx, c); n != 0 || err != nil {
		t.Errorf("a second run rewrote %d documents (%v), want none", n, err)
	}
}

// A write that loses a race is done again on the document as the other
// writer left it, whose change is kept.
func TestOneRetriesOnWhatTheOtherWriterLeft(t *testing.T) {
	ctx := context.Background()
	c, err := testenv.SQLiteStore(t).Collection(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Insert(ctx, "a", note{Owner: "old"}); err != nil {
		t.Fatal(err)
	}
	gets := 0
	done, err := rewrite.One(ctx, func(ctx context.Context) (note, int64, error) {
		gets++
		var n note
		v, err := c.Get(ctx, "a", &n)
		if gets == 1 {
			// Another writer changes the note between this read and the write.
			if _, err := c.Replace(ctx, "a", v, note{Owner: "old", Seen: 1}); err != nil {
				t.Fatal(err)
			}
		}
		return n, v, err
	}, func(n *note) bool {
		n.Owner = "new"
		return true
	}, func(ctx context.Context, n note, v int64) error {
		_, err := c.Replace(ctx, "a", v, n)
		return err
	})
	if !done || err != nil {
		t.Fatalf("One: %v, %v; want true, nil", done, err)
	}
	var n note
	if _, err := c.Get(ctx, "a", &n); err != nil {
		t.Fatal(err)
	}
	if gets != 2 || n != (note{ID: "a", Owner: "new", Seen: 1}) {
		t.Errorf("after %d reads the note is %+v, want 2 reads and the other writer's change kept", gets, n)
	}

	// A document removed meanwhile is left alone.
	done, err = rewrite.One(ctx, func(context.Context) (note, int64, error) { return note{}, 3, nil },
		func(*note) bool { return true },
		func(ctx context.Context, n note, v int64) error { _, err := c.Replace(ctx, "gone", v, n); return err })
	if done || err != nil {
		t.Errorf("One on a removed document: %v, %v; want false, nil", done, err)
	}
}

func TestJSON(t *testing.T) {
	rename := func(n *note) bool {
		if n.Owner != "old" {
			return false
		}
		n.Owner = "new"
		return true
	}
	for _, tc := range []struct {
		name, in, want string
		changed        bool
	}{
		{"rewritten", `{"n":1,"owner":"old","seen":2}`, `{"id":"","n":1,"owner":"new","seen":2}`, true},
		{"nothing to change", `{"owner":"someone"}`, `{"owner":"someone"}`, false},
		{"not a note", `[1,2]`, `[1,2]`, false},
		{"empty", ``, ``, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := json.RawMessage(tc.in)
			if got := rewrite.JSON(&data, rename); got != tc.changed || string(data) != tc.want {
				t.Errorf("JSON(%s) = %v, %s; want %v, %s", tc.in, got, data, tc.changed, tc.want)
			}
		})
	}
}

// Collection rewrites the fields it is asked to and keeps the others to the
// byte, whatever they hold.
func TestCollectionKeepsOtherFields(t *testing.T) {
	ctx := context.Background()
	c, err := testenv.SQLiteStore(t).Collection(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	for id, doc := range map[string]string{
		"a": `{"n":1,"owner":"old","extra":{"z":[1,2.5,"x"],"a":null}}`,
		"b": `{"n":2,"owner":"someone"}`,
		"c": `{"n":3}`,
	} {
		if _, err := c.Insert(ctx, id, json.RawMessage(doc)); err != nil {
			t.Fatal(err)
		}
	}
	rename := func(f rewrite.Fields) bool {
		return rewrite.Field(f, "owner", func(o *string) bool {
			if *o != "old" {
				return false
			}
			*o = "new"
			return true
		})
	}
	if n, err := rewrite.Collection(ctx, c, rename); n != 1 || err != nil {
		t.Fatalf("Collection: %d, %v; want 1 document rewritten", n, err)
	}
	var a rewrite.Fields
	if v, err := c.Get(ctx, "a", &a); err != nil || v != 2 {
		t.Fatalf("a: version %d, %v", v, err)
	}
	if string(a["owner"]) != `"new"` || string(a["extra"]) != `{"z":[1,2.5,"x"],"a":null}` {
		t.Errorf("a is %s", a)
	}
	for _, id := range []string{"b", "c"} {
		if v, err := c.Get(ctx, id, &rewrite.Fields{}); err != nil || v != 1 {
			t.Errorf("%s: version %d, %v; want it left alone", id, v, err)
		}
	}
	if n, err := rewrite.Collection(ctx, c, rename); n != 0 || err != nil {
		t.Errorf("a second run: %d, %v; want nothing rewritten", n, err)
	}
}
