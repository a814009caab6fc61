package httpapi

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/server"

	"github.com/opencloud/opencloud/services/oc-catalog/internal/catalog"
)

// Limits of list parameters; they bound the cost of one query.
const (
	maxQueryText  = 200
	maxQueryWords = 8
	maxSortKeys   = 4
)

var listParams = []string{"kind", "tag", "owner", "visibility", "q", "sort", "limit", "offset"}

// DefaultSort is the order of lists when the caller gives none.
var DefaultSort = []catalog.Sort{{Field: catalog.SortName}}

// parseList reads and validates the list parameters, reporting every bad
// one at once. owner=me is the caller.
func parseList(c *gin.Context, p authn.Principal) (catalog.Query, error) {
	var bad []apierror.FieldError
	add := func(field, format string, args ...any) {
		bad = append(bad, apierror.FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	values := c.Request.URL.Query()
	for _, name := range slices.Sorted(maps.Keys(values)) {
		vs := values[name]
		switch {
		case !slices.Contains(listParams, name):
			add(name, "unknown parameter; expected one of %s", strings.Join(listParams, ", "))
		case name != "tag" && len(vs) > 1:
			add(name, "given %d times; give it once", len(vs))
		}
	}
	q := catalog.Query{Sort: DefaultSort}
	page, err := server.ParsePage(c)
	var ae *apierror.Error
	if errors.As(err, &ae) {
		if fields, ok := ae.Details.([]apierror.FieldError); ok {
			bad = append(bad, fields...)
		} else {
			bad = append(bad, apierror.FieldError{Field: "limit", Problem: ae.Message})
		}
	}
	q.Limit, q.Offset = page.Limit, page.Offset

	if k := values.Get("kind"); values.Has("kind") {
		if !slices.Contains(resource.Kinds, resource.Kind(k)) {
			add("kind", "expected one of %s", joinOf(resource.Kinds))
		}
		q.Kind = resource.Kind(k)
	}
	if v := values.Get("visibility"); values.Has("visibility") {
		if !slices.Contains(resource.Visibilities, resource.Visibility(v)) {
			add("visibility", "expected one of %s", joinOf(resource.Visibilities))
		}
		q.Visibility = resource.Visibility(v)
	}
	tags := values["tag"]
	if len(tags) > catalog.MaxTags {
		add("tag", "expected at most %d tags", catalog.MaxTags)
	}
	for _, t := range tags {
		if !catalog.ValidTag(t) {
			add("tag", "expected 1 to %d characters of a-z, 0-9, '-', '_' or '.'", catalog.MaxTag)
			break
		}
	}
	q.Tags = slices.Compact(slices.Sorted(slices.Values(tags)))
	if o := values.Get("owner"); values.Has("owner") {
		switch {
		case o == "me":
			q.Owner = p.Subject
		case o == "" || len(o) > catalog.MaxIdentifier || strings.ContainsAny(o, " \t\r\n"):
			add("owner", "expected a subject (1 to %d characters without spaces) or 'me'", catalog.MaxIdentifier)
		default:
			q.Owner = o
		}
	}
	if text := values.Get("q"); values.Has("q") {
		switch {
		case !utf8.ValidString(text) || utf8.RuneCountInString(text) > maxQueryText:
			add("q", "expected at most %d characters of text", maxQueryText)
		case len(strings.Fields(text)) > maxQueryWords:
			add("q", "expected at most %d words", maxQueryWords)
		}
		q.Text = strings.TrimSpace(text)
	}
	if s := values.Get("sort"); values.Has("sort") {
		sorts, err := parseSort(s)
		if err != "" {
			add("sort", "%s", err)
		}
		q.Sort = sorts
	}
	if len(bad) > 0 {
		return catalog.Query{}, apierror.Invalid(bad...)
	}
	return q, nil
}

// parseSort reads "name,-updated_at"; it returns what is wrong, or "".
func parseSort(s string) ([]catalog.Sort, string) {
	expected := fmt.Sprintf("expected up to %d comma-separated keys among %s, each optionally prefixed with '-' for descending order (e.g. -updated_at)",
		maxSortKeys, joinOf(catalog.SortFields))
	keys := strings.Split(s, ",")
	if len(keys) > maxSortKeys {
		return nil, expected
	}
	var out []catalog.Sort
	for _, k := range keys {
		desc := strings.HasPrefix(k, "-")
		f := catalog.SortField(strings.TrimPrefix(k, "-"))
		if !slices.Contains(catalog.SortFields, f) {
			return nil, expected
		}
		if slices.ContainsFunc(out, func(o catalog.Sort) bool { return o.Field == f }) {
			return nil, fmt.Sprintf("key %s is given twice", f)
		}
		out = append(out, catalog.Sort{Field: f, Desc: desc})
	}
	return out, ""
}

func joinOf[T ~string](xs []T) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = string(x)
	}
	return strings.Join(parts, ", ")
}
