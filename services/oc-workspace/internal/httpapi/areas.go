package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/api"
)

func respondArea(c *gin.Context, status int, a workspace.Area) {
	c.Header("ETag", server.ETag(a.Version))
	c.JSON(status, a)
}

// createArea godoc
//
//	@Summary		Create a collaborative area
//	@Description	Creates an area: a name (1 to 200 characters), a description, and optionally its first members (subjects), member peers and rules. The caller becomes its first admin member. Rules are validated: a known kind; "jurisdictions" needs jurisdictions (ISO 3166-1 alpha-2 codes or "EU"), "compute_peers" needs peers, and no other kind takes either. Rule ids are given by the server when empty and are unique within the book. The creation is the first entry of the area's history.
//	@Tags			areas
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			area			body		workspace.AreaInput	true	"The area"
//	@Param			Idempotency-Key	header		string				false	"Any unique string (a UUID) that makes a retry safe"
//	@Success		201				{object}	workspace.Area
//	@Header			201				{string}	ETag		"The version, quoted"
//	@Header			201				{string}	Location	"The area's URL"
//	@Failure		400				{object}	apierror.Envelope	"details name each invalid field"
//	@Failure		401				{object}	apierror.Envelope
//	@Router			/areas [post]
func (h *Handler) createArea(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	var in workspace.AreaInput
	if err := server.DecodeJSON(c, &in); err != nil {
		fail(c, err)
		return
	}
	a, err := h.areas.Create(c.Request.Context(), p, in)
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Location", strings.TrimSuffix(c.Request.URL.Path, "/")+"/"+a.ID)
	respondArea(c, http.StatusCreated, a)
}

// listAreas godoc
//
//	@Summary		List collaborative areas
//	@Description	Lists the areas the caller is a member of (admins: all), a page at a time. Filters combine with AND. Unknown parameters are refused.
//	@Tags			areas
//	@Produce		json
//	@Security		BearerAuth
//	@Param			member		query		string	false	"Only areas this subject is a member of; 'me' is the caller"
//	@Param			workflow	query		string	false	"Only areas sharing this workflow (of this peer)"
//	@Param			workspace	query		string	false	"Only areas sharing this workspace (of this peer)"
//	@Param			resource	query		string	false	"Only areas sharing this resource, as peer/id"
//	@Param			q			query		string	false	"Words of the name"
//	@Param			sort		query		string	false	"Comma-separated keys among name, created_at, updated_at; '-' sorts descending"	default(name)
//	@Param			limit		query		int		false	"Page size, 1 to 200"	default(20)	minimum(1)	maximum(200)
//	@Param			offset		query		int		false	"Items to skip"	default(0)	minimum(0)
//	@Success		200			{object}	workspace.AreaPage
//	@Failure		400			{object}	apierror.Envelope
//	@Failure		401			{object}	apierror.Envelope
//	@Router			/areas [get]
func (h *Handler) listAreas(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	q, err := areaQuery(c, p, h.peerID)
	if err != nil {
		fail(c, err)
		return
	}
	items, total, err := h.areas.List(c.Request.Context(), p, q)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, workspace.AreaPage{Items: items, Total: total, Limit: q.Limit, Offset: q.Offset})
}

// getArea godoc
//
//	@Summary		Get a collaborative area
//	@Description	Returns the area to its members and to admins; others get 404.
//	@Tags			areas
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id	path		string	true	"Area id (UUID)"
//	@Success		200	{object}	workspace.Area
//	@Header			200	{string}	ETag	"The version, quoted"
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		404	{object}	apierror.Envelope
//	@Router			/areas/{id} [get]
func (h *Handler) getArea(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := pathID(c, "id", "area")
	if !ok {
		return
	}
	a, err := h.areas.Get(c.Request.Context(), p, id)
	if err != nil {
		fail(c, err)
		return
	}
	respondArea(c, http.StatusOK, a)
}

// updateArea godoc
//
//	@Summary		Rename a collaborative area
//	@Description	Changes the area's name and description (admin members and platform admins; other members 403). Members, peers and rules have their own routes and are refused here. The version is required, in If-Match or the body: without it 428, stale 409.
//	@Tags			areas
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id			path		string				true	"Area id (UUID)"
//	@Param			If-Match	header		string				false	"The ETag of the version being changed"
//	@Param			area		body		workspace.AreaInput	true	"The new name and description"
//	@Success		200			{object}	workspace.Area
//	@Failure		400			{object}	apierror.Envelope
//	@Failure		401			{object}	apierror.Envelope
//	@Failure		403			{object}	apierror.Envelope
//	@Failure		404			{object}	apierror.Envelope
//	@Failure		409			{object}	apierror.Envelope{error=apierror.Error{details=ConflictDetails}}
//	@Failure		428			{object}	apierror.Envelope
//	@Router			/areas/{id} [put]
func (h *Handler) updateArea(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := pathID(c, "id", "area")
	if !ok {
		return
	}
	match, err := server.IfMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	var in workspace.AreaInput
	if err := server.DecodeJSON(c, &in); err != nil {
		fail(c, err)
		return
	}
	a, err := h.areas.Update(c.Request.Context(), p, id, in, match)
	if err != nil {
		fail(c, err)
		return
	}
	respondArea(c, http.StatusOK, a)
}

// deleteArea godoc
//
//	@Summary		Delete a collaborative area
//	@Description	Deletes the area (admin members and platform admins). What it shared is not deleted.
//	@Tags			areas
//	@Security		BearerAuth
//	@Param			id			path	string	true	"Area id (UUID)"
//	@Param			If-Match	header	string	false	"The ETag of the version being deleted"
//	@Success		204
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		403	{object}	apierror.Envelope
//	@Failure		404	{object}	apierror.Envelope
//	@Failure		409	{object}	apierror.Envelope{error=apierror.Error{details=ConflictDetails}}
//	@Router			/areas/{id} [delete]
func (h *Handler) deleteArea(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := pathID(c, "id", "area")
	if !ok {
		return
	}
	match, err := server.IfMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	if err := h.areas.Delete(c.Request.Context(), p, id, match); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// addMember godoc
//
//	@Summary		Add a member to an area
//	@Description	Adds a user member, or changes a member's admin flag (area admins and platform admins). Demoting the last admin member is refused (409 last_admin).
//	@Tags			areas
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id		path		string			true	"Area id (UUID)"
//	@Param			member	body		api.MemberInput	true	"The member"
//	@Success		200		{object}	workspace.Area
//	@Failure		400		{object}	apierror.Envelope
//	@Failure		401		{object}	apierror.Envelope
//	@Failure		403		{object}	apierror.Envelope
//	@Failure		404		{object}	apierror.Envelope
//	@Failure		409		{object}	apierror.Envelope	"last_admin"
//	@Router			/areas/{id}/members [post]
func (h *Handler) addMember(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := pathID(c, "id", "area")
	if !ok {
		return
	}
	var in api.MemberInput
	if err := server.DecodeJSON(c, &in); err != nil {
		fail(c, err)
		return
	}
	a, err := h.areas.AddMember(c.Request.Context(), p, id, in)
	if err != nil {
		fail(c, err)
		return
	}
	respondArea(c, http.StatusOK, a)
}

// removeMember godoc
//
//	@Summary		Remove a member from an area
//	@Description	Removes a user member (area admins and platform admins); the last admin member cannot be removed (409 last_admin).
//	@Tags			areas
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id		path		string	true	"Area id (UUID)"
//	@Param			subject	path		string	true	"The member's subject"
//	@Param			peer	query		string	false	"The member's peer, for a user of a member peer (default: this peer)"
//	@Success		200		{object}	workspace.Area
//	@Failure		401		{object}	apierror.Envelope
//	@Failure		403		{object}	apierror.Envelope
//	@Failure		404		{object}	apierror.Envelope
//	@Failure		409		{object}	apierror.Envelope	"last_admin"
//	@Router			/areas/{id}/members/{subject} [delete]
func (h *Handler) removeMember(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := pathID(c, "id", "area")
	if !ok {
		return
	}
	a, err := h.areas.RemoveMember(c.Request.Context(), p, id, c.Param("subject"), c.Query("peer"))
	if err != nil {
		fail(c, err)
		return
	}
	respondArea(c, http.StatusOK, a)
}

// addPeer godoc
//
//	@Summary		Add a member peer to an area
//	@Description	Adds a peer (area admins and platform admins); adding one already there changes nothing.
//	@Tags			areas
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id		path		string			true	"Area id (UUID)"
//	@Param			peer	body		api.PeerInput	true	"The peer"
//	@Success		200		{object}	workspace.Area
//	@Failure		400		{object}	apierror.Envelope
//	@Failure		401		{object}	apierror.Envelope
//	@Failure		403		{object}	apierror.Envelope
//	@Failure		404		{object}	apierror.Envelope
//	@Router			/areas/{id}/peers [post]
func (h *Handler) addPeer(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := pathID(c, "id", "area")
	if !ok {
		return
	}
	var in api.PeerInput
	if err := server.DecodeJSON(c, &in); err != nil {
		fail(c, err)
		return
	}
	a, err := h.areas.AddPeer(c.Request.Context(), p, id, in.Peer)
	if err != nil {
		fail(c, err)
		return
	}
	respondArea(c, http.StatusOK, a)
}

// removePeer godoc
//
//	@Summary		Remove a member peer from an area
//	@Description	Removes a peer (area admins and platform admins); 404 if it is not a member.
//	@Tags			areas
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id		path		string	true	"Area id (UUID)"
//	@Param			peer	path		string	true	"The peer's id"
//	@Success		200		{object}	workspace.Area
//	@Failure		401		{object}	apierror.Envelope
//	@Failure		403		{object}	apierror.Envelope
//	@Failure		404		{object}	apierror.Envelope
//	@Router			/areas/{id}/peers/{peer} [delete]
func (h *Handler) removePeer(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := pathID(c, "id", "area")
	if !ok {
		return
	}
	a, err := h.areas.RemovePeer(c.Request.Context(), p, id, c.Param("peer"))
	if err != nil {
		fail(c, err)
		return
	}
	respondArea(c, http.StatusOK, a)
}

// share godoc
//
//	@Summary		Share an item in an area
//	@Description	Shares a workspace (the caller must own it), a workflow (read from oc-workflow with the caller's token) or a catalog resource (which must be visible to the caller) in the area; any member may. What the item uses is checked against the area's rules first, with facts the catalog gives the caller: an item breaking a rule is refused with 409 rule_broken, the message naming the rules and the details listing every violation; nothing is written then. Sharing an item already shared refreshes its name and usage.
//	@Tags			areas
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id		path		string			true	"Area id (UUID)"
//	@Param			item	body		api.ShareInput	true	"The item"
//	@Success		200		{object}	workspace.Area
//	@Failure		400		{object}	apierror.Envelope
//	@Failure		401		{object}	apierror.Envelope
//	@Failure		403		{object}	apierror.Envelope	"The workspace is not the caller's"
//	@Failure		404		{object}	apierror.Envelope	"The area or the item is not visible to the caller"
//	@Failure		409		{object}	apierror.Envelope{error=apierror.Error{details=[]workspace.Violation}}	"rule_broken"
//	@Router			/areas/{id}/shared [post]
func (h *Handler) share(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := pathID(c, "id", "area")
	if !ok {
		return
	}
	var in api.ShareInput
	if err := server.DecodeJSON(c, &in); err != nil {
		fail(c, err)
		return
	}
	a, err := h.areas.Share(c.Request.Context(), p, id, in)
	if err != nil {
		fail(c, err)
		return
	}
	respondArea(c, http.StatusOK, a)
}

// unshare godoc
//
//	@Summary		Stop sharing an item in an area
//	@Description	Removes a shared item (any member); 404 if the area does not share it.
//	@Tags			areas
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id		path		string	true	"Area id (UUID)"
//	@Param			kind	path		string	true	"workspace, workflow or resource"	Enums(workspace, workflow, resource)
//	@Param			peer	path		string	true	"The item's peer"
//	@Param			item_id	path		string	true	"The item's id"
//	@Success		200		{object}	workspace.Area
//	@Failure		401		{object}	apierror.Envelope
//	@Failure		404		{object}	apierror.Envelope
//	@Router			/areas/{id}/shared/{kind}/{peer}/{item_id} [delete]
func (h *Handler) unshare(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := pathID(c, "id", "area")
	if !ok {
		return
	}
	ref := resource.Ref{Peer: c.Param("peer"), ID: c.Param("item_id")}
	a, err := h.areas.Unshare(c.Request.Context(), p, id, workspace.SharedKind(c.Param("kind")), ref)
	if err != nil {
		fail(c, err)
		return
	}
	respondArea(c, http.StatusOK, a)
}

// setRules godoc
//
//	@Summary		Replace an area's rule book
//	@Description	Replaces the whole rule book (area admins and platform admins); the version is required (If-Match or "version"). A rule given with the id of an existing rule keeps it (and its stamp if unchanged); rules without an id get one. Then everything the area holds is re-checked against the new book — workflows re-read live when the caller may read them, workspaces from this service, resources re-resolved (else their last known facts) — and the report lists what breaks it. Contents breaking the new rules do not stop the change.
//	@Tags			areas
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id			path		string			true	"Area id (UUID)"
//	@Param			If-Match	header		string			false	"The ETag of the version being changed"
//	@Param			rules		body		api.RulesInput	true	"The new rule book"
//	@Success		200			{object}	workspace.RulesResult
//	@Failure		400			{object}	apierror.Envelope
//	@Failure		401			{object}	apierror.Envelope
//	@Failure		403			{object}	apierror.Envelope
//	@Failure		404			{object}	apierror.Envelope
//	@Failure		409			{object}	apierror.Envelope{error=apierror.Error{details=ConflictDetails}}
//	@Failure		428			{object}	apierror.Envelope
//	@Router			/areas/{id}/rules [put]
func (h *Handler) setRules(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := pathID(c, "id", "area")
	if !ok {
		return
	}
	match, err := server.IfMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	var in api.RulesInput
	if err := server.DecodeJSON(c, &in); err != nil {
		fail(c, err)
		return
	}
	res, err := h.areas.SetRules(c.Request.Context(), p, id, in, match)
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("ETag", server.ETag(res.Area.Version))
	c.JSON(http.StatusOK, res)
}

// violations godoc
//
//	@Summary		Check an area against its rules now
//	@Description	Re-checks everything the area holds against its rule book, with the caller's view of the catalog and of workflows (members and admins). Resources that cannot be resolved now are judged on their last known facts (the message says "as of" when) or listed unchecked.
//	@Tags			areas
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id	path		string	true	"Area id (UUID)"
//	@Success		200	{object}	workspace.Report
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		404	{object}	apierror.Envelope
//	@Router			/areas/{id}/violations [get]
func (h *Handler) violations(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := pathID(c, "id", "area")
	if !ok {
		return
	}
	r, err := h.areas.Violations(c.Request.Context(), p, id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

// checkWorkflow godoc
//
//	@Summary		Check a workflow's usage against the areas holding it
//	@Description	What oc-workflow asks before saving a workflow: for every area that shares the workflow (whether or not the caller is a member: they are editing it), would this usage break a rule? Writes nothing. Violations name the area and the rule. When areas hold it, the caller must be able to read the workflow (asked of oc-workflow with the caller's token), else 404: who holds a workflow is not told to others.
//	@Tags			areas
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			check	body		workspace.WorkflowCheck	true	"The workflow and its usage"
//	@Success		200		{object}	workspace.Report
//	@Failure		400		{object}	apierror.Envelope
//	@Failure		401		{object}	apierror.Envelope
//	@Failure		404		{object}	apierror.Envelope	"Areas hold the workflow, and the caller may not read it"
//	@Router			/areas/check [post]
func (h *Handler) checkWorkflow(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	var in workspace.WorkflowCheck
	if err := server.DecodeJSON(c, &in); err != nil {
		fail(c, err)
		return
	}
	r, err := h.areas.CheckWorkflow(c.Request.Context(), p, in)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

// history godoc
//
//	@Summary		An area's history
//	@Description	Every change of the area — who, when, what — newest first, a page at a time (members and admins).
//	@Tags			areas
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id		path		string	true	"Area id (UUID)"
//	@Param			limit	query		int		false	"Page size, 1 to 200"	default(20)	minimum(1)	maximum(200)
//	@Param			offset	query		int		false	"Items to skip"	default(0)	minimum(0)
//	@Success		200		{object}	workspace.OpPage
//	@Failure		400		{object}	apierror.Envelope
//	@Failure		401		{object}	apierror.Envelope
//	@Failure		404		{object}	apierror.Envelope
//	@Router			/areas/{id}/history [get]
func (h *Handler) history(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := pathID(c, "id", "area")
	if !ok {
		return
	}
	limit, offset, err := pageOnly(c)
	if err != nil {
		fail(c, err)
		return
	}
	page, err := h.areas.History(c.Request.Context(), p, id, limit, offset)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, page)
}
