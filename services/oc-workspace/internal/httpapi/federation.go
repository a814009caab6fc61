package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/server"
	wire "github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/internal/area"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/replica"
)

// FederationRoutes are the routes member peers call, signed (OCPeer).
var FederationRoutes = []string{
	"POST /workspace/federation/areas/:id/sync",
	"POST /workspace/federation/areas/:id/ops",
}

// RegisterFederation mounts the routes member peers of shared areas call.
func RegisterFederation(g *gin.RouterGroup, areas *area.Service) {
	h := &federationHandler{areas: areas}
	g.POST("/federation/areas/:id/sync", h.sync)
	g.POST("/federation/areas/:id/ops", h.ops)
}

type federationHandler struct{ areas *area.Service }

// caller returns the calling member peer; only signed peer calls pass.
func (h *federationHandler) caller(c *gin.Context) (string, string, bool) {
	p, ok := principal(c)
	if !ok {
		return "", "", false
	}
	if !p.IsRemote() {
		server.Fail(c, apierror.Forbidden("only member peers call this route, signed (Authorization: OCPeer)"))
		return "", "", false
	}
	if p.Subject != "" {
		// A member peer's user may not read the whole history of an area
		// through their peer: only the peer itself exchanges ops.
		server.Fail(c, apierror.Forbidden("only member peers themselves call this route, not on behalf of a user"))
		return "", "", false
	}
	id, ok := pathID(c, "id", "area")
	return p.Remote.Peer, id, ok
}

// sync godoc
//
//	@Summary		Ops of a shared area a member peer lacks (peers only)
//	@Description	A member peer sends its version vector of the area and gets the ops this peer holds beyond it (at most 1000; more says whether others remain), each signed by its author peer, with this peer's own vector so that it can send what this peer lacks. A peer that is not (or no longer) a member peer of the area is refused with 403.
//	@Tags			federation
//	@Accept			json
//	@Produce		json
//	@Param			Authorization	header		string				true	"OCPeer <signed call>"
//	@Param			id				path		string				true	"Area id"
//	@Param			request			body		replica.SyncRequest	true	"The caller's vector"
//	@Success		200				{object}	replica.SyncResponse
//	@Failure		401				{object}	apierror.Envelope
//	@Failure		403				{object}	apierror.Envelope	"Not a member peer, blocked, or not a signed peer call"
//	@Failure		404				{object}	apierror.Envelope
//	@Router			/federation/areas/{id}/sync [post]
func (h *federationHandler) sync(c *gin.Context) {
	peer, id, ok := h.caller(c)
	if !ok {
		return
	}
	var in replica.SyncRequest
	if err := server.DecodeJSON(c, &in); err != nil {
		server.Fail(c, err)
		return
	}
	ops, mine, more, err := h.areas.Missing(c.Request.Context(), peer, id, in.Vector)
	if err != nil {
		fail(c, err)
		return
	}
	if ops == nil {
		ops = []wire.Op{}
	}
	c.JSON(http.StatusOK, replica.SyncResponse{Ops: ops, Vector: mine, More: more})
}

// ops godoc
//
//	@Summary		Take ops of a shared area (peers only)
//	@Description	A member peer sends ops of the area (at most 1000), each signed by its author peer. Those this peer lacks join its history, and the area becomes the result of all its ops, ordered by (clock, author peer, op id): concurrent edits of one element resolve the same way on every member. Ops whose author's signature does not verify here are left out (refused). An area this peer does not hold is taken when the ops make this peer a member peer.
//	@Tags			federation
//	@Accept			json
//	@Produce		json
//	@Param			Authorization	header		string				true	"OCPeer <signed call>"
//	@Param			id				path		string				true	"Area id"
//	@Param			request			body		replica.OpsRequest	true	"The ops"
//	@Success		200				{object}	area.MergeResult
//	@Failure		400				{object}	apierror.Envelope	"A malformed op"
//	@Failure		401				{object}	apierror.Envelope
//	@Failure		403				{object}	apierror.Envelope	"Not a member peer"
//	@Router			/federation/areas/{id}/ops [post]
func (h *federationHandler) ops(c *gin.Context) {
	peer, id, ok := h.caller(c)
	if !ok {
		return
	}
	var in replica.OpsRequest
	if err := server.DecodeJSON(c, &in); err != nil {
		server.Fail(c, err)
		return
	}
	res, err := h.areas.Merge(c.Request.Context(), peer, id, in.Ops)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}
