package schema

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/opencloud/opencloud/libs/store"
)

// jobs is the spec most tests compile: one field of every type, a nested
// field, the store's own fields and two text fields.
var jobs = store.Spec{
	Name: "jobs",
	Fields: []store.Field{
		{Name: "id", Type: store.String}, {Name: "version", Type: store.Int},
		{Name: "state", Type: store.String}, {Name: "size", Type: store.Int}, {Name: "ratio", Type: store.Float},
		{Name: "done", Type: store.Bool}, {Name: "at", Type: store.Time}, {Name: "tags", Type: store.StringArray},
		{Name: "owner.name", Type: store.String},
	},
	Indexes: []store.Index{{Fields: []string{"state", "at"}, Unique: true}},
	Text:    []string{"state", "tags"},
}

func mustCompile(t *testing.T, spec store.Spec) *Schema {
	t.Helper()
	s, err := Compile(spec)
	if err != nil {
		t.Fatalf("Compile(%s): %v", spec.Name, err)
	}
	return s
}

func TestCompile(t *testing.T) {
	s := mustCompile(t, jobs)
	var names []string
	for _, f := range s.Fields() {
		names = append(names, f.Name)
	}
	if want := []string{"id", "version", "state", "size", "ratio", "done", "at", "tags", "owner.name"}; !slices.Equal(names, want) {
		t.Errorf("Fields() = %v, want spec order %v", names, want)
	}
	if f, ok := s.Field("owner.name"); !ok || !slices.Equal(f.Path, []string{"owner", "name"}) || f.Type != store.String {
		t.Errorf(`Field("owner.name") = %+v, %v`, f, ok)
	}
	if _, ok := s.Field("owner"); ok {
		t.Error(`Field("owner") found an undeclared field`)
	}
	if text := s.Text(); len(text) != 2 || text[0].Name != "state" || text[1].Name != "tags" {
		t.Errorf("Text() = %+v", text)
	}
	if !SpecEqual(s.Spec(), jobs) {
		t.Error("Spec() differs from the compiled spec")
	}
}

func TestCompileRefuses(t *testing.T) {
	str := func(name string) store.Field { return store.Field{Name: name, Type: store.String} }
	for _, tc := range []struct {
		name string
		spec store.Spec
		want error // a sentinel the error wraps, or nil for a plain spec error
	}{
		{"empty name", store.Spec{}, nil},
		{"name starting with a digit", store.Spec{Name: "1jobs"}, nil},
		{"name with a dot", store.Spec{Name: "a.b"}, nil},
		{"name of 64 characters", store.Spec{Name: "a" + strings.Repeat("b", 63)}, nil},
		{"field name with a dash", store.Spec{Name: "j", Fields: []store.Field{str("a-b")}}, nil},
		{"field name ending in a dot", store.Spec{Name: "j", Fields: []store.Field{str("a.")}}, nil},
		{"unknown type", store.Spec{Name: "j", Fields: []store.Field{{Name: "a", Type: store.StringArray + 1}}}, nil},
		{"negative type", store.Spec{Name: "j", Fields: []store.Field{{Name: "a", Type: -1}}}, nil},
		{"id not a String", store.Spec{Name: "j", Fields: []store.Field{{Name: "id", Type: store.Int}}}, nil},
		{"version not an Int", store.Spec{Name: "j", Fields: []store.Field{str("version")}}, nil},
		{"field inside id", store.Spec{Name: "j", Fields: []store.Field{str("id.x")}}, nil},
		{"field inside version", store.Spec{Name: "j", Fields: []store.Field{str("version.x")}}, nil},
		{"field declared twice", store.Spec{Name: "j", Fields: []store.Field{str("a"), str("a")}}, nil},
		{"field inside a declared field", store.Spec{Name: "j", Fields: []store.Field{str("a.b"), str("a")}}, nil},
		{"index without fields", store.Spec{Name: "j", Indexes: []store.Index{{}}}, nil},
		{"index on an undeclared field", store.Spec{Name: "j", Indexes: []store.Index{{Fields: []string{"a"}}}}, store.ErrUndeclaredField},
		{"index on a StringArray", store.Spec{Name: "j", Fields: []store.Field{{Name: "a", Type: store.StringArray}},
			Indexes: []store.Index{{Fields: []string{"a"}}}}, nil},
		{"index field listed twice", store.Spec{Name: "j", Fields: []store.Field{str("a")},
			Indexes: []store.Index{{Fields: []string{"a", "a"}}}}, nil},
		{"undeclared text field", store.Spec{Name: "j", Text: []string{"a"}}, store.ErrUndeclaredField},
		{"text field not a string", store.Spec{Name: "j", Fields: []store.Field{{Name: "a", Type: store.Int}}, Text: []string{"a"}}, nil},
		{"text field listed twice", store.Spec{Name: "j", Fields: []store.Field{str("a")}, Text: []string{"a", "a"}}, nil},
	} {
		_, err := Compile(tc.spec)
		switch {
		case err == nil:
			t.Errorf("%s: no error", tc.name)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestCompileAccepts(t *testing.T) {
	for _, spec := range []store.Spec{
		{Name: "j"},
		{Name: "a" + strings.Repeat("b", 62)},
		{Name: "j", Fields: []store.Field{{Name: "a._b", Type: store.String}, {Name: "ab", Type: store.String}}},
		{Name: "j", Fields: []store.Field{{Name: "id", Type: store.String}, {Name: "version", Type: store.Int}},
			Indexes: []store.Index{{Fields: []string{"version", "id"}, Unique: true}}},
	} {
		if _, err := Compile(spec); err != nil {
			t.Errorf("Compile(%+v): %v", spec, err)
		}
	}
}

func TestSpecEqual(t *testing.T) {
	other := func(change func(*store.Spec)) store.Spec {
		s := store.Spec{
			Name:    jobs.Name,
			Fields:  slices.Clone(jobs.Fields),
			Indexes: []store.Index{{Fields: slices.Clone(jobs.Indexes[0].Fields), Unique: true}},
			Text:    slices.Clone(jobs.Text),
		}
		change(&s)
		return s
	}
	if !SpecEqual(jobs, other(func(*store.Spec) {})) {
		t.Error("a copy of a spec differs from it")
	}
	for name, change := range map[string]func(*store.Spec){
		"name":         func(s *store.Spec) { s.Name = "other" },
		"field type":   func(s *store.Spec) { s.Fields[2].Type = store.Int },
		"field order":  func(s *store.Spec) { s.Fields[2], s.Fields[3] = s.Fields[3], s.Fields[2] },
		"index unique": func(s *store.Spec) { s.Indexes[0].Unique = false },
		"index fields": func(s *store.Spec) { s.Indexes[0].Fields = []string{"at", "state"} },
		"no indexes":   func(s *store.Spec) { s.Indexes = nil },
		"text":         func(s *store.Spec) { s.Text = s.Text[:1] },
	} {
		if SpecEqual(jobs, other(change)) {
			t.Errorf("a spec with another %s equals the original", name)
		}
	}
}
