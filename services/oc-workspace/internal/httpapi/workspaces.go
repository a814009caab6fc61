package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/internal/errs"
	wsdomain "github.com/opencloud/opencloud/services/oc-workspace/internal/workspace"
)

func respondWorkspace(c *gin.Context, status int, w workspace.Workspace) {
	c.Header("ETag", server.ETag(w.Version))
	c.JSON(status, w)
}

// createWorkspace godoc
//
//	@Summary		Create a workspace
//	@Description	Creates a workspace owned by the caller: a name (1 to 200 characters), a description (at most 10000) and up to 10000 resource references {peer, id}. A reference with an empty peer is this peer's; duplicates collapse. Unknown fields are refused. A request sent again with the same Idempotency-Key (within 24 hours) creates nothing new and gets the first answer back.
//	@Tags			workspaces
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			workspace		body		workspace.Input	true	"The workspace"
//	@Param			Idempotency-Key	header		string		false	"Any unique string (a UUID) that makes a retry safe"
//	@Success		201				{object}	workspace.Workspace
//	@Header			201				{string}	ETag		"The version, quoted"
//	@Header			201				{string}	Location	"The workspace's URL"
//	@Failure		400				{object}	apierror.Envelope	"Malformed JSON, unknown field or invalid value; details name each field"
//	@Failure		401				{object}	apierror.Envelope
//	@Failure		409				{object}	apierror.Envelope	"A request with the same Idempotency-Key is still being handled"
//	@Failure		413				{object}	apierror.Envelope
//	@Failure		422				{object}	apierror.Envelope	"The Idempotency-Key was used with another body"
//	@Router			/workspaces [post]
func (h *Handler) createWorkspace(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	var in workspace.Input
	if err := server.DecodeJSON(c, &in); err != nil {
		fail(c, err)
		return
	}
	w, err := h.workspaces.Create(c.Request.Context(), p, in)
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Location", strings.TrimSuffix(c.Request.URL.Path, "/")+"/"+w.ID)
	respondWorkspace(c, http.StatusCreated, w)
}

// listWorkspaces godoc
//
//	@Summary		List workspaces
//	@Description	Lists the workspaces the caller may read, a page at a time: their own and those shared in the areas they are members of (admins: all). Filters combine with AND. Unknown parameters are refused.
//	@Tags			workspaces
//	@Produce		json
//	@Security		BearerAuth
//	@Param			q			query		string	false	"Words of the name (at most 200 characters, 8 words)"
//	@Param			workflow	query		string	false	"Only the workspace this workflow owns"
//	@Param			area		query		string	false	"Only the workspaces shared in this area (the caller must be a member)"
//	@Param			owner		query		string	false	"Only this owner's; 'me' is the caller"
//	@Param			sort		query		string	false	"Comma-separated keys among name, created_at, updated_at; '-' before a key sorts descending"	default(name)
//	@Param			limit		query		int		false	"Page size, 1 to 200"	default(20)	minimum(1)	maximum(200)
//	@Param			offset		query		int		false	"Items to skip"	default(0)	minimum(0)
//	@Success		200			{object}	workspace.Page
//	@Failure		400			{object}	apierror.Envelope	"A parameter is invalid or unknown; details name it"
//	@Failure		401			{object}	apierror.Envelope
//	@Failure		404			{object}	apierror.Envelope	"The area is not visible to the caller"
//	@Router			/workspaces [get]
func (h *Handler) listWorkspaces(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	q, areaID, err := workspaceQuery(c, p)
	if err != nil {
		fail(c, err)
		return
	}
	if areaID != "" {
		ids, err := h.workspaces.AreaIDs(c.Request.Context(), p, areaID)
		if err != nil {
			fail(c, err)
			return
		}
		q.IDs = ids
	}
	items, total, err := h.workspaces.List(c.Request.Context(), p, q)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, workspace.Page{Items: items, Total: total, Limit: q.Limit, Offset: q.Offset})
}

// getWorkspace godoc
//
//	@Summary		Get a workspace
//	@Description	Returns the workspace to its owner, an admin, or a member of an area it is shared in; others get 404.
//	@Tags			workspaces
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id	path		string	true	"Workspace id (UUID)"
//	@Success		200	{object}	workspace.Workspace
//	@Header			200	{string}	ETag	"The version, quoted"
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		404	{object}	apierror.Envelope
//	@Router			/workspaces/{id} [get]
func (h *Handler) getWorkspace(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := pathID(c, "id", "workspace")
	if !ok {
		return
	}
	w, err := h.workspaces.Get(c.Request.Context(), p, id)
	if err != nil {
		fail(c, err)
		return
	}
	respondWorkspace(c, http.StatusOK, w)
}

// workspaceResources godoc
//
//	@Summary		List a workspace's resources, resolved
//	@Description	Returns a page of the workspace's resources with what the catalog says of them now, asked with the caller's token. A resource that cannot be resolved (a partner peer's, which this peer does not look up; deleted; no longer visible to the caller; the catalog unreachable) is listed with available false and the reason, never dropped.
//	@Tags			workspaces
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id		path		string	true	"Workspace id (UUID)"
//	@Param			limit	query		int		false	"Page size, 1 to 200"	default(20)	minimum(1)	maximum(200)
//	@Param			offset	query		int		false	"Items to skip"	default(0)	minimum(0)
//	@Success		200		{object}	workspace.ResolvedPage
//	@Failure		400		{object}	apierror.Envelope
//	@Failure		401		{object}	apierror.Envelope
//	@Failure		404		{object}	apierror.Envelope
//	@Router			/workspaces/{id}/resources [get]
func (h *Handler) workspaceResources(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := pathID(c, "id", "workspace")
	if !ok {
		return
	}
	limit, offset, err := pageOnly(c)
	if err != nil {
		fail(c, err)
		return
	}
	page, err := h.workspaces.Resources(c.Request.Context(), p, id, limit, offset)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, page)
}

// replaceWorkspace godoc
//
//	@Summary		Replace a workspace
//	@Description	Replaces the workspace's name, description and resources. The version replaced is required, in If-Match or as "version" in the body: without it 428, stale 409 with the current version in details. Only the owner or an admin may (403; members of areas it is shared in may only read it). The resources of a workspace a workflow owns follow the workflow: omit them or send them unchanged, else 409 managed_by_workflow. A workspace shared in collaborative areas may not take in a resource breaking one of their rules: 409 rule_broken naming the rules, nothing written.
//	@Tags			workspaces
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id			path		string		true	"Workspace id (UUID)"
//	@Param			If-Match	header		string		false	"The ETag of the version being replaced"
//	@Param			workspace	body		workspace.Input	true	"The new fields"
//	@Success		200			{object}	workspace.Workspace
//	@Header			200			{string}	ETag	"The new version, quoted"
//	@Failure		400			{object}	apierror.Envelope
//	@Failure		401			{object}	apierror.Envelope
//	@Failure		403			{object}	apierror.Envelope
//	@Failure		404			{object}	apierror.Envelope
//	@Failure		409			{object}	apierror.Envelope{error=apierror.Error{details=ConflictDetails}}	"Stale version (version_conflict), managed_by_workflow, or rule_broken"
//	@Failure		428			{object}	apierror.Envelope	"Neither If-Match nor version given"
//	@Router			/workspaces/{id} [put]
func (h *Handler) replaceWorkspace(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := pathID(c, "id", "workspace")
	if !ok {
		return
	}
	match, err := server.IfMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	var in workspace.Input
	if err := server.DecodeJSON(c, &in); err != nil {
		fail(c, err)
		return
	}
	w, err := h.workspaces.Replace(c.Request.Context(), p, id, in, match)
	if err != nil {
		fail(c, err)
		return
	}
	respondWorkspace(c, http.StatusOK, w)
}

// deleteWorkspace godoc
//
//	@Summary		Delete a workspace
//	@Description	Deletes a workspace (its owner or an admin). With If-Match, a stale version is a 409 and nothing is deleted.
//	@Tags			workspaces
//	@Security		BearerAuth
//	@Param			id			path	string	true	"Workspace id (UUID)"
//	@Param			If-Match	header	string	false	"The ETag of the version being deleted"
//	@Success		204
//	@Failure		400	{object}	apierror.Envelope
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		403	{object}	apierror.Envelope
//	@Failure		404	{object}	apierror.Envelope
//	@Failure		409	{object}	apierror.Envelope{error=apierror.Error{details=ConflictDetails}}
//	@Router			/workspaces/{id} [delete]
func (h *Handler) deleteWorkspace(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := pathID(c, "id", "workspace")
	if !ok {
		return
	}
	match, err := server.IfMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	if err := h.workspaces.Delete(c.Request.Context(), p, id, match); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// addResource godoc
//
//	@Summary		Add a resource to a workspace
//	@Description	Adds one reference (an empty peer is this peer). Adding one already there changes nothing; both answer 200 with the workspace. No If-Match needed: a concurrent change is retried. A workspace a workflow owns refuses it (409 managed_by_workflow); so does a workspace shared in a collaborative area whose rules the resource breaks (409 rule_broken naming the rules, with the violations in details).
//	@Tags			workspaces
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id	path		string			true	"Workspace id (UUID)"
//	@Param			ref	body		resource.Ref	true	"The resource"
//	@Success		200	{object}	workspace.Workspace
//	@Failure		400	{object}	apierror.Envelope
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		403	{object}	apierror.Envelope
//	@Failure		404	{object}	apierror.Envelope
//	@Failure		409	{object}	apierror.Envelope{error=apierror.Error{details=ManagedDetails}}	"managed_by_workflow, or rule_broken"
//	@Router			/workspaces/{id}/resources [post]
func (h *Handler) addResource(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := pathID(c, "id", "workspace")
	if !ok {
		return
	}
	var ref resource.Ref
	if err := server.DecodeJSON(c, &ref); err != nil {
		fail(c, err)
		return
	}
	w, err := h.workspaces.AddResource(c.Request.Context(), p, id, ref)
	if err != nil {
		fail(c, err)
		return
	}
	respondWorkspace(c, http.StatusOK, w)
}

// removeResource godoc
//
//	@Summary		Remove a resource from a workspace
//	@Description	Removes one reference; 404 if the workspace does not hold it. A workspace a workflow owns refuses it (409 managed_by_workflow).
//	@Tags			workspaces
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id			path		string	true	"Workspace id (UUID)"
//	@Param			peer		path		string	true	"The resource's peer"
//	@Param			resource_id	path		string	true	"The resource's id"
//	@Success		200			{object}	workspace.Workspace
//	@Failure		401			{object}	apierror.Envelope
//	@Failure		403			{object}	apierror.Envelope
//	@Failure		404			{object}	apierror.Envelope
//	@Failure		409			{object}	apierror.Envelope{error=apierror.Error{details=ManagedDetails}}	"managed_by_workflow"
//	@Router			/workspaces/{id}/resources/{peer}/{resource_id} [delete]
func (h *Handler) removeResource(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := pathID(c, "id", "workspace")
	if !ok {
		return
	}
	ref := resource.Ref{Peer: c.Param("peer"), ID: c.Param("resource_id")}
	w, err := h.workspaces.RemoveResource(c.Request.Context(), p, id, ref)
	if err != nil {
		fail(c, err)
		return
	}
	respondWorkspace(c, http.StatusOK, w)
}

// putWorkflowWorkspace godoc
//
//	@Summary		Create or replace the workspace a workflow owns
//	@Description	oc-workflow keeps each workflow's workspace ("<name>_workspace") holding exactly the resources its graph uses. Idempotent: creates it (201) or replaces it (200). The caller must be "owner" or an admin (403); a workspace that belongs to another user may only be changed by an admin. An update whose workflow_version is older than the one applied is ignored: the stored workspace is answered (200).
//	@Tags			workspaces
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			workflow_id	path		string					true	"The workflow's id"
//	@Param			workspace	body		workspace.WorkflowWorkspace	true	"The workflow's name, owner, resources and version"
//	@Success		200			{object}	workspace.Workspace
//	@Success		201			{object}	workspace.Workspace
//	@Failure		400			{object}	apierror.Envelope
//	@Failure		401			{object}	apierror.Envelope
//	@Failure		403			{object}	apierror.Envelope
//	@Router			/workspaces/by-workflow/{workflow_id} [put]
func (h *Handler) putWorkflowWorkspace(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	wf := c.Param("workflow_id")
	if !wsdomain.ValidIdentifier(wf) {
		fail(c, errs.Invalid("workflow_id", "expected a workflow id: 1 to %d characters without spaces", wsdomain.MaxIdentifier))
		return
	}
	var in workspace.WorkflowWorkspace
	if err := server.DecodeJSON(c, &in); err != nil {
		fail(c, err)
		return
	}
	w, created, err := h.workspaces.PutForWorkflow(c.Request.Context(), p, wf, in)
	if err != nil {
		fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	respondWorkspace(c, status, w)
}

// deleteWorkflowWorkspace godoc
//
//	@Summary		Delete the workspace a workflow owns
//	@Description	Deletes it (its owner or an admin); 404 if the workflow has none.
//	@Tags			workspaces
//	@Security		BearerAuth
//	@Param			workflow_id	path	string	true	"The workflow's id"
//	@Success		204
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		404	{object}	apierror.Envelope
//	@Router			/workspaces/by-workflow/{workflow_id} [delete]
func (h *Handler) deleteWorkflowWorkspace(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	if err := h.workspaces.DeleteForWorkflow(c.Request.Context(), p, c.Param("workflow_id")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
