package httpapi

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"

	"github.com/opencloud/opencloud/services/oc-workspace/internal/area"
	wsdomain "github.com/opencloud/opencloud/services/oc-workspace/internal/workspace"
)

// Limits of list parameters; they bound the cost of one query.
const (
	maxQueryText  = 200
	maxQueryWords = 8
	maxSortKeys   = 3
)

type filters struct {
	bad []apierror.FieldError
	c   *gin.Context
}

func (f *filters) add(field, format string, args ...any) {
	f.bad = append(f.bad, apierror.FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// subject reads a subject parameter: "me" is the caller.
func (f *filters) subject(name string, p authn.Principal) string {
	v, ok := f.c.GetQuery(name)
	switch {
	case !ok:
		return ""
	case v == "me":
		return p.Subject
	case !wsdomain.ValidIdentifier(v):
		f.add(name, "expected a subject (1 to %d characters without spaces) or 'me'", wsdomain.MaxIdentifier)
	}
	return v
}

// identifier reads an id parameter.
func (f *filters) identifier(name, what string) string {
	v, ok := f.c.GetQuery(name)
	if ok && !wsdomain.ValidIdentifier(v) {
		f.add(name, "expected %s: 1 to %d characters without spaces or '/'", what, wsdomain.MaxIdentifier)
	}
	return v
}

func (f *filters) text() string {
	v, ok := f.c.GetQuery("q")
	if !ok {
		return ""
	}
	switch {
	case !utf8.ValidString(v) || utf8.RuneCountInString(v) > maxQueryText:
		f.add("q", "expected at most %d characters of text", maxQueryText)
	case len(strings.Fields(v)) > maxQueryWords:
		f.add("q", "expected at most %d words", maxQueryWords)
	}
	return strings.TrimSpace(v)
}

// sort reads "name,-updated_at" into keys among fields.
func sortKeys[F ~string](f *filters, fields []F) []struct {
	Field F
	Desc  bool
} {
	type key = struct {
		Field F
		Desc  bool
	}
	v, ok := f.c.GetQuery("sort")
	if !ok {
		return []key{{Field: fields[0]}}
	}
	names := make([]string, len(fields))
	for i, x := range fields {
		names[i] = string(x)
	}
	expected := fmt.Sprintf("expected up to %d comma-separated keys among %s, each optionally prefixed with '-' for descending order (e.g. -updated_at)",
		maxSortKeys, strings.Join(names, ", "))
	parts := strings.Split(v, ",")
	if len(parts) > maxSortKeys {
		f.add("sort", "%s", expected)
		return nil
	}
	var out []key
	for _, p := range parts {
		desc := strings.HasPrefix(p, "-")
		field := F(strings.TrimPrefix(p, "-"))
		if !slices.Contains(fields, field) {
			f.add("sort", "%s", expected)
			return nil
		}
		if slices.ContainsFunc(out, func(k key) bool { return k.Field == field }) {
			f.add("sort", "key %s is given twice", field)
			return nil
		}
		out = append(out, key{Field: field, Desc: desc})
	}
	return out
}

// workspaceQuery reads the parameters of GET /workspaces.
func workspaceQuery(c *gin.Context, p authn.Principal) (wsdomain.Query, string, error) {
	page, bad := params(c, "q", "workflow", "area", "owner", "sort")
	f := &filters{bad: bad, c: c}
	q := wsdomain.Query{Limit: page.Limit, Offset: page.Offset}
	q.Text = f.text()
	q.WorkflowID = f.identifier("workflow", "a workflow id")
	areaID := f.identifier("area", "an area id")
	q.Owner = f.subject("owner", p)
	for _, k := range sortKeys(f, wsdomain.SortFields) {
		q.Sort = append(q.Sort, wsdomain.Sort{Field: k.Field, Desc: k.Desc})
	}
	if len(f.bad) > 0 {
		return wsdomain.Query{}, "", apierror.Invalid(f.bad...)
	}
	return q, areaID, nil
}

// areaQuery reads the parameters of GET /areas.
func areaQuery(c *gin.Context, p authn.Principal, peerID string) (area.Query, error) {
	page, bad := params(c, "member", "workflow", "workspace", "resource", "q", "sort")
	f := &filters{bad: bad, c: c}
	q := area.Query{Limit: page.Limit, Offset: page.Offset}
	if m := f.subject("member", p); m != "" {
		q.Members = []string{m}
	}
	if id := f.identifier("workflow", "a workflow id"); id != "" {
		q.Workflow = peerID + "/" + id
	}
	if id := f.identifier("workspace", "a workspace id"); id != "" {
		q.Workspace = peerID + "/" + id
	}
	if r, ok := c.GetQuery("resource"); ok {
		peer, id, found := strings.Cut(r, "/")
		if !found || !wsdomain.ValidIdentifier(peer) || !wsdomain.ValidIdentifier(id) {
			f.add("resource", "expected a resource reference as peer/id (e.g. local/3f1c2a9e-…)")
		}
		q.Resource = r
	}
	q.Text = f.text()
	for _, k := range sortKeys(f, area.SortFields) {
		q.Sort = append(q.Sort, area.Sort{Field: k.Field, Desc: k.Desc})
	}
	if len(f.bad) > 0 {
		return area.Query{}, apierror.Invalid(f.bad...)
	}
	return q, nil
}

// pageOnly reads the parameters of a route that only pages.
func pageOnly(c *gin.Context) (int, int, error) {
	page, bad := params(c)
	if len(bad) > 0 {
		return 0, 0, apierror.Invalid(bad...)
	}
	return page.Limit, page.Offset, nil
}
