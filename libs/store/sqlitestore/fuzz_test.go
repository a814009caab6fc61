package sqlitestore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencloud/opencloud/libs/store"
)

// FuzzDocumentRoundTrip stores arbitrary JSON: Insert either refuses it with
// ErrInvalidDocument or Get returns the same object (with id and version),
// and queries on its declared values find it. Nothing panics.
func FuzzDocumentRoundTrip(f *testing.F) {
	ctx := context.Background()
	c, err := openMemory(f).Collection(ctx, store.Spec{
		Name: "fuzz",
		Fields: []store.Field{
			{Name: "s", Type: store.String}, {Name: "n", Type: store.Int}, {Name: "x", Type: store.Float},
			{Name: "b", Type: store.Bool}, {Name: "t", Type: store.Time}, {Name: "tags", Type: store.StringArray},
			{Name: "o.s", Type: store.String},
		},
		Indexes: []store.Index{{Fields: []string{"n", "s"}}},
		Text:    []string{"s", "tags"},
	})
	if err != nil {
		f.Fatal(err)
	}
	var seq atomic.Int64
	f.Fuzz(func(t *testing.T, data []byte) {
		id := fmt.Sprint("doc", seq.Add(1))
		_, err := c.Insert(ctx, id, json.RawMessage(data))
		if err != nil {
			if !errors.Is(err, store.ErrInvalidDocument) {
				t.Fatalf("Insert(%q): %v, want nil or ErrInvalidDocument", data, err)
			}
			return
		}
		var got json.RawMessage
		if _, err := c.Get(ctx, id, &got); err != nil {
			t.Fatalf("Get: %v", err)
		}
		want := decode(t, data).(map[string]any)
		want["id"], want["version"] = id, json.Number("1")
		if g := decode(t, got); !reflect.DeepEqual(g, any(want)) {
			t.Fatalf("stored %s\nread   %s", data, got)
		}
		for _, q := range queries(want) {
			recs, _, err := c.Find(ctx, store.Query{Filter: q})
			if err != nil {
				t.Fatalf("Find(%#v): %v", q, err)
			}
			if !slices.ContainsFunc(recs, func(r store.Record) bool { return r.ID == id }) {
				t.Fatalf("Find(%#v) misses %s", q, data)
			}
		}
	})
}

// decode parses JSON keeping numbers exact.
func decode(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", data, err)
	}
	return v
}

// queries returns filters on the declared values of doc that must match it.
func queries(doc map[string]any) []store.Filter {
	var fs []store.Filter
	if s, ok := doc["s"].(string); ok {
		fs = append(fs, store.Eq("s", s), store.Lte("s", s), store.In("s", s, "other"))
		if strings.TrimSpace(s) != "" {
			fs = append(fs, store.Text(s))
		}
	}
	if n, ok := doc["n"].(json.Number); ok {
		// An Int may be written 3.0; compare exactly where it has digits.
		var v any
		if i, err := n.Int64(); err == nil {
			v = i
		} else {
			v, _ = n.Float64()
		}
		fs = append(fs, store.Gte("n", v), store.Lte("n", v))
	}
	if tags, ok := doc["tags"].([]any); ok && len(tags) > 0 {
		fs = append(fs, store.Eq("tags", tags[0]))
	}
	if o, ok := doc["o"].(map[string]any); ok {
		if s, ok := o["s"].(string); ok {
			fs = append(fs, store.Eq("o.s", s))
		}
	}
	return fs
}
