package httpapi

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/server"

	"github.com/opencloud/opencloud/services/oc-workspace/internal/area"
	wsdomain "github.com/opencloud/opencloud/services/oc-workspace/internal/workspace"
)

// subject reads a parameter naming a user: "me" is the caller.
func subject(q *server.ListQuery, name string, p authn.Principal) string {
	return q.Subject(name, p.Subject, wsdomain.MaxIdentifier, wsdomain.ValidIdentifier)
}

// identifier reads an id parameter.
func identifier(q *server.ListQuery, name, what string) string {
	v, ok := q.Get(name)
	if ok && !wsdomain.ValidIdentifier(v) {
		q.Add(name, "expected %s: 1 to %d characters without spaces or '/'", what, wsdomain.MaxIdentifier)
	}
	return v
}

// workspaceQuery reads the parameters of GET /workspaces.
func workspaceQuery(c *gin.Context, p authn.Principal) (wsdomain.Query, string, error) {
	lq := server.NewListQuery(c, []string{"q", "workflow", "area", "owner", "sort"})
	page := lq.Page()
	q := wsdomain.Query{Limit: page.Limit, Offset: page.Offset}
	q.Text = lq.Text("q")
	q.WorkflowID = identifier(lq, "workflow", "a workflow id")
	areaID := identifier(lq, "area", "an area id")
	q.Owner = subject(lq, "owner", p)
	q.Sort = server.SortKeys(lq, "sort", wsdomain.SortFields, func(f wsdomain.SortField, desc bool) wsdomain.Sort {
		return wsdomain.Sort{Field: f, Desc: desc}
	})
	if err := lq.Err(); err != nil {
		return wsdomain.Query{}, "", err
	}
	return q, areaID, nil
}

// areaQuery reads the parameters of GET /areas.
func areaQuery(c *gin.Context, p authn.Principal, peerID string) (area.Query, error) {
	lq := server.NewListQuery(c, []string{"member", "workflow", "workspace", "resource", "q", "sort"})
	page := lq.Page()
	q := area.Query{Limit: page.Limit, Offset: page.Offset}
	if m := subject(lq, "member", p); m != "" {
		q.Members = []string{m}
	}
	if id := identifier(lq, "workflow", "a workflow id"); id != "" {
		q.Workflow = peerID + "/" + id
	}
	if id := identifier(lq, "workspace", "a workspace id"); id != "" {
		q.Workspace = peerID + "/" + id
	}
	if r, ok := lq.Get("resource"); ok {
		peer, id, found := strings.Cut(r, "/")
		if !found || !wsdomain.ValidIdentifier(peer) || !wsdomain.ValidIdentifier(id) {
			lq.Add("resource", "expected a resource reference as peer/id (e.g. local/3f1c2a9e-…)")
		}
		q.Resource = r
	}
	q.Text = lq.Text("q")
	q.Sort = server.SortKeys(lq, "sort", area.SortFields, func(f area.SortField, desc bool) area.Sort {
		return area.Sort{Field: f, Desc: desc}
	})
	if err := lq.Err(); err != nil {
		return area.Query{}, err
	}
	return q, nil
}

// pageOnly reads the parameters of a route that only pages.
func pageOnly(c *gin.Context) (int, int, error) {
	lq := server.NewListQuery(c, nil)
	if err := lq.Err(); err != nil {
		return 0, 0, err
	}
	page := lq.Page()
	return page.Limit, page.Offset, nil
}
