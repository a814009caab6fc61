package server

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
)

// Limits of the query string of a list route; they bound the cost of one
// query.
const (
	MaxTextChars = 200 // a full-text parameter, in characters
	MaxTextWords = 8   // a full-text parameter, in words
	MaxSubject   = 256 // a parameter naming a user by subject, in bytes
)

// DefaultLimit is the page size when a list route is not given one.
const DefaultLimit = 20

// ListQuery reads the query string of a list route. It gathers every
// problem it finds instead of stopping at the first, so that one 400 names
// every parameter to fix; Err returns them.
type ListQuery struct {
	values url.Values
	page   Page
	bad    []apierror.FieldError
}

// NewListQuery starts reading the query string of c: it refuses the
// parameters not in allowed and those given more than once (but for the
// repeatable ones), then reads the page (limit and offset, which are always
// allowed).
func NewListQuery(c *gin.Context, allowed []string, repeatable ...string) *ListQuery {
	q := &ListQuery{values: c.Request.URL.Query()}
	all := append(slices.Clip(allowed), "limit", "offset")
	for _, name := range slices.Sorted(maps.Keys(q.values)) {
		switch n := len(q.values[name]); {
		case !slices.Contains(all, name):
			q.Add(name, "unknown parameter; expected one of %s", strings.Join(all, ", "))
		case n > 1 && !slices.Contains(repeatable, name):
			q.Add(name, "given %d times; give it once", n)
		}
	}
	var bad []apierror.FieldError
	q.page, bad = readPage(q.values)
	q.bad = append(q.bad, bad...)
	return q
}

// readPage reads limit (1 to MaxLimit, DefaultLimit when absent) and offset
// (>= 0, 0 when absent).
func readPage(values url.Values) (Page, []apierror.FieldError) {
	p := Page{Limit: DefaultLimit}
	var bad []apierror.FieldError
	if values.Has("limit") {
		n, err := strconv.Atoi(values.Get("limit"))
		if err != nil || n < 1 || n > MaxLimit {
			bad = append(bad, apierror.FieldError{Field: "limit", Problem: fmt.Sprintf("expected an integer from 1 to %d", MaxLimit)})
		}
		p.Limit = n
	}
	if values.Has("offset") {
		n, err := strconv.Atoi(values.Get("offset"))
		if err != nil || n < 0 {
			bad = append(bad, apierror.FieldError{Field: "offset", Problem: "expected an integer >= 0"})
		}
		p.Offset = n
	}
	if len(bad) > 0 {
		return Page{}, bad
	}
	return p, nil
}

// Page is the page asked for; it is meaningful only when Err is nil.
func (q *ListQuery) Page() Page { return q.page }

// Add records a problem with parameter field.
func (q *ListQuery) Add(field, format string, args ...any) {
	q.bad = append(q.bad, apierror.FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// Get returns the value of parameter name and whether it was given.
func (q *ListQuery) Get(name string) (string, bool) {
	return q.values.Get(name), q.values.Has(name)
}

// Values returns every value of a repeatable parameter.
func (q *ListQuery) Values(name string) []string { return q.values[name] }

// Text reads a full-text parameter: at most MaxTextChars characters and
// MaxTextWords words. It returns the text trimmed, "" when absent.
func (q *ListQuery) Text(name string) string {
	v, ok := q.Get(name)
	if !ok {
		return ""
	}
	switch {
	case !utf8.ValidString(v) || utf8.RuneCountInString(v) > MaxTextChars:
		q.Add(name, "expected at most %d characters of text", MaxTextChars)
	case len(strings.Fields(v)) > MaxTextWords:
		q.Add(name, "expected at most %d words", MaxTextWords)
	}
	return strings.TrimSpace(v)
}

// Subject reads a parameter naming a user: "me" is the caller. valid
// decides what else is a subject; nil means 1 to max bytes without a space,
// tab or line break. It returns "" when absent or not valid.
func (q *ListQuery) Subject(name, caller string, max int, valid func(string) bool) string {
	v, ok := q.Get(name)
	if !ok {
		return ""
	}
	if v == "me" {
		return caller
	}
	if valid == nil {
		valid = func(s string) bool { return s != "" && len(s) <= max && !strings.ContainsAny(s, " \t\r\n") }
	}
	if !valid(v) {
		q.Add(name, "expected a subject (1 to %d characters without spaces) or 'me'", max)
		return ""
	}
	return v
}

// Set reads a repeatable parameter as a sorted set: at most max values
// (refused as "expected at most <max> <name>s"), each accepted by valid
// (problem is said once for those that are not).
func (q *ListQuery) Set(name string, max int, valid func(string) bool, problem string) []string {
	vs := q.Values(name)
	if len(vs) > max {
		q.Add(name, "expected at most %d %ss", max, name)
	}
	for _, v := range vs {
		if !valid(v) {
			q.Add(name, "%s", problem)
			break
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(vs)))
}

// Err is every problem found, as a 400 naming each parameter, or nil.
func (q *ListQuery) Err() error {
	if len(q.bad) == 0 {
		return nil
	}
	return apierror.Invalid(q.bad...)
}

// SortKeys reads a sort parameter such as "name,-updated_at": distinct keys
// among fields, each ascending or, prefixed with '-', descending; key makes
// the caller's type of one. When the parameter is absent the order is
// fields[0] ascending; when it is not valid the problem is recorded and the
// result is nil.
func SortKeys[S any, F ~string](q *ListQuery, name string, fields []F, key func(field F, desc bool) S) []S {
	v, ok := q.Get(name)
	if !ok {
		return []S{key(fields[0], false)}
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = string(f)
	}
	expected := fmt.Sprintf("expected up to %d comma-separated keys among %s, each optionally prefixed with '-' for descending order (e.g. -updated_at)",
		len(fields), strings.Join(names, ", "))
	parts := strings.Split(v, ",")
	if len(parts) > len(fields) {
		q.Add(name, "%s", expected)
		return nil
	}
	out := make([]S, 0, len(parts))
	seen := make([]F, 0, len(parts))
	for _, p := range parts {
		f := F(strings.TrimPrefix(p, "-"))
		switch {
		case !slices.Contains(fields, f):
			q.Add(name, "%s", expected)
			return nil
		case slices.Contains(seen, f):
			q.Add(name, "key %s is given twice", f)
			return nil
		}
		seen = append(seen, f)
		out = append(out, key(f, strings.HasPrefix(p, "-")))
	}
	return out
}
