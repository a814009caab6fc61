package httpapi

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/server"

	"github.com/opencloud/opencloud/services/oc-catalog/internal/catalog"
)

var listParams = []string{"kind", "tag", "owner", "visibility", "q", "sort"}

// parseList reads and validates the list parameters, reporting every bad
// one at once. owner=me is the caller; the default order is by name.
func parseList(c *gin.Context, p authn.Principal) (catalog.Query, error) {
	return parseQuery(c, p, listParams, nil)
}

// parseQuery reads the list parameters among params; extra reads the
// others before the problems are reported.
func parseQuery(c *gin.Context, p authn.Principal, params []string, extra func(*server.ListQuery)) (catalog.Query, error) {
	lq := server.NewListQuery(c, params, "tag", "peer")
	page := lq.Page()
	q := catalog.Query{Limit: page.Limit, Offset: page.Offset}
	if k, ok := lq.Get("kind"); ok {
		if !slices.Contains(resource.Kinds, resource.Kind(k)) {
			lq.Add("kind", "expected one of %s", joinOf(resource.Kinds))
		}
		q.Kind = resource.Kind(k)
	}
	if v, ok := lq.Get("visibility"); ok {
		if !slices.Contains(resource.Visibilities, resource.Visibility(v)) {
			lq.Add("visibility", "expected one of %s", joinOf(resource.Visibilities))
		}
		q.Visibility = resource.Visibility(v)
	}
	q.Tags = lq.Set("tag", catalog.MaxTags, catalog.ValidTag,
		fmt.Sprintf("expected 1 to %d characters of a-z, 0-9, '-', '_' or '.'", catalog.MaxTag))
	q.Owner = lq.Subject("owner", p.Subject, catalog.MaxIdentifier, nil)
	q.Text = lq.Text("q")
	q.Sort = server.SortKeys(lq, "sort", catalog.SortFields, func(f catalog.SortField, desc bool) catalog.Sort {
		return catalog.Sort{Field: f, Desc: desc}
	})
	if extra != nil {
		extra(lq)
	}
	if err := lq.Err(); err != nil {
		return catalog.Query{}, err
	}
	return q, nil
}

func joinOf[T ~string](xs []T) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = string(x)
	}
	return strings.Join(parts, ", ")
}
