package mongostore

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/internal/schema"
)

// FuzzBSONRoundTrip converts arbitrary JSON to the stored BSON and back,
// without a server: either the document is refused with ErrInvalidDocument,
// or it reads back as the same object (numbers as float64, declared times
// as the same instant to the millisecond). Nothing panics.
func FuzzBSONRoundTrip(f *testing.F) {
	sc, err := schema.Compile(store.Spec{
		Name: "fuzz",
		Fields: []store.Field{
			{Name: "s", Type: store.String}, {Name: "n", Type: store.Int}, {Name: "x", Type: store.Float},
			{Name: "b", Type: store.Bool}, {Name: "t", Type: store.Time}, {Name: "tags", Type: store.StringArray},
			{Name: "o.t", Type: store.Time},
		},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := schema.ParseDocument(data)
		var vals map[string]any
		if err == nil {
			vals, err = sc.Values(o)
		}
		if err != nil {
			if !errors.Is(err, store.ErrInvalidDocument) {
				t.Fatalf("%q: %v, want nil or ErrInvalidDocument", data, err)
			}
			return
		}
		raw, err := bson.Marshal(toBSON("the-id", 7, o, vals))
		if err != nil {
			t.Fatalf("bson.Marshal(%q): %v", data, err)
		}
		r, err := toRecord(raw)
		if err != nil {
			t.Fatalf("toRecord(%q): %v", data, err)
		}
		var want, got map[string]any
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("%q: %v", data, err)
		}
		if err := json.Unmarshal(r.Data, &got); err != nil {
			t.Fatalf("%s: %v", r.Data, err)
		}
		want["id"], want["version"] = "the-id", 7.0
		for _, doc := range []map[string]any{want, got} {
			normalizeTime(t, doc, "t")
			if inner, ok := doc["o"].(map[string]any); ok {
				normalizeTime(t, inner, "t")
			}
		}
		if r.ID != "the-id" || r.Version != 7 || !reflect.DeepEqual(got, want) {
			t.Fatalf("stored %s\nread   %s", data, r.Data)
		}
	})
}

// normalizeTime replaces the time at doc[key] by its instant to the
// millisecond, MongoDB's precision.
func normalizeTime(t *testing.T, doc map[string]any, key string) {
	s, ok := doc[key].(string)
	if !ok {
		return
	}
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	doc[key] = at.Truncate(time.Millisecond).UTC().Format(time.RFC3339Nano)
}
