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

	"github.com/opencloud/opencloud/services/oc-workflow/internal/workflow"
)

// Limits of list parameters; they bound the cost of one query.
const (
	maxQueryText  = 200
	maxQueryWords = 8
	maxSortKeys   = 3
	maxSubject    = 256
)

var listParams = []string{"q", "tag", "owner", "area", "uses", "sort", "limit", "offset"}

// DefaultSort is the order of lists when the caller gives none.
var DefaultSort = []workflow.Sort{{Field: workflow.SortName}}

// parseList reads and validates the list parameters, reporting every bad
// one at once. owner=me is the caller.
func parseList(c *gin.Context, p authn.Principal) (workflow.ListQuery, error) {
	var bad []apierror.FieldError
	add := func(field, format string, args ...any) {
		bad = append(bad, apierror.FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	values := c.Request.URL.Query()
	for _, name := range slices.Sorted(maps.Keys(values)) {
		switch vs := values[name]; {
		case !slices.Contains(listParams, name):
			add(name, "unknown parameter; expected one of %s", strings.Join(listParams, ", "))
		case name != "tag" && len(vs) > 1:
			add(name, "given %d times; give it once", len(vs))
		}
	}
	q := workflow.ListQuery{Query: workflow.Query{Sort: DefaultSort}}
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

	tags := values["tag"]
	if len(tags) > workflow.MaxTags {
		add("tag", "expected at most %d tags", workflow.MaxTags)
	}
	for _, t := range tags {
		if !workflow.ValidTag(t) {
			add("tag", "expected 1 to %d characters of a-z, 0-9, '-', '_' or '.'", workflow.MaxTag)
			break
		}
	}
	q.Tags = slices.Compact(slices.Sorted(slices.Values(tags)))
	if o := values.Get("owner"); values.Has("owner") {
		switch {
		case o == "me":
			q.Owner = p.Subject
		case o == "" || len(o) > maxSubject || strings.ContainsAny(o, " \t\r\n"):
			add("owner", "expected a subject (1 to %d characters without spaces) or 'me'", maxSubject)
		default:
			q.Owner = o
		}
	}
	if a := values.Get("area"); values.Has("area") {
		if a == "" || len(a) > workflow.MaxRefField || strings.ContainsAny(a, "/ \t\r\n") {
			add("area", "expected the id of a collaborative area you are a member of")
		}
		q.Area = a
	}
	if u := values.Get("uses"); values.Has("uses") {
		peer, id, ok := strings.Cut(u, "/")
		if !ok || !workflow.ValidRef(resource.Ref{Peer: peer, ID: id}) {
			add("uses", "expected a resource reference as peer/id (e.g. local/3f1c2a9e-6a43-4d3b-9a55-1a2b3c4d5e6f)")
		}
		q.Uses = &resource.Ref{Peer: peer, ID: id}
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
		sorts, problem := parseSort(s)
		if problem != "" {
			add("sort", "%s", problem)
		}
		q.Sort = sorts
	}
	if len(bad) > 0 {
		return workflow.ListQuery{}, apierror.Invalid(bad...)
	}
	return q, nil
}

// parseSort reads "name,-updated_at"; it returns what is wrong, or "".
func parseSort(s string) ([]workflow.Sort, string) {
	names := make([]string, len(workflow.SortFields))
	for i, f := range workflow.SortFields {
		names[i] = string(f)
	}
	expected := fmt.Sprintf("expected up to %d comma-separated keys among %s, each optionally prefixed with '-' for descending order (e.g. -updated_at)",
		maxSortKeys, strings.Join(names, ", "))
	keys := strings.Split(s, ",")
	if len(keys) > maxSortKeys {
		return nil, expected
	}
	var out []workflow.Sort
	for _, k := range keys {
		desc := strings.HasPrefix(k, "-")
		f := workflow.SortField(strings.TrimPrefix(k, "-"))
		if !slices.Contains(workflow.SortFields, f) {
			return nil, expected
		}
		if slices.ContainsFunc(out, func(o workflow.Sort) bool { return o.Field == f }) {
			return nil, fmt.Sprintf("key %s is given twice", f)
		}
		out = append(out, workflow.Sort{Field: f, Desc: desc})
	}
	return out, ""
}
