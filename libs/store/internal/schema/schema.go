// Package schema validates specs, documents, filters and sorts for the store
// backends (sqlitestore and mongostore). Both backends go through this one
// package so that they accept and refuse exactly the same input, and refuse it
// with the same sentinel errors of package store; each then only translates
// the validated, typed result into its own storage.
package schema

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/opencloud/opencloud/libs/store"
)

var (
	collectionName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)
	fieldName      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
)

// Schema is a validated store.Spec.
type Schema struct {
	spec   store.Spec
	fields map[string]Field
	list   []Field // fields in spec order, so backends iterate deterministically
	text   []Field
}

// Field is a declared field.
type Field struct {
	Name string
	Path []string // Name split at the dots
	Type store.FieldType
}

// Compile validates spec. Spec errors are programming errors, reported
// when the service opens its collection at start-up.
func Compile(spec store.Spec) (*Schema, error) {
	if !collectionName.MatchString(spec.Name) {
		return nil, fmt.Errorf("store: collection name %q: want a letter then up to 62 letters, digits or _", spec.Name)
	}
	s := &Schema{spec: spec, fields: make(map[string]Field, len(spec.Fields))}
	for _, f := range spec.Fields {
		if err := checkField(f); err != nil {
			return nil, fmt.Errorf("store: collection %s: %w", spec.Name, err)
		}
		if _, dup := s.fields[f.Name]; dup {
			return nil, fmt.Errorf("store: collection %s: field %q declared twice", spec.Name, f.Name)
		}
		sf := Field{Name: f.Name, Path: strings.Split(f.Name, "."), Type: f.Type}
		s.fields[f.Name] = sf
		s.list = append(s.list, sf)
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
		if f.Type != store.String && f.Type != store.StringArray {
			return nil, fmt.Errorf("store: collection %s: text field %q must be a String or StringArray", spec.Name, name)
		}
		if slices.ContainsFunc(s.text, func(t Field) bool { return t.Name == name }) {
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

func (s *Schema) checkIndex(ix store.Index) error {
	if len(ix.Fields) == 0 {
		return errors.New("index without fields")
	}
	for i, name := range ix.Fields {
		f, ok := s.fields[name]
		if !ok {
			return fmt.Errorf("index field %q: %w", name, store.ErrUndeclaredField)
		}
		if f.Type == store.StringArray {
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

// Spec returns the spec s was compiled from.
func (s *Schema) Spec() store.Spec { return s.spec }

// Fields returns the declared fields in spec order. The slice is shared:
// callers must not modify it.
func (s *Schema) Fields() []Field { return s.list }

// Text returns the fields a Text filter searches, in spec order. The slice
// is shared: callers must not modify it.
func (s *Schema) Text() []Field { return s.text }

// Field returns the declared field name; ok is false if it is not declared.
// Backends use it for names Compile has checked, such as index fields.
func (s *Schema) Field(name string) (f Field, ok bool) {
	f, ok = s.fields[name]
	return f, ok
}

// field returns the declared field name, or ErrUndeclaredField.
func (s *Schema) field(name string) (Field, error) {
	f, ok := s.fields[name]
	if !ok {
		return Field{}, fmt.Errorf("%w: %q in collection %s", store.ErrUndeclaredField, name, s.spec.Name)
	}
	return f, nil
}

// SpecEqual reports whether a and b declare the same collection.
func SpecEqual(a, b store.Spec) bool {
	return a.Name == b.Name &&
		slices.Equal(a.Fields, b.Fields) &&
		slices.EqualFunc(a.Indexes, b.Indexes, func(x, y store.Index) bool {
			return x.Unique == y.Unique && slices.Equal(x.Fields, y.Fields)
		}) &&
		slices.Equal(a.Text, b.Text)
}
