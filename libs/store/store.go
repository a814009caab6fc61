// Package store is the small document-store API every OpenCloud service uses,
// with two backends: SQLite (package sqlitestore, the all-in-one default) and
// MongoDB (package mongostore, compose and production). One contract suite
// (package storetest) runs against both.
//
// Documents are Go values that encode to a JSON object. The store owns two
// top-level fields of every document: "id" (the primary key, given on Insert)
// and "version" (1 on Insert, +1 on every write). Whatever the caller puts in
// them is ignored on write; they are filled in on read, so a service's struct
// declares `json:"id"` and `json:"version"` and gets them for free.
//
// Filters and sorts may only name fields the collection declared in its Spec:
// a backend indexes exactly those, and refuses the rest with ErrUndeclaredField,
// so no query silently scans.
package store

import (
	"context"
	"encoding/json"
	"errors"
)

// Sentinel errors. Backends wrap them with %w; callers test with errors.Is.
var (
	ErrNotFound        = errors.New("store: not found")
	ErrVersionConflict = errors.New("store: version conflict")
	ErrConditionFailed = errors.New("store: condition not met")
	ErrDuplicate       = errors.New("store: duplicate key")
	ErrUndeclaredField = errors.New("store: field not declared in the collection spec")
	// ErrInvalidDocument is a document (or UpdateIf value) both backends
	// cannot store alike: not a JSON object, an empty or non-UTF-8 id, a
	// reserved or invalid key ("_id", "_v", "$…", dotted, NUL, duplicated),
	// a declared field holding a value of another type, or beyond MongoDB's
	// limits (16 MiB, 100 levels of nesting, numbers beyond float64).
	ErrInvalidDocument = errors.New("store: invalid document")
	ErrInvalidQuery    = errors.New("store: invalid query")
)

// FieldType says how a declared field is stored, compared and sorted.
type FieldType int

const (
	String      FieldType = iota // JSON string; equality, ranges (byte order), sort
	Int                          // JSON integer
	Float                        // JSON number
	Bool                         // JSON boolean
	Time                         // JSON RFC 3339 string; compared and sorted as instants
	StringArray                  // JSON array of strings; Eq matches arrays that contain the value
)

// Field is a declared top-level or dotted ("pricing.model") field.
type Field struct {
	Name string
	Type FieldType
}

// Index is a (possibly compound, possibly unique) index on declared fields.
type Index struct {
	Fields []string
	Unique bool
}

// Spec declares a collection: its name, the fields queries may use, its
// indexes (every declared field is also indexed on its own), and the fields a
// Text filter searches.
type Spec struct {
	Name    string
	Fields  []Field
	Indexes []Index
	Text    []string
}

// Record is one stored document as raw JSON, with "id" and "version" filled in.
type Record struct {
	ID      string
	Version int64
	Data    json.RawMessage
}

// Decode unmarshals the record into v.
func (r Record) Decode(v any) error { return json.Unmarshal(r.Data, v) }

// Store opens collections. It is safe for concurrent use.
type Store interface {
	// Collection creates the collection and its indexes if needed (idempotent)
	// and returns it. Opening the same name twice with different specs is an error.
	Collection(ctx context.Context, spec Spec) (Collection, error)
	// Ping reports whether the backend is reachable (used by /readyz).
	Ping(ctx context.Context) error
	Close(ctx context.Context) error
}

// Collection is a set of documents keyed by id.
type Collection interface {
	// Insert stores doc under id with version 1. ErrDuplicate if the id or a
	// unique index value is taken.
	Insert(ctx context.Context, id string, doc any) (version int64, err error)
	// Get decodes the document into out and returns its version. ErrNotFound.
	Get(ctx context.Context, id string, out any) (version int64, err error)
	// Replace overwrites the document if its stored version equals version,
	// and returns the new version. ErrNotFound, ErrVersionConflict, ErrDuplicate.
	Replace(ctx context.Context, id string, version int64, doc any) (newVersion int64, err error)
	// UpdateIf atomically sets the given top-level fields of document id if it
	// also matches cond (nil: no condition), bumping its version. It is the
	// claim primitive: of two concurrent UpdateIf with the same cond, at most
	// one succeeds. ErrNotFound if id does not exist, ErrConditionFailed if cond
	// does not match.
	UpdateIf(ctx context.Context, id string, cond Filter, set map[string]any) (newVersion int64, err error)
	// Delete removes the document; version 0 deletes unconditionally.
	// ErrNotFound, ErrVersionConflict.
	Delete(ctx context.Context, id string, version int64) error
	// Find returns the documents matching q, in q.Sort order (then id), and the
	// total number of matches ignoring Limit and Offset.
	Find(ctx context.Context, q Query) (records []Record, total int64, err error)
	// Count returns how many documents match f (nil: all).
	Count(ctx context.Context, f Filter) (int64, error)
}

// Query selects, orders and pages documents.
type Query struct {
	Filter Filter // nil: all documents
	Sort   []Sort
	Limit  int // 0: no limit
	Offset int
}

// Sort orders by a declared field.
type Sort struct {
	Field string
	Desc  bool
}

// Filter is a predicate on documents, built with the functions below.
type Filter interface{ isFilter() }

// Op is a comparison operator.
type Op string

const (
	OpEq  Op = "eq"
	OpNe  Op = "ne"
	OpGt  Op = "gt"
	OpGte Op = "gte"
	OpLt  Op = "lt"
	OpLte Op = "lte"
)

// Cmp compares a declared field with a value (string, int/int64, float64,
// bool or time.Time, per the field's type). On a StringArray field, Eq means
// "contains" and Ne "does not contain".
type Cmp struct {
	Field string
	Op    Op
	Value any
}

// InFilter matches when the field equals one of Values (on a StringArray:
// contains at least one of them).
type InFilter struct {
	Field  string
	Values []any
}

// AndFilter matches when every filter matches; empty And matches everything.
type AndFilter []Filter

// OrFilter matches when any filter matches; empty Or matches nothing.
type OrFilter []Filter

// TextFilter matches when every whitespace-separated word of Query occurs,
// case-insensitively, as a substring of at least one of the Spec's Text fields
// (for a StringArray text field: of one of its elements).
type TextFilter struct{ Query string }

func (Cmp) isFilter()        {}
func (InFilter) isFilter()   {}
func (AndFilter) isFilter()  {}
func (OrFilter) isFilter()   {}
func (TextFilter) isFilter() {}

// Eq and the functions below build filters.
func Eq(field string, v any) Filter  { return Cmp{field, OpEq, v} }
func Ne(field string, v any) Filter  { return Cmp{field, OpNe, v} }
func Gt(field string, v any) Filter  { return Cmp{field, OpGt, v} }
func Gte(field string, v any) Filter { return Cmp{field, OpGte, v} }
func Lt(field string, v any) Filter  { return Cmp{field, OpLt, v} }
func Lte(field string, v any) Filter { return Cmp{field, OpLte, v} }
func In(field string, vs ...any) Filter {
	return InFilter{Field: field, Values: vs}
}
func And(fs ...Filter) Filter  { return AndFilter(fs) }
func Or(fs ...Filter) Filter   { return OrFilter(fs) }
func Text(query string) Filter { return TextFilter{Query: query} }
