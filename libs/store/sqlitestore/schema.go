package sqlitestore

// This file is backend-neutral and kept identical in sqlitestore and
// mongostore (TestSchemaFileShared checks it): it validates specs, documents,
// filters and sorts once, so both backends accept and refuse exactly the same
// input. It belongs in a shared internal package once libs/store has one.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opencloud/opencloud/libs/store"
)

const (
	// maxDepth and maxDocumentBytes are MongoDB's limits, enforced on both
	// backends so a document SQLite accepts in development never fails in
	// production.
	maxDepth         = 100
	maxDocumentBytes = 16 << 20
)

var (
	collectionName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)
	fieldName      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
)

// schema is a validated store.Spec.
type schema struct {
	spec   store.Spec
	fields map[string]field
	text   []field
}

// field is a declared field; path is its name split at the dots.
type field struct {
	name string
	path []string
	typ  store.FieldType
}

// compileSpec validates spec. Spec errors are programming errors, reported
// when the service opens its collection at start-up.
func compileSpec(spec store.Spec) (*schema, error) {
	if !collectionName.MatchString(spec.Name) {
		return nil, fmt.Errorf("store: collection name %q: want a letter then up to 62 letters, digits or _", spec.Name)
	}
	s := &schema{spec: spec, fields: make(map[string]field, len(spec.Fields))}
	for _, f := range spec.Fields {
		if err := checkField(f); err != nil {
			return nil, fmt.Errorf("store: collection %s: %w", spec.Name, err)
		}
		if _, dup := s.fields[f.Name]; dup {
			return nil, fmt.Errorf("store: collection %s: field %q declared twice", spec.Name, f.Name)
		}
		s.fields[f.Name] = field{name: f.Name, path: strings.Split(f.Name, "."), typ: f.Type}
	}
	for _, f := range spec.Fields {
		for _, g := range spec.Fields {
			if strings.HasPrefix(g.Name, f.Name+".") {
				return nil, fmt.Errorf("store: collection %s: field %q is inside declared field %q", spec.Name, g.Name, f.Name)
			}
		}
	}
	for _, ix := range spec.Indexes {
		if err := s.checkIndex(ix); err != nil {
			return nil, fmt.Errorf("store: collection %s: %w", spec.Name, err)
		}
	}
	for _, name := range spec.Text {
		f, ok := s.fields[name]
		if !ok {
			return nil, fmt.Errorf("store: collection %s: text field %q: %w", spec.Name, name, store.ErrUndeclaredField)
		}
		if f.typ != store.String && f.typ != store.StringArray {
			return nil, fmt.Errorf("store: collection %s: text field %q must be a String or StringArray", spec.Name, name)
		}
		if slices.ContainsFunc(s.text, func(t field) bool { return t.name == name }) {
			return nil, fmt.Errorf("store: collection %s: text field %q listed twice", spec.Name, name)
		}
		s.text = append(s.text, f)
	}
	return s, nil
}

func checkField(f store.Field) error {
	if !fieldName.MatchString(f.Name) {
		return fmt.Errorf("field name %q: want letters, digits and _ separated by dots", f.Name)
	}
	if f.Type < store.String || f.Type > store.StringArray {
		return fmt.Errorf("field %q: unknown type %d", f.Name, f.Type)
	}
	// id and version are the store's own fields: declaring them makes them
	// queryable, with the type they have.
	switch root, _, _ := strings.Cut(f.Name, "."); {
	case f.Name == "id" && f.Type != store.String:
		return errors.New(`field "id" must be a String`)
	case f.Name == "version" && f.Type != store.Int:
		return errors.New(`field "version" must be an Int`)
	case root != f.Name && (root == "id" || root == "version"):
		return fmt.Errorf("field %q: %s is not an object", f.Name, root)
	}
	return nil
}

func (s *schema) checkIndex(ix store.Index) error {
	if len(ix.Fields) == 0 {
		return errors.New("index without fields")
	}
	for i, name := range ix.Fields {
		f, ok := s.fields[name]
		if !ok {
			return fmt.Errorf("index field %q: %w", name, store.ErrUndeclaredField)
		}
		if f.typ == store.StringArray {
			// A StringArray field is indexed on its own already; compound and
			// unique array indexes behave differently on the two backends.
			return fmt.Errorf("index field %q: StringArray fields cannot be in an explicit index", name)
		}
		if slices.Contains(ix.Fields[:i], name) {
			return fmt.Errorf("index field %q listed twice", name)
		}
	}
	return nil
}

// field returns the declared field name, or ErrUndeclaredField.
func (s *schema) field(name string) (field, error) {
	f, ok := s.fields[name]
	if !ok {
		return field{}, fmt.Errorf("%w: %q in collection %s", store.ErrUndeclaredField, name, s.spec.Name)
	}
	return f, nil
}

// specEqual reports whether a and b declare the same collection.
func specEqual(a, b store.Spec) bool {
	return a.Name == b.Name &&
		slices.Equal(a.Fields, b.Fields) &&
		slices.EqualFunc(a.Indexes, b.Indexes, func(x, y store.Index) bool {
			return x.Unique == y.Unique && slices.Equal(x.Fields, y.Fields)
		}) &&
		slices.Equal(a.Text, b.Text)
}

// object is a JSON object that keeps its keys in document order, so a
// document reads back the way it was written. Values are nil, bool, string,
// json.Number, []any or *object.
type object struct {
	keys []string
	vals []any
}

func (o *object) get(key string) (any, bool) {
	if i := slices.Index(o.keys, key); i >= 0 {
		return o.vals[i], true
	}
	return nil, false
}

func (o *object) set(key string, v any) {
	if i := slices.Index(o.keys, key); i >= 0 {
		o.vals[i] = v
		return
	}
	o.keys = append(o.keys, key)
	o.vals = append(o.vals, v)
}

func (o *object) del(key string) {
	if i := slices.Index(o.keys, key); i >= 0 {
		o.keys = slices.Delete(o.keys, i, i+1)
		o.vals = slices.Delete(o.vals, i, i+1)
	}
}

// lookup follows path through nested objects. A missing or null step means
// the field is absent; any other non-object step is an error, because the
// backends would disagree about it (MongoDB reaches into arrays).
func (o *object) lookup(path []string) (any, error) {
	var v any = o
	for i, key := range path {
		switch x := v.(type) {
		case nil:
			return nil, nil
		case *object:
			v, _ = x.get(key)
		default:
			return nil, fmt.Errorf("%s is not an object", strings.Join(path[:i], "."))
		}
	}
	return v, nil
}

// checkID refuses ids that JSON cannot carry unchanged.
func checkID(id string) error {
	if id == "" || !utf8.ValidString(id) {
		return fmt.Errorf("%w: id must be a non-empty UTF-8 string", store.ErrInvalidDocument)
	}
	return nil
}

// encodeDocument marshals doc and parses it into an object without the
// store's own "id" and "version" keys. Anything but a JSON object that both
// backends can store is ErrInvalidDocument.
func encodeDocument(doc any) (*object, error) {
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", store.ErrInvalidDocument, err)
	}
	return parseDocument(data)
}

// parseDocument parses a JSON object (see encodeDocument).
func parseDocument(data []byte) (*object, error) {
	if len(data) > maxDocumentBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", store.ErrInvalidDocument, maxDocumentBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", store.ErrInvalidDocument, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the object", store.ErrInvalidDocument)
	}
	o, ok := v.(*object)
	if !ok {
		return nil, store.ErrInvalidDocument
	}
	o.del("id")
	o.del("version")
	for _, k := range o.keys {
		if k == "_id" || k == "_v" {
			return nil, fmt.Errorf("%w: top-level key %q is reserved", store.ErrInvalidDocument, k)
		}
	}
	return o, nil
}

// parseValue reads one JSON value from dec.
func parseValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			return nil, fmt.Errorf("nested deeper than %d", maxDepth)
		}
		if t == '{' {
			return parseObject(dec, depth+1)
		}
		return parseArray(dec, depth+1)
	case json.Number:
		// A number beyond float64 cannot be stored in MongoDB, nor decoded
		// by most readers.
		if _, err := strconv.ParseFloat(string(t), 64); err != nil {
			return nil, fmt.Errorf("number %s out of range", t)
		}
		return t, nil
	default: // nil, bool, string
		return t, nil
	}
}

func parseObject(dec *json.Decoder, depth int) (*object, error) {
	o := &object{}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		if err := checkKey(key); err != nil {
			return nil, err
		}
		if seen[key] {
			return nil, fmt.Errorf("key %q appears twice", key)
		}
		seen[key] = true
		v, err := parseValue(dec, depth)
		if err != nil {
			return nil, err
		}
		o.keys = append(o.keys, key)
		o.vals = append(o.vals, v)
	}
	_, err := dec.Token() // '}'
	return o, err
}

func parseArray(dec *json.Decoder, depth int) ([]any, error) {
	a := []any{}
	for dec.More() {
		v, err := parseValue(dec, depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
	}
	_, err := dec.Token() // ']'
	return a, err
}

// checkKey refuses the object keys MongoDB cannot store.
func checkKey(key string) error {
	if strings.HasPrefix(key, "$") || strings.ContainsAny(key, ".\x00") {
		return fmt.Errorf("key %q: keys must not start with $ or contain a dot or NUL", key)
	}
	return nil
}

// values extracts the declared fields of o, typed: string, int64, float64,
// bool, time.Time or []string; absent or null fields are nil. A declared
// field holding a value of another type is ErrInvalidDocument.
func (s *schema) values(o *object) (map[string]any, error) {
	vals := make(map[string]any, len(s.fields))
	for name, f := range s.fields {
		if name == "id" || name == "version" {
			continue
		}
		v, err := f.extract(o)
		if err != nil {
			return nil, err
		}
		vals[name] = v
	}
	return vals, nil
}

// extract returns the typed value of f in o (see values).
func (f field) extract(o *object) (any, error) {
	raw, err := o.lookup(f.path)
	if err == nil {
		var v any
		if v, err = f.fromJSON(raw); err == nil {
			return v, nil
		}
	}
	return nil, fmt.Errorf("%w: field %q: %w", store.ErrInvalidDocument, f.name, err)
}

// fromJSON converts a parsed JSON value of the field to its typed value.
func (f field) fromJSON(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch f.typ {
	case store.String:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case store.Int:
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				return i, nil
			}
			if x, _ := n.Float64(); isInt64(x) {
				return int64(x), nil
			}
		}
	case store.Float:
		if n, ok := v.(json.Number); ok {
			return n.Float64()
		}
	case store.Bool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case store.Time:
		if s, ok := v.(string); ok {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return nil, err
			}
			return t, checkTime(t)
		}
	case store.StringArray:
		if a, ok := v.([]any); ok {
			return stringArray(a)
		}
	}
	return nil, fmt.Errorf("%s is not %s", describe(v), typeName(f.typ))
}

// checkTime refuses instants outside the years 0 to 9999 in UTC, the
// range both backends store times in: RFC 3339 cannot write the others.
func checkTime(t time.Time) error {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Errorf("time %s is outside the years 0 to 9999 UTC", t.Format(time.RFC3339Nano))
	}
	return nil
}

func stringArray(a []any) ([]string, error) {
	ss := make([]string, len(a))
	for i, e := range a {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("element %d is %s, not a string", i, describe(e))
		}
		ss[i] = s
	}
	return ss, nil
}

func describe(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case *object:
		return "an object"
	}
	return "null"
}

func typeName(t store.FieldType) string {
	return [...]string{"a string", "an integer", "a number", "a boolean", "an RFC 3339 time", "an array of strings"}[t]
}

func isInt64(x float64) bool {
	return x == math.Trunc(x) && x >= math.MinInt64 && x < math.MaxInt64
}

// encodeSet validates the fields of an UpdateIf and parses their values into
// an object of those top-level keys. The store's own keys are ignored.
func encodeSet(set map[string]any) (*object, error) {
	keys := make([]string, 0, len(set))
	for k := range set {
		if k != "id" && k != "version" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys) // a stable key order for the stored document
	o := &object{}
	for _, k := range keys {
		if err := checkKey(k); err != nil || k == "_id" || k == "_v" {
			return nil, fmt.Errorf("%w: set key %q: want a top-level key that is not _id or _v, without $ or dots", store.ErrInvalidQuery, k)
		}
		data, err := json.Marshal(set[k])
		if err != nil {
			return nil, fmt.Errorf("%w: set key %q: %w", store.ErrInvalidDocument, k, err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		v, err := parseValue(dec, 1)
		if err != nil {
			return nil, fmt.Errorf("%w: set key %q: %w", store.ErrInvalidDocument, k, err)
		}
		o.set(k, v)
	}
	return o, nil
}

// Compiled filters: validated against the schema, values converted to the
// field's Go type (string, int64, float64, bool, time.Time; nil for null).
type (
	cond    any
	cmpCond struct {
		field field
		op    store.Op
		value any
	}
	inCond struct {
		field  field
		values []any
	}
	andCond  []cond
	orCond   []cond
	textCond struct {
		fields []field
		words  []string // lower case
	}
)

// compileFilter validates f. A nil filter compiles to nil: everything.
func (s *schema) compileFilter(f store.Filter) (cond, error) {
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
		return andCond(cs), nil
	case store.OrFilter:
		cs, err := s.compileAll(f)
		if err != nil {
			return nil, err
		}
		return orCond(cs), nil
	case store.TextFilter:
		if len(s.text) == 0 {
			return nil, fmt.Errorf("%w: collection %s declares no Text fields", store.ErrInvalidQuery, s.spec.Name)
		}
		return textCond{fields: s.text, words: strings.Fields(strings.ToLower(f.Query))}, nil
	default:
		return nil, fmt.Errorf("%w: unsupported filter %T", store.ErrInvalidQuery, f)
	}
}

func (s *schema) compileAll(fs []store.Filter) ([]cond, error) {
	out := make([]cond, 0, len(fs))
	for _, f := range fs {
		if f == nil {
			return nil, fmt.Errorf("%w: nil filter inside And or Or", store.ErrInvalidQuery)
		}
		c, err := s.compileFilter(f)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (s *schema) compileCmp(c store.Cmp) (cond, error) {
	f, err := s.field(c.Field)
	if err != nil {
		return nil, err
	}
	switch c.Op {
	case store.OpEq, store.OpNe:
		if c.Value == nil && f.typ != store.StringArray {
			return cmpCond{field: f, op: c.Op}, nil
		}
	case store.OpGt, store.OpGte, store.OpLt, store.OpLte:
		if f.typ == store.StringArray {
			return nil, fmt.Errorf("%w: %s on StringArray field %q", store.ErrInvalidQuery, c.Op, c.Field)
		}
	default:
		return nil, fmt.Errorf("%w: unknown operator %q", store.ErrInvalidQuery, c.Op)
	}
	v, err := f.fromGo(c.Value)
	if err != nil {
		return nil, err
	}
	return cmpCond{field: f, op: c.Op, value: v}, nil
}

func (s *schema) compileIn(in store.InFilter) (cond, error) {
	f, err := s.field(in.Field)
	if err != nil {
		return nil, err
	}
	c := inCond{field: f, values: make([]any, len(in.Values))}
	for i, v := range in.Values {
		if c.values[i], err = f.fromGo(v); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// fromGo converts a filter value to the field's Go type. Named types (type
// State string) are accepted; a value of the wrong type is ErrInvalidQuery.
func (f field) fromGo(v any) (any, error) {
	rv := reflect.ValueOf(v)
	switch k := rv.Kind(); {
	case f.typ == store.Time:
		t, ok := v.(time.Time)
		if k == reflect.String {
			var err error
			t, err = time.Parse(time.RFC3339Nano, rv.String())
			ok = err == nil
		}
		if ok && checkTime(t) == nil {
			return t, nil
		}
	case f.typ == store.String || f.typ == store.StringArray:
		if k == reflect.String {
			return rv.String(), nil
		}
	case f.typ == store.Bool:
		if k == reflect.Bool {
			return rv.Bool(), nil
		}
	case f.typ == store.Int:
		if i, ok := toInt64(rv); ok {
			return i, nil
		}
	case f.typ == store.Float:
		if x, ok := toFloat64(rv); ok {
			return x, nil
		}
	}
	return nil, fmt.Errorf("%w: field %q wants %s, got %T", store.ErrInvalidQuery, f.name, typeName(f.typ), v)
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

// sortKey is a validated store.Sort.
type sortKey struct {
	field field
	desc  bool
}

// compileQuery validates q's filter, sort and paging.
func (s *schema) compileQuery(q store.Query) (cond, []sortKey, error) {
	if q.Limit < 0 || q.Offset < 0 {
		return nil, nil, fmt.Errorf("%w: negative limit or offset", store.ErrInvalidQuery)
	}
	c, err := s.compileFilter(q.Filter)
	if err != nil {
		return nil, nil, err
	}
	keys := make([]sortKey, len(q.Sort))
	for i, so := range q.Sort {
		f, err := s.field(so.Field)
		if err != nil {
			return nil, nil, err
		}
		if f.typ == store.StringArray {
			return nil, nil, fmt.Errorf("%w: cannot sort by StringArray field %q", store.ErrInvalidQuery, so.Field)
		}
		keys[i] = sortKey{field: f, desc: so.Desc}
	}
	return c, keys, nil
}

// appendString appends s as a JSON string. Only what JSON requires is
// escaped, so stored documents stay readable.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 0x20 && ch != '"' && ch != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch ch {
		case '"', '\\':
			b = append(b, '\\', ch)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[ch>>4], hex[ch&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
