package schema

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"

	"github.com/opencloud/opencloud/libs/store"
)

// Cond is a compiled filter: nil (everything), CmpCond, InCond, AndCond,
// OrCond or TextCond. It has been validated against the schema, and its
// values converted to the field's Go type (string, int64, float64, bool,
// time.Time; nil for null), so a backend only renders it.
type Cond any

type (
	// CmpCond compares Field with Value. Value is nil only for OpEq and OpNe
	// on a field that is not a StringArray: "is null" and "is not null".
	CmpCond struct {
		Field Field
		Op    store.Op
		Value any
	}
	// InCond matches Field against any of Values (none: nothing).
	InCond struct {
		Field  Field
		Values []any
	}
	// AndCond matches what all of its conditions match (none: everything).
	AndCond []Cond
	// OrCond matches what any of its conditions matches (none: nothing).
	OrCond []Cond
	// TextCond matches documents holding every word, case-insensitively, in
	// any of Fields (no words: everything).
	TextCond struct {
		Fields []Field
		Words  []string // lower case
	}
)

// SortKey is a validated store.Sort.
type SortKey struct {
	Field Field
	Desc  bool
}

// CompileFilter validates f. A nil filter compiles to nil: everything.
func (s *Schema) CompileFilter(f store.Filter) (Cond, error) {
	switch f := f.(type) {
	case nil:
		return nil, nil
	case store.Cmp:
		return s.compileCmp(f)
	case store.InFilter:
		return s.compileIn(f)
	case store.AndFilter:
		cs, err := s.compileAll(f)
		if err != nil {
			return nil, err
		}
		return AndCond(cs), nil
	case store.OrFilter:
		cs, err := s.compileAll(f)
		if err != nil {
			return nil, err
		}
		return OrCond(cs), nil
	case store.TextFilter:
		if len(s.text) == 0 {
			return nil, fmt.Errorf("%w: collection %s declares no Text fields", store.ErrInvalidQuery, s.spec.Name)
		}
		return TextCond{Fields: s.text, Words: strings.Fields(strings.ToLower(f.Query))}, nil
	default:
		return nil, fmt.Errorf("%w: unsupported filter %T", store.ErrInvalidQuery, f)
	}
}

func (s *Schema) compileAll(fs []store.Filter) ([]Cond, error) {
	out := make([]Cond, 0, len(fs))
	for _, f := range fs {
		if f == nil {
			return nil, fmt.Errorf("%w: nil filter inside And or Or", store.ErrInvalidQuery)
		}
		c, err := s.CompileFilter(f)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (s *Schema) compileCmp(c store.Cmp) (Cond, error) {
	f, err := s.field(c.Field)
	if err != nil {
		return nil, err
	}
	switch c.Op {
	case store.OpEq, store.OpNe:
		if c.Value == nil && f.Type != store.StringArray {
			return CmpCond{Field: f, Op: c.Op}, nil
		}
	case store.OpGt, store.OpGte, store.OpLt, store.OpLte:
		if f.Type == store.StringArray {
			return nil, fmt.Errorf("%w: %s on StringArray field %q", store.ErrInvalidQuery, c.Op, c.Field)
		}
	default:
		return nil, fmt.Errorf("%w: unknown operator %q", store.ErrInvalidQuery, c.Op)
	}
	v, err := f.fromGo(c.Value)
	if err != nil {
		return nil, err
	}
	return CmpCond{Field: f, Op: c.Op, Value: v}, nil
}

func (s *Schema) compileIn(in store.InFilter) (Cond, error) {
	f, err := s.field(in.Field)
	if err != nil {
		return nil, err
	}
	c := InCond{Field: f, Values: make([]any, len(in.Values))}
	for i, v := range in.Values {
		if c.Values[i], err = f.fromGo(v); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// fromGo converts a filter value to the field's Go type. Named types (type
// State string) are accepted; a value of the wrong type is ErrInvalidQuery.
func (f Field) fromGo(v any) (any, error) {
	rv := reflect.ValueOf(v)
	switch k := rv.Kind(); {
	case f.Type == store.Time:
		t, ok := v.(time.Time)
		if k == reflect.String {
			var err error
			t, err = time.Parse(time.RFC3339Nano, rv.String())
			ok = err == nil
		}
		if ok && checkTime(t) == nil {
			return t, nil
		}
	case f.Type == store.String || f.Type == store.StringArray:
		if k == reflect.String {
			return rv.String(), nil
		}
	case f.Type == store.Bool:
		if k == reflect.Bool {
			return rv.Bool(), nil
		}
	case f.Type == store.Int:
		if i, ok := toInt64(rv); ok {
			return i, nil
		}
	case f.Type == store.Float:
		if x, ok := toFloat64(rv); ok {
			return x, nil
		}
	}
	return nil, fmt.Errorf("%w: field %q wants %s, got %T", store.ErrInvalidQuery, f.Name, typeName(f.Type), v)
}

func toInt64(rv reflect.Value) (int64, bool) {
	switch {
	case rv.CanInt():
		return rv.Int(), true
	case rv.CanUint():
		return int64(rv.Uint()), rv.Uint() <= math.MaxInt64
	case rv.CanFloat():
		return int64(rv.Float()), isInt64(rv.Float())
	}
	return 0, false
}

func toFloat64(rv reflect.Value) (float64, bool) {
	switch {
	case rv.CanInt():
		return float64(rv.Int()), true
	case rv.CanUint():
		return float64(rv.Uint()), true
	case rv.CanFloat():
		x := rv.Float()
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	}
	return 0, false
}

// CompileQuery validates q's filter, sort and paging.
func (s *Schema) CompileQuery(q store.Query) (Cond, []SortKey, error) {
	if q.Limit < 0 || q.Offset < 0 {
		return nil, nil, fmt.Errorf("%w: negative limit or offset", store.ErrInvalidQuery)
	}
	c, err := s.CompileFilter(q.Filter)
	if err != nil {
		return nil, nil, err
	}
	keys := make([]SortKey, len(q.Sort))
	for i, so := range q.Sort {
		f, err := s.field(so.Field)
		if err != nil {
			return nil, nil, err
		}
		if f.Type == store.StringArray {
			return nil, nil, fmt.Errorf("%w: cannot sort by StringArray field %q", store.ErrInvalidQuery, so.Field)
		}
		keys[i] = SortKey{Field: f, Desc: so.Desc}
	}
	return c, keys, nil
}
