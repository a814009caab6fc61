package httpapi

import (
	"fmt"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/server"

	"github.com/opencloud/opencloud/services/oc-workflow/internal/workflow"
)

var listParams = []string{"q", "tag", "owner", "area", "uses", "sort"}

// parseList reads and validates the list parameters, reporting every bad
// one at once. owner=me is the caller; the default order is by name.
func parseList(c *gin.Context, p authn.Principal) (workflow.ListQuery, error) {
	lq := server.NewListQuery(c, listParams, "tag")
	page := lq.Page()
	q := workflow.ListQuery{Query: workflow.Query{Limit: page.Limit, Offset: page.Offset}}
	q.Tags = lq.Set("tag", workflow.MaxTags, workflow.ValidTag,
		fmt.Sprintf("expected 1 to %d characters of a-z, 0-9, '-', '_' or '.'", workflow.MaxTag))
	q.Owner = lq.Subject("owner", p.Subject, server.MaxSubject, nil)
	if a, ok := lq.Get("area"); ok {
		if a == "" || len(a) > workflow.MaxRefField || strings.ContainsAny(a, "/ \t\r\n") {
			lq.Add("area", "expected the id of a collaborative area you are a member of")
		}
		q.Area = a
	}
	if u, ok := lq.Get("uses"); ok {
		peer, id, found := strings.Cut(u, "/")
		if !found || !workflow.ValidRef(resource.Ref{Peer: peer, ID: id}) {
			lq.Add("uses", "expected a resource reference as peer/id (e.g. local/3f1c2a9e-6a43-4d3b-9a55-1a2b3c4d5e6f)")
		}
		q.Uses = &resource.Ref{Peer: peer, ID: id}
	}
	q.Text = lq.Text("q")
	q.Sort = server.SortKeys(lq, "sort", workflow.SortFields, func(f workflow.SortField, desc bool) workflow.Sort {
		return workflow.Sort{Field: f, Desc: desc}
	})
	if err := lq.Err(); err != nil {
		return workflow.ListQuery{}, err
	}
	return q, nil
}
