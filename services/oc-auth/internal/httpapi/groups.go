package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/services/oc-auth/api"
	"github.com/opencloud/opencloud/services/oc-auth/internal/users"
)

// listGroups godoc
//
//	@Summary	List groups
//	@Tags		groups
//	@Produce	json
//	@Security	BearerAuth
//	@Param		q		query		string	false	"words to find in the name"
//	@Param		limit	query		int		false	"page size, 1 to 200"	default(20)
//	@Param		offset	query		int		false	"items to skip"			default(0)
//	@Success	200		{object}	api.List[api.Group]
//	@Failure	400		{object}	apierror.Envelope
//	@Failure	401		{object}	apierror.Envelope
//	@Failure	403		{object}	apierror.Envelope
//	@Router		/admin/groups [get]
func (a *API) listGroups(c *gin.Context) {
	page, err := server.ParsePage(c)
	if err != nil {
		fail(c, err)
		return
	}
	var v validation
	text := c.Query("q")
	v.check("q", users.CheckText(text, 200))
	if err := v.err(); err != nil {
		fail(c, err)
		return
	}
	gs, total, err := a.Users.ListGroups(c.Request.Context(), text, page.Limit, page.Offset)
	if err != nil {
		fail(c, err)
		return
	}
	out := api.List[api.Group]{Items: make([]api.Group, 0, len(gs)), Total: total, Limit: page.Limit, Offset: page.Offset}
	for _, g := range gs {
		out.Items = append(out.Items, groupOut(g))
	}
	c.JSON(http.StatusOK, out)
}

// createGroup godoc
//
//	@Summary	Create a group
//	@Description	Publishes oc.auth.group.changed.
//	@Tags		groups
//	@Accept		json
//	@Produce	json
//	@Security	BearerAuth
//	@Param		body	body		api.CreateGroupRequest	true	"the new group"
//	@Success	201		{object}	api.Group
//	@Failure	400		{object}	apierror.Envelope
//	@Failure	401		{object}	apierror.Envelope
//	@Failure	403		{object}	apierror.Envelope
//	@Failure	409		{object}	apierror.Envelope	"name taken"
//	@Router		/admin/groups [post]
func (a *API) createGroup(c *gin.Context) {
	var req api.CreateGroupRequest
	if err := decode(c, &req, checkCreateGroup); err != nil {
		fail(c, err)
		return
	}
	g, err := a.Users.CreateGroup(c.Request.Context(), req.Name, req.Description)
	if err != nil {
		fail(c, err)
		return
	}
	out := groupOut(g)
	a.publish(c, event.GroupChanged, g.Name, gin.H{"action": "created", "group": out})
	etag(c, g.Version)
	c.Header("Location", c.Request.URL.Path+"/"+g.Name)
	c.JSON(http.StatusCreated, out)
}

// getGroup godoc
//
//	@Summary	Get a group
//	@Tags		groups
//	@Produce	json
//	@Security	BearerAuth
//	@Param		name	path		string	true	"group name"
//	@Success	200		{object}	api.Group
//	@Failure	401		{object}	apierror.Envelope
//	@Failure	403		{object}	apierror.Envelope
//	@Failure	404		{object}	apierror.Envelope
//	@Router		/admin/groups/{name} [get]
func (a *API) getGroup(c *gin.Context) {
	g, err := a.Users.GetGroup(c.Request.Context(), c.Param("name"))
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, g.Version)
	c.JSON(http.StatusOK, groupOut(g))
}

// updateGroup godoc
//
//	@Summary	Change a group's description
//	@Description	The version read (If-Match header or version field) is required: a stale one answers 409.
//	@Tags		groups
//	@Accept		json
//	@Produce	json
//	@Security	BearerAuth
//	@Param		name		path		string				true	"group name"
//	@Param		If-Match	header		string				false	"the ETag read"
//	@Param		body		body		api.UpdateGroupRequest	true	"fields to change"
//	@Success	200			{object}	api.Group
//	@Failure	400			{object}	apierror.Envelope
//	@Failure	401			{object}	apierror.Envelope
//	@Failure	403			{object}	apierror.Envelope
//	@Failure	404			{object}	apierror.Envelope
//	@Failure	409			{object}	apierror.Envelope
//	@Failure	428			{object}	apierror.Envelope
//	@Router		/admin/groups/{name} [patch]
func (a *API) updateGroup(c *gin.Context) {
	var req api.UpdateGroupRequest
	if err := decode(c, &req, checkUpdateGroup); err != nil {
		fail(c, err)
		return
	}
	version, err := versionOf(c, req.Version, true)
	if err != nil {
		fail(c, err)
		return
	}
	ctx := c.Request.Context()
	cur, err := a.Users.GetGroup(ctx, c.Param("name"))
	if err != nil {
		fail(c, err)
		return
	}
	desc := cur.Description
	if req.Description != nil {
		desc = *req.Description
	}
	g, err := a.Users.UpdateGroup(ctx, cur.Name, version, desc)
	if err != nil {
		fail(c, err)
		return
	}
	out := groupOut(g)
	a.publish(c, event.GroupChanged, g.Name, gin.H{"action": "updated", "group": out})
	etag(c, g.Version)
	c.JSON(http.StatusOK, out)
}

// deleteGroup godoc
//
//	@Summary	Delete a group
//	@Description	Only an empty group; the admin group cannot be deleted.
//	@Tags		groups
//	@Security	BearerAuth
//	@Param		name		path	string	true	"group name"
//	@Param		If-Match	header	string	false	"the ETag read"
//	@Success	204
//	@Failure	401	{object}	apierror.Envelope
//	@Failure	403	{object}	apierror.Envelope
//	@Failure	404	{object}	apierror.Envelope
//	@Failure	409	{object}	apierror.Envelope	"has members, built in, or stale version"
//	@Router		/admin/groups/{name} [delete]
func (a *API) deleteGroup(c *gin.Context) {
	version, err := versionOf(c, 0, false)
	if err != nil {
		fail(c, err)
		return
	}
	name := c.Param("name")
	if err := a.Users.DeleteGroup(c.Request.Context(), name, version); err != nil {
		fail(c, err)
		return
	}
	a.publish(c, event.GroupChanged, name, gin.H{"action": "deleted", "group": gin.H{"name": name}})
	c.Status(http.StatusNoContent)
}
