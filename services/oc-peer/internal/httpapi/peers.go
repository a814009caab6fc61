package httpapi

import (
	"errors"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/server"

	"github.com/opencloud/opencloud/services/oc-peer/internal/registry"
)

// Peers serves the routes of the peers this peer knows.
type Peers struct{ reg *registry.Registry }

// NewPeers returns the handlers over reg.
func NewPeers(reg *registry.Registry) *Peers { return &Peers{reg: reg} }

// Register adds the routes to g (which requires a token); the routes that
// change anything require the admin role.
func (h *Peers) Register(g *gin.RouterGroup) {
	g.GET("/peers", h.list)
	g.GET("/peers/:id", h.get)
	admin := g.Group("", server.RequireRole(authn.RoleAdmin))
	admin.POST("/peers", h.add)
	admin.PATCH("/peers/:id", h.patch)
	admin.DELETE("/peers/:id", h.remove)
	admin.POST("/peers/:id/accept", h.accept)
	admin.POST("/peers/:id/block", h.block)
	admin.POST("/peers/:id/unblock", h.unblock)
}

// AddPeer is the body of POST /peer/peers.
type AddPeer struct {
	// URL is the other peer's base URL: its self document is read at
	// URL/peer/self.
	URL string `json:"url" example:"https://opencloud.lab-b.example.org"`
	// Groups puts the peer in these peer groups.
	Groups []string `json:"groups,omitempty" example:"eu-labs"`
}

// PatchPeer is the body of PATCH /peer/peers/{id}: the fields to change.
type PatchPeer struct {
	// URL is where this peer reaches the other from now on.
	URL *string `json:"url,omitempty"`
	// Groups replaces the peer's groups.
	Groups *[]string `json:"groups,omitempty"`
}

// PeerPage is a page of peers.
type PeerPage struct {
	Items  []federation.Peer `json:"items"`
	Total  int64             `json:"total"`
	Limit  int               `json:"limit"`
	Offset int               `json:"offset"`
}

func fail(c *gin.Context, err error) {
	switch {
	case errors.Is(err, registry.ErrInvalid):
		server.Fail(c, apierror.BadRequest("invalid_request", err.Error()))
	case errors.Is(err, registry.ErrUnreadable):
		server.Fail(c, apierror.New(http.StatusBadGateway, "peer_unreadable", err.Error(), nil))
	case errors.Is(err, registry.ErrNotFound):
		server.Fail(c, apierror.NotFound(err.Error()))
	case errors.Is(err, registry.ErrVersion):
		server.Fail(c, apierror.Conflict("version_conflict", err.Error(), nil))
	case errors.Is(err, registry.ErrBlocked):
		server.Fail(c, apierror.Conflict("peer_blocked", err.Error(), nil))
	case errors.Is(err, registry.ErrConflict):
		server.Fail(c, apierror.Conflict("conflict", err.Error(), nil))
	default:
		server.Fail(c, err)
	}
}

func actor(c *gin.Context) string {
	p, _ := authn.FromContext(c.Request.Context())
	return p.Subject
}

func respond(c *gin.Context, status int, p federation.Peer) {
	c.Header("ETag", server.ETag(p.Version))
	c.JSON(status, p)
}

// list godoc
//
//	@Summary		The peers this peer knows
//	@Description	Every peer added by URL or that asked for a partnership, with its relation, groups, pinned key fingerprint and health from the heartbeats. Filters combine.
//	@Tags			peers
//	@Produce		json
//	@Security		BearerAuth
//	@Param			relation	query		string	false	"Only this relation"	Enums(known, requested, invited, partner, blocked)
//	@Param			group		query		string	false	"Only peers in this group"
//	@Param			q			query		string	false	"Search words in the name and URL"
//	@Param			limit		query		int		false	"Page size, 1 to 200"	default(20)
//	@Param			offset		query		int		false	"Items to skip"			default(0)
//	@Success		200			{object}	PeerPage
//	@Failure		400			{object}	apierror.Envelope
//	@Failure		401			{object}	apierror.Envelope
//	@Router			/peer/peers [get]
func (h *Peers) list(c *gin.Context) {
	lq := server.NewListQuery(c, []string{"relation", "group", "q"})
	page := lq.Page()
	q := registry.Query{Limit: page.Limit, Offset: page.Offset, Text: lq.Text("q")}
	if r, ok := lq.Get("relation"); ok {
		if !federation.Relation(r).Valid() {
			lq.Add("relation", "expected one of known, requested, invited, partner, blocked")
		}
		q.Relation = federation.Relation(r)
	}
	if g, ok := lq.Get("group"); ok {
		q.Group = g
	}
	if err := lq.Err(); err != nil {
		server.Fail(c, err)
		return
	}
	items, total, err := h.reg.List(c.Request.Context(), q)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, PeerPage{Items: items, Total: total, Limit: q.Limit, Offset: q.Offset})
}

// get godoc
//
//	@Summary	One peer
//	@Tags		peers
//	@Produce	json
//	@Security	BearerAuth
//	@Param		id	path		string	true	"Peer id"
//	@Success	200	{object}	federation.Peer
//	@Header		200	{string}	ETag	"The peer record's version"
//	@Failure	404	{object}	apierror.Envelope
//	@Router		/peer/peers/{id} [get]
func (h *Peers) get(c *gin.Context) {
	p, err := h.reg.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	respond(c, http.StatusOK, p)
}

// add godoc
//
//	@Summary		Add a peer by URL
//	@Description	Reads the peer's self document at URL/peer/self, verifies it and pins its key: compare the fingerprint shown with the one the other peer's administrator reads on their side before accepting a partnership. Adding a peer already known updates its URL and, after a key rotation it signed, its pinned keys; it keeps its relation (200). The peer is known, not yet a partner: POST /peer/peers/{id}/accept asks it.
//	@Tags			peers
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			peer	body		AddPeer	true	"The peer's URL"
//	@Success		201		{object}	federation.Peer	"Added"
//	@Success		200		{object}	federation.Peer	"Already known"
//	@Failure		400		{object}	apierror.Envelope	"A malformed URL, or this peer's own"
//	@Failure		403		{object}	apierror.Envelope	"Not an administrator"
//	@Failure		409		{object}	apierror.Envelope	"The document does not continue the keys pinned for that peer"
//	@Failure		502		{object}	apierror.Envelope	"No valid self document at that URL"
//	@Router			/peer/peers [post]
func (h *Peers) add(c *gin.Context) {
	var in AddPeer
	if err := server.DecodeJSON(c, &in); err != nil {
		server.Fail(c, err)
		return
	}
	p, created, err := h.reg.Add(c.Request.Context(), actor(c), in.URL, in.Groups)
	if err != nil {
		fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		c.Header("Location", "/peer/peers/"+p.ID)
	}
	respond(c, status, p)
}

// patch godoc
//
//	@Summary		Change a peer's URL or groups
//	@Tags			peers
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id			path		string		true	"Peer id"
//	@Param			If-Match	header		string		false	"The version changed (ETag)"
//	@Param			patch		body		PatchPeer	true	"The fields to change"
//	@Success		200			{object}	federation.Peer
//	@Failure		400			{object}	apierror.Envelope
//	@Failure		404			{object}	apierror.Envelope
//	@Failure		409			{object}	apierror.Envelope	"If-Match is not the current version"
//	@Router			/peer/peers/{id} [patch]
func (h *Peers) patch(c *gin.Context) {
	ifMatch, err := server.IfMatch(c)
	if err != nil {
		server.Fail(c, err)
		return
	}
	var in PatchPeer
	if err := server.DecodeJSON(c, &in); err != nil {
		server.Fail(c, err)
		return
	}
	if in.Groups != nil {
		g := slices.Clone(*in.Groups)
		in.Groups = &g
	}
	p, err := h.reg.Update(c.Request.Context(), actor(c), c.Param("id"), registry.Patch{URL: in.URL, Groups: in.Groups}, ifMatch)
	if err != nil {
		fail(c, err)
		return
	}
	respond(c, http.StatusOK, p)
}

// remove godoc
//
//	@Summary		Remove a peer
//	@Description	Forgets the peer and its pinned key: its calls are refused as from an unknown peer and it sees nothing shared with partners any more. A partner is told when it answers.
//	@Tags			peers
//	@Security		BearerAuth
//	@Param			id	path	string	true	"Peer id"
//	@Success		204
//	@Failure		404	{object}	apierror.Envelope
//	@Router			/peer/peers/{id} [delete]
func (h *Peers) remove(c *gin.Context) {
	if err := h.reg.Remove(c.Request.Context(), actor(c), c.Param("id")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// accept godoc
//
//	@Summary		Accept a partnership
//	@Description	This administrator's yes. When the other peer's administrator already asked (relation invited), the peer becomes a partner on both sides; otherwise the other peer is asked (relation requested) and becomes a partner once its administrator accepts. The message is sent at once, and again with every heartbeat until the peer takes it (pending). Idempotent.
//	@Tags			peers
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id	path		string	true	"Peer id"
//	@Success		200	{object}	federation.Peer
//	@Failure		404	{object}	apierror.Envelope
//	@Failure		409	{object}	apierror.Envelope	"The peer is blocked"
//	@Router			/peer/peers/{id}/accept [post]
func (h *Peers) accept(c *gin.Context) {
	p, err := h.reg.Accept(c.Request.Context(), actor(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	respond(c, http.StatusOK, p)
}

// block godoc
//
//	@Summary		Block a peer
//	@Description	Every call of the peer is refused with 403 from now on, on every service of this peer. Idempotent.
//	@Tags			peers
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id	path		string	true	"Peer id"
//	@Success		200	{object}	federation.Peer
//	@Failure		404	{object}	apierror.Envelope
//	@Router			/peer/peers/{id}/block [post]
func (h *Peers) block(c *gin.Context) {
	p, err := h.reg.Block(c.Request.Context(), actor(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	respond(c, http.StatusOK, p)
}

// unblock godoc
//
//	@Summary		Unblock a peer
//	@Description	The peer becomes known again; a partnership must be accepted anew.
//	@Tags			peers
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id	path		string	true	"Peer id"
//	@Success		200	{object}	federation.Peer
//	@Failure		404	{object}	apierror.Envelope
//	@Router			/peer/peers/{id}/unblock [post]
func (h *Peers) unblock(c *gin.Context) {
	p, err := h.reg.Unblock(c.Request.Context(), actor(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	respond(c, http.StatusOK, p)
}
