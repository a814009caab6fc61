package schema

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/store"
)

type state string

func TestCompileFilter(t *testing.T) {
	s := mustCompile(t, jobs)
	field := func(name string) Field {
		f, _ := s.Field(name)
		return f
	}
	at := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		filter store.Filter
		want   Cond
	}{
		{nil, nil},
		{store.Eq("state", state("new")), CmpCond{Field: field("state"), Op: store.OpEq, Value: "new"}},
		{store.Ne("state", nil), CmpCond{Field: field("state"), Op: store.OpNe}},
		{store.Gt("size", uint8(3)), CmpCond{Field: field("size"), Op: store.OpGt, Value: int64(3)}},
		{store.Lte("size", 3.0), CmpCond{Field: field("size"), Op: store.OpLte, Value: int64(3)}},
		{store.Gte("ratio", 2), CmpCond{Field: field("ratio"), Op: store.OpGte, Value: 2.0}},
		{store.Eq("done", true), CmpCond{Field: field("done"), Op: store.OpEq, Value: true}},
		{store.Lt("at", "2024-05-01T02:00:00+02:00"), CmpCond{Field: field("at"), Op: store.OpLt, Value: at.In(time.FixedZone("", 7200))}},
		{store.Eq("tags", "x"), CmpCond{Field: field("tags"), Op: store.OpEq, Value: "x"}},
		{store.In("id", "a", state("b")), InCond{Field: field("id"), Values: []any{"a", "b"}}},
		{store.In("size"), InCond{Field: field("size"), Values: []any{}}},
		{store.And(), AndCond{}},
		{store.Or(store.Eq("version", 1), store.And()), OrCond{CmpCond{Field: field("version"), Op: store.OpEq, Value: int64(1)}, AndCond{}}},
		{store.Text("  Big  JOB "), TextCond{Fields: s.Text(), Words: []string{"big", "job"}}},
	} {
		got, err := s.CompileFilter(tc.filter)
		if err != nil {
			t.Errorf("CompileFilter(%#v): %v", tc.filter, err)
			continue
		}
		if c, ok := got.(CmpCond); ok {
			if t1, ok := c.Value.(time.Time); ok && t1.Equal(tc.want.(CmpCond).Value.(time.Time)) {
				c.Value = tc.want.(CmpCond).Value
				got = c
			}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("CompileFilter(%#v) = %#v\nwant %#v", tc.filter, got, tc.want)
		}
	}
}

// unknownFilter is a store.Filter no backend knows.
type unknownFilter struct{ store.Filter }

func TestCompileFilterRefuses(t *testing.T) {
	s := mustCompile(t, jobs)
	for _, tc := range []struct {
		filter store.Filter
		want   error
	}{
		{store.Eq("nope", 1), store.ErrUndeclaredField},
		{store.In("owner", "x"), store.ErrUndeclaredField},
		{store.And(store.Eq("state", "a"), store.Eq("nope", 1)), store.ErrUndeclaredField},
		{store.Cmp{Field: "state", Op: "like", Value: "a"}, store.ErrInvalidQuery},
		{store.Gt("tags", "a"), store.ErrInvalidQuery},
		{store.Eq("tags", nil), store.ErrInvalidQuery},
		{store.Eq("state", 1), store.ErrInvalidQuery},
		{store.Eq("size", "1"), store.ErrInvalidQuery},
		{store.Eq("size", 1.5), store.ErrInvalidQuery},
		{store.Eq("size", uint64(math.MaxInt64)+1), store.ErrInvalidQuery},
		{store.Eq("size", math.Inf(1)), store.ErrInvalidQuery},
		{store.Eq("ratio", math.NaN()), store.ErrInvalidQuery},
		{store.Eq("done", 1), store.ErrInvalidQuery},
		{store.Eq("at", "yesterday"), store.ErrInvalidQuery},
		{store.Eq("at", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)), store.ErrInvalidQuery},
		{store.In("state", "a", 1), store.ErrInvalidQuery},
		{store.And(nil), store.ErrInvalidQuery},
		{store.Or(store.Eq("state", "a"), nil), store.ErrInvalidQuery},
		{unknownFilter{}, store.ErrInvalidQuery},
	} {
		if _, err := s.CompileFilter(tc.filter); !errors.Is(err, tc.want) {
			t.Errorf("CompileFilter(%#v): %v, want %v", tc.filter, err, tc.want)
		}
	}
	noText := mustCompile(t, store.Spec{Name: "plain"})
	if _, err := noText.CompileFilter(store.Text("x")); !errors.Is(err, store.ErrInvalidQuery) {
		t.Errorf("Text on a collection without Text fields: %v, want ErrInvalidQuery", err)
	}
}

func TestCompileQuery(t *testing.T) {
	s := mustCompile(t, jobs)
	c, keys, err := s.CompileQuery(store.Query{
		Filter: store.Eq("state", "new"),
		Sort:   []store.Sort{{Field: "at", Desc: true}, {Field: "id"}},
		Limit:  10, Offset: 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(CmpCond); !ok {
		t.Errorf("filter compiled to %#v", c)
	}
	if len(keys) != 2 || keys[0].Field.Name != "at" || !keys[0].Desc || keys[1].Field.Name != "id" || keys[1].Desc {
		t.Errorf("sort keys = %+v", keys)
	}
	for _, tc := range []struct {
		q    store.Query
		want error
	}{
		{store.Query{Limit: -1}, store.ErrInvalidQuery},
		{store.Query{Offset: -1}, store.ErrInvalidQuery},
		{store.Query{Filter: store.Eq("nope", 1)}, store.ErrUndeclaredField},
		{store.Query{Sort: []store.Sort{{Field: "nope"}}}, store.ErrUndeclaredField},
		{store.Query{Sort: []store.Sort{{Field: "tags"}}}, store.ErrInvalidQuery},
	} {
		if _, _, err := s.CompileQuery(tc.q); !errors.Is(err, tc.want) {
			t.Errorf("CompileQuery(%+v): %v, want %v", tc.q, err, tc.want)
		}
	}
}
