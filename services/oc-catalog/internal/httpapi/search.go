package httpapi

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/server"

	"github.com/opencloud/opencloud/services/oc-catalog/internal/search"
)

var searchParams = append(slices.Clip(listParams), "peer")

// RegisterSearch mounts GET /search on g.
func RegisterSearch(g *gin.RouterGroup, s *search.Searcher) {
	g.GET("/search", func(c *gin.Context) { searchHandler(c, s) })
}

// searchHandler godoc
//
//	@Summary		Search this peer's catalog and its partners'
//	@Description	One query over this peer's catalog and every partner's (or the peers named with peer), asked at once. Each partner is asked live through oc-peer with the caller's identity, and applies its own visibility rules; it is waited for at most the peer deadline (1 s by default), so the answer never waits on a dead or slow peer. peers says, per peer, whether it answered, timed out, is offline, refused or failed, how long it took and when its results were read; partial is true when one did not answer. Items are merged in the order of sort (name by default, then peer and id), filtered and paginated as a local list is; each carries its owning peer in peer_id. offset+limit is at most 1000.
//	@Tags			resources
//	@Produce		json
//	@Security		BearerAuth
//	@Param			peer		query		[]string	false	"Only these peers (this peer's id for its own catalog; repeatable)"	collectionFormat(multi)
//	@Param			kind		query		string		false	"Only this kind"	Enums(data, processing, storage, compute, workflow)
//	@Param			tag			query		[]string	false	"Only resources with this tag (repeatable: all must be present)"	collectionFormat(multi)
//	@Param			owner		query		string		false	"Only resources this subject owns"
//	@Param			visibility	query		string		false	"Only this visibility"	Enums(public, partners, groups, private)
//	@Param			q			query		string		false	"Search words (at most 200 characters)"
//	@Param			sort		query		string		false	"Comma-separated keys among name, kind, created_at, updated_at; '-' before a key sorts descending"	default(name)
//	@Param			limit		query		int			false	"Page size, 1 to 200"	default(20)	minimum(1)	maximum(200)
//	@Param			offset		query		int			false	"Items to skip"	default(0)	minimum(0)
//	@Success		200			{object}	resource.SearchResult
//	@Failure		400			{object}	apierror.Envelope	"A parameter is invalid; details name it"
//	@Failure		401			{object}	apierror.Envelope
//	@Router			/search [get]
func searchHandler(c *gin.Context, s *search.Searcher) {
	p, ok := principal(c)
	if !ok {
		return
	}
	var peers []string
	q, err := parseQuery(c, p, searchParams, func(lq *server.ListQuery) {
		peers = lq.Set("peer", 64, peerid.Valid, "expected a peer id (56 characters of a-z and 2-7)")
	})
	if err != nil {
		fail(c, err)
		return
	}
	// Partners are asked with the same filters.
	raw := url.Values{}
	for k, vs := range c.Request.URL.Query() {
		if k != "peer" && k != "limit" && k != "offset" {
			raw[k] = vs
		}
	}
	var res resource.SearchResult
	res, err = s.Search(c.Request.Context(), p, p.Token, search.Query{Query: q, Peers: peers, RawQuery: raw})
	if err != nil {
		if e, ok := err.(*apierror.Error); ok {
			server.Fail(c, e)
			return
		}
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}
