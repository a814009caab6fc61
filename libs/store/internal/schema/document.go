package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opencloud/opencloud/libs/store"
)

// MaxDocumentBytes is MongoDB's document size limit. Both backends enforce
// it, and maxDepth, so a document SQLite accepts in development never fails
// in production.
const MaxDocumentBytes = 16 << 20

// maxDepth is MongoDB's nesting limit (see MaxDocumentBytes).
const maxDepth = 100

// Object is a JSON object that keeps its keys in document order, so a
// document reads back the way it was written. Values are nil, bool, string,
// json.Number, []any or *Object. The zero value is an empty object.
type Object struct {
	keys []string
	vals []any
}

// Len returns the number of keys of o.
func (o *Object) Len() int { return len(o.keys) }

// All yields the keys of o and their values, in document order.
func (o *Object) All() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		for i, k := range o.keys {
			if !yield(k, o.vals[i]) {
				return
			}
		}
	}
}

func (o *Object) get(key string) (any, bool) {
	if i := slices.Index(o.keys, key); i >= 0 {
		return o.vals[i], true
	}
	return nil, false
}

// Set sets key to v, in place if key exists, else as the last key. v must be
// a value Object holds (see EncodeSet).
func (o *Object) Set(key string, v any) {
	if i := slices.Index(o.keys, key); i >= 0 {
		o.vals[i] = v
		return
	}
	o.keys = append(o.keys, key)
	o.vals = append(o.vals, v)
}

func (o *Object) del(key string) {
	if i := slices.Index(o.keys, key); i >= 0 {
		o.keys = slices.Delete(o.keys, i, i+1)
		o.vals = slices.Delete(o.vals, i, i+1)
	}
}

// lookup follows path through nested objects. A missing or null step means
// the field is absent; any other non-object step is an error, because the
// backends would disagree about it (MongoDB reaches into arrays).
func (o *Object) lookup(path []string) (any, error) {
	var v any = o
	for i, key := range path {
		switch x := v.(type) {
		case nil:
			return nil, nil
		case *Object:
			v, _ = x.get(key)
		default:
			return nil, fmt.Errorf("%s is not an object", strings.Join(path[:i], "."))
		}
	}
	return v, nil
}

// CheckID refuses ids that JSON cannot carry unchanged.
func CheckID(id string) error {
	if id == "" || !utf8.ValidString(id) {
		return fmt.Errorf("%w: id must be a non-empty UTF-8 string", store.ErrInvalidDocument)
	}
	return nil
}

// EncodeDocument marshals doc and parses it into an Object without the
// store's own "id" and "version" keys. Anything but a JSON object that both
// backends can store is ErrInvalidDocument.
func EncodeDocument(doc any) (*Object, error) {
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", store.ErrInvalidDocument, err)
	}
	return ParseDocument(data)
}

// ParseDocument parses a JSON object (see EncodeDocument).
func ParseDocument(data []byte) (*Object, error) {
	if len(data) > MaxDocumentBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", store.ErrInvalidDocument, MaxDocumentBytes)
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
	o, ok := v.(*Object)
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

func parseObject(dec *json.Decoder, depth int) (*Object, error) {
	o := &Object{}
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

// Values extracts the declared fields of o, typed: string, int64, float64,
// bool, time.Time or []string; absent or null fields are nil. The store's
// own "id" and "version" are not in o, so they are left out. A declared
// field holding a value of another type is ErrInvalidDocument.
func (s *Schema) Values(o *Object) (map[string]any, error) {
	vals := make(map[string]any, len(s.fields))
	for name, f := range s.fields {
		if name == "id" || name == "version" {
			continue
		}
		v, err := f.Extract(o)
		if err != nil {
			return nil, err
		}
		vals[name] = v
	}
	return vals, nil
}

// Extract returns the typed value of f in o (see Values).
func (f Field) Extract(o *Object) (any, error) {
	raw, err := o.lookup(f.Path)
	if err == nil {
		var v any
		if v, err = f.fromJSON(raw); err == nil {
			return v, nil
		}
	}
	return nil, fmt.Errorf("%w: field %q: %w", store.ErrInvalidDocument, f.Name, err)
}

// fromJSON converts a parsed JSON value of the field to its typed value.
func (f Field) fromJSON(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch f.Type {
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
	return nil, fmt.Errorf("%s is not %s", describe(v), typeName(f.Type))
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
	case *Object:
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

// EncodeSet validates the fields of an UpdateIf and parses their values into
// an Object of those top-level keys. The store's own keys are ignored.
func EncodeSet(set map[string]any) (*Object, error) {
	keys := make([]string, 0, len(set))
	for k := range set {
		if k != "id" && k != "version" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys) // a stable key order for the stored document
	o := &Object{}
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
		o.Set(k, v)
	}
	return o, nil
}

// AppendString appends s as a JSON string. Only what JSON requires is
// escaped, so stored documents stay readable.
func AppendString(b []byte, s string) []byte {
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
