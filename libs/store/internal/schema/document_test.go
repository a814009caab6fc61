package schema

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/opencloud/opencloud/libs/store"
)

// keys returns the keys of o in document order.
func keys(o *Object) []string {
	var ks []string
	for k := range o.All() {
		ks = append(ks, k)
	}
	return ks
}

// nested returns n levels of objects, the outermost included.
func nested(n int) string {
	return strings.Repeat(`{"a":`, n-1) + "{}" + strings.Repeat("}", n-1)
}

func TestParseDocument(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		keys []string
	}{
		{`{}`, nil},
		{` {"b":1, "a":2} `, []string{"b", "a"}},
		{`{"id":"x","version":3,"a":null}`, []string{"a"}},
		{`{"nested":{"_id":1,"_v":2,"id":3}}`, []string{"nested"}},
		{`{"":1,"a b":2,"é":3}`, []string{"", "a b", "é"}},
		{`{"n":1.7976931348623157e308,"m":-1e-400}`, []string{"n", "m"}},
		{nested(100), []string{"a"}},
	} {
		o, err := ParseDocument([]byte(tc.doc))
		if err != nil {
			t.Errorf("ParseDocument(%.40s): %v", tc.doc, err)
			continue
		}
		if got := keys(o); !reflect.DeepEqual(got, tc.keys) {
			t.Errorf("ParseDocument(%.40s) keys = %q, want %q", tc.doc, got, tc.keys)
		}
	}
}

func TestParseDocumentRefuses(t *testing.T) {
	for _, doc := range []string{
		``, `null`, `[]`, `"s"`, `1`, `{`, `{"a":}`, `{"a":1}{}`, `{"a":1} x`,
		`{"_id":1}`, `{"_v":1}`, `{"$a":1}`, `{"a.b":1}`, "{\"a\\u0000\":1}", `{"a":{"$b":1}}`,
		`{"a":1,"a":2}`, `{"a":[{"b":1,"b":1}]}`,
		`{"n":1e309}`, `{"n":[-1e400]}`,
		nested(101), `{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
		`{"a":"` + strings.Repeat("x", MaxDocumentBytes) + `"}`,
	} {
		if _, err := ParseDocument([]byte(doc)); !errors.Is(err, store.ErrInvalidDocument) {
			t.Errorf("ParseDocument(%.40q): %v, want ErrInvalidDocument", doc, err)
		}
	}
}

func TestEncodeDocument(t *testing.T) {
	type doc struct {
		ID      string `json:"id"`
		Version int64  `json:"version"`
		Z       int    `json:"z"`
		A       string `json:"a"`
	}
	o, err := EncodeDocument(doc{ID: "x", Version: 9, Z: 1, A: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(o); !reflect.DeepEqual(got, []string{"z", "a"}) {
		t.Errorf("keys = %q, want the struct's order without id and version", got)
	}
	for _, bad := range []any{nil, 1, []string{}, map[string]any{"f": func() {}}, math.NaN(), json.RawMessage(`[1]`)} {
		if _, err := EncodeDocument(bad); !errors.Is(err, store.ErrInvalidDocument) {
			t.Errorf("EncodeDocument(%#v): %v, want ErrInvalidDocument", bad, err)
		}
	}
}

func TestCheckID(t *testing.T) {
	for id, ok := range map[string]bool{"a": true, "é/ü 1": true, "": false, "\xff": false} {
		if err := CheckID(id); (err == nil) != ok || (err != nil && !errors.Is(err, store.ErrInvalidDocument)) {
			t.Errorf("CheckID(%q) = %v", id, err)
		}
	}
}

func TestValues(t *testing.T) {
	s := mustCompile(t, jobs)
	at := time.Date(2024, 5, 1, 12, 0, 0, 5, time.FixedZone("X", 3600))
	for _, tc := range []struct {
		doc  string
		want map[string]any // the values of the declared fields given
	}{
		{`{}`, nil},
		{`{"state":"new","size":3,"ratio":0.5,"done":true,"tags":["a","b"],"owner":{"name":"ann"}}`,
			map[string]any{"state": "new", "size": int64(3), "ratio": 0.5, "done": true, "tags": []string{"a", "b"}, "owner.name": "ann"}},
		{`{"at":"2024-05-01T12:00:00.000000005+01:00"}`, map[string]any{"at": at}},
		{`{"size":3.0,"ratio":2}`, map[string]any{"size": int64(3), "ratio": 2.0}},
		{`{"size":1e3}`, map[string]any{"size": int64(1000)}},
		{`{"size":-9223372036854775808}`, map[string]any{"size": int64(math.MinInt64)}},
		{`{"tags":[]}`, map[string]any{"tags": []string{}}},
		{`{"owner":null,"state":null}`, nil},
		{`{"at":"0000-01-01T00:00:00Z"}`, map[string]any{"at": time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)}},
	} {
		o, err := ParseDocument([]byte(tc.doc))
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Values(o)
		if err != nil {
			t.Errorf("Values(%s): %v", tc.doc, err)
			continue
		}
		want := map[string]any{"state": nil, "size": nil, "ratio": nil, "done": nil, "at": nil, "tags": nil, "owner.name": nil}
		for k, v := range tc.want {
			want[k] = v
		}
		if at, ok := got["at"].(time.Time); ok && want["at"] != nil && at.Equal(want["at"].(time.Time)) {
			got["at"] = want["at"]
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Values(%s) = %#v\nwant %#v", tc.doc, got, want)
		}
	}
}

func TestValuesRefuses(t *testing.T) {
	s := mustCompile(t, jobs)
	for _, doc := range []string{
		`{"state":1}`, `{"state":["a"]}`, `{"size":"3"}`, `{"size":1.5}`, `{"size":1e19}`, `{"ratio":"x"}`,
		`{"done":0}`, `{"at":"yesterday"}`, `{"at":1}`, `{"at":"-0001-12-31T23:00:00Z"}`,
		`{"at":"0000-01-01T00:30:00+01:00"}`, `{"at":"9999-12-31T23:30:00-01:00"}`,
		`{"tags":"a"}`, `{"tags":["a",1]}`, `{"tags":[null]}`,
		`{"owner":"ann"}`, `{"owner":[{"name":"ann"}]}`, `{"owner":{"name":{}}}`,
	} {
		o, err := ParseDocument([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Values(o); !errors.Is(err, store.ErrInvalidDocument) {
			t.Errorf("Values(%s): %v, want ErrInvalidDocument", doc, err)
		}
	}
}

func TestEncodeSet(t *testing.T) {
	o, err := EncodeSet(map[string]any{"z": 1, "a": map[string]any{"b": []int{1}}, "id": "x", "version": 2, "m": nil})
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(o); !reflect.DeepEqual(got, []string{"a", "m", "z"}) {
		t.Errorf("keys = %q, want sorted keys without id and version", got)
	}
	for _, set := range []map[string]any{{"_id": 1}, {"_v": 1}, {"$inc": 1}, {"a.b": 1}, {"a\x00": 1}} {
		if _, err := EncodeSet(set); !errors.Is(err, store.ErrInvalidQuery) {
			t.Errorf("EncodeSet(%v): %v, want ErrInvalidQuery", set, err)
		}
	}
	for _, set := range []map[string]any{
		{"f": func() {}}, {"n": math.Inf(1)}, {"o": map[string]any{"$x": 1}}, {"o": json.RawMessage(nested(100))},
	} {
		if _, err := EncodeSet(set); !errors.Is(err, store.ErrInvalidDocument) {
			t.Errorf("EncodeSet(%v): %v, want ErrInvalidDocument", set, err)
		}
	}
}

func TestObjectSet(t *testing.T) {
	var o Object
	o.Set("b", 1)
	o.Set("a", 2)
	o.Set("b", 3)
	if o.Len() != 2 || !reflect.DeepEqual(keys(&o), []string{"b", "a"}) {
		t.Errorf("keys = %q, want [b a]", keys(&o))
	}
	if v, _ := o.get("b"); v != 3 {
		t.Errorf("b = %v, want 3", v)
	}
	for k := range o.All() {
		if k != "b" {
			t.Errorf("All went on after the loop broke, at %q", k)
		}
		break
	}
}

func TestAppendString(t *testing.T) {
	for s, want := range map[string]string{
		"":                `""`,
		"plain é €":       `"plain é €"`,
		"q\"b\\":          `"q\"b\\"`,
		"\n\r\t\x00\x1f":  `"\n\r\t\u0000\u001f"`,
		"<a&b>\u2028\x7f": "\"<a&b>\u2028\x7f\"",
	} {
		if got := string(AppendString([]byte("x"), s)); got != "x"+want {
			t.Errorf("AppendString(%q) = %s, want x%s", s, got, want)
		}
	}
}

// FuzzAppendString checks that every valid UTF-8 string reads back unchanged.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\\n\x00", "é\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		var got string
		if err := json.Unmarshal(AppendString(nil, s), &got); err != nil || got != s {
			t.Errorf("AppendString(%q) reads back as %q, %v", s, got, err)
		}
	})
}
