package httpapi

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/services/oc-auth/api"
	"github.com/opencloud/opencloud/services/oc-auth/internal/users"
)

// listUsers godoc
//
//	@Summary	List users
//	@Tags		users
//	@Produce	json
//	@Security	BearerAuth
//	@Param		q			query		string	false	"words to find in user name, e-mail or display name"
//	@Param		group		query		string	false	"only members of this group"
//	@Param		disabled	query		bool	false	"only disabled (true) or enabled (false) users"
//	@Param		limit		query		int		false	"page size, 1 to 200"	default(20)
//	@Param		offset		query		int		false	"items to skip"			default(0)
//	@Success	200			{object}	api.List[api.User]
//	@Failure	400			{object}	apierror.Envelope
//	@Failure	401			{object}	apierror.Envelope
//	@Failure	403			{object}	apierror.Envelope
//	@Router		/admin/users [get]
func (a *API) listUsers(c *gin.Context) {
	page, err := server.ParsePage(c)
	if err != nil {
		fail(c, err)
		return
	}
	q, err := userQuery(c)
	if err != nil {
		fail(c, err)
		return
	}
	q.Limit, q.Offset = page.Limit, page.Offset
	us, total, err := a.Users.List(c.Request.Context(), q)
	if err != nil {
		fail(c, err)
		return
	}
	out := api.List[api.User]{Items: make([]api.User, 0, len(us)), Total: total, Limit: page.Limit, Offset: page.Offset}
	for _, u := range us {
		out.Items = append(out.Items, userOut(u))
	}
	c.JSON(http.StatusOK, out)
}

func userQuery(c *gin.Context) (users.ListQuery, error) {
	var q users.ListQuery
	var v validation
	q.Text = c.Query("q")
	v.check("q", users.CheckText(q.Text, 200))
	if g, ok := c.GetQuery("group"); ok {
		q.Group = g
		v.check("group", users.CheckGroupName(g))
	}
	if s, ok := c.GetQuery("disabled"); ok {
		b, err := strconv.ParseBool(s)
		if err != nil {
			v.check("disabled", "expected true or false")
		}
		q.Disabled = &b
	}
	return q, v.err()
}

// createUser godoc
//
//	@Summary	Create a user
//	@Description	The password needs at least 12 characters. Groups must exist. Publishes oc.auth.user.created.
//	@Tags		users
//	@Accept		json
//	@Produce	json
//	@Security	BearerAuth
//	@Param		body	body		api.CreateUserRequest	true	"the new user"
//	@Success	201		{object}	api.User
//	@Failure	400		{object}	apierror.Envelope
//	@Failure	401		{object}	apierror.Envelope
//	@Failure	403		{object}	apierror.Envelope
//	@Failure	409		{object}	apierror.Envelope	"user name taken"
//	@Router		/admin/users [post]
func (a *API) createUser(c *gin.Context) {
	var req api.CreateUserRequest
	if err := decode(c, &req, checkCreateUser); err != nil {
		fail(c, err)
		return
	}
	u, err := a.Users.Create(c.Request.Context(), users.NewUser{
		Username: req.Username, Email: req.Email, DisplayName: req.DisplayName, Groups: req.Groups, Password: req.Password,
	})
	if err != nil {
		fail(c, err)
		return
	}
	out := userOut(u)
	a.publish(c, event.UserCreated, u.ID, out)
	etag(c, u.Version)
	c.Header("Location", c.Request.URL.Path+"/"+u.ID)
	c.JSON(http.StatusCreated, out)
}

// getUser godoc
//
//	@Summary	Get a user
//	@Tags		users
//	@Produce	json
//	@Security	BearerAuth
//	@Param		id	path		string	true	"user id"
//	@Success	200	{object}	api.User
//	@Header		200	{string}	ETag	"the version, for If-Match"
//	@Failure	401	{object}	apierror.Envelope
//	@Failure	403	{object}	apierror.Envelope
//	@Failure	404	{object}	apierror.Envelope
//	@Router		/admin/users/{id} [get]
func (a *API) getUser(c *gin.Context) {
	u, err := a.Users.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, u.Version)
	c.JSON(http.StatusOK, userOut(u))
}

// updateUser godoc
//
//	@Summary	Change a user
//	@Description	Changes the fields present in the body. The version read (If-Match header or version field) is required: a stale one answers 409. Disabling a user ends its sign-in sessions and revokes its refresh tokens. The last enabled administrator cannot be disabled or removed from the admin group.
//	@Tags		users
//	@Accept		json
//	@Produce	json
//	@Security	BearerAuth
//	@Param		id			path		string				true	"user id"
//	@Param		If-Match	header		string				false	"the ETag read"
//	@Param		body		body		api.UpdateUserRequest	true	"fields to change"
//	@Success	200			{object}	api.User
//	@Failure	400			{object}	apierror.Envelope
//	@Failure	401			{object}	apierror.Envelope
//	@Failure	403			{object}	apierror.Envelope
//	@Failure	404			{object}	apierror.Envelope
//	@Failure	409			{object}	apierror.Envelope	"stale version, user name taken, or last administrator"
//	@Failure	428			{object}	apierror.Envelope	"no version given"
//	@Router		/admin/users/{id} [patch]
func (a *API) updateUser(c *gin.Context) {
	var req api.UpdateUserRequest
	if err := decode(c, &req, checkUpdateUser); err != nil {
		fail(c, err)
		return
	}
	version, err := versionOf(c, req.Version, true)
	if err != nil {
		fail(c, err)
		return
	}
	ctx := c.Request.Context()
	cur, err := a.Users.Get(ctx, c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	u, err := a.Users.Update(ctx, cur.ID, version, userUpdate(&req, cur))
	if err != nil {
		fail(c, err)
		return
	}
	if u.Disabled && !cur.Disabled {
		if err := a.Sessions.RevokeUser(ctx, u.ID); err != nil {
			fail(c, err)
			return
		}
	}
	out := userOut(u)
	a.publish(c, event.UserUpdated, u.ID, out)
	etag(c, u.Version)
	c.JSON(http.StatusOK, out)
}

// deleteUser godoc
//
//	@Summary	Delete a user
//	@Description	Ends its sign-in sessions and revokes its refresh tokens. With If-Match, only if still at that version. The last enabled administrator cannot be deleted.
//	@Tags		users
//	@Security	BearerAuth
//	@Param		id			path	string	true	"user id"
//	@Param		If-Match	header	string	false	"the ETag read"
//	@Success	204
//	@Failure	401	{object}	apierror.Envelope
//	@Failure	403	{object}	apierror.Envelope
//	@Failure	404	{object}	apierror.Envelope
//	@Failure	409	{object}	apierror.Envelope
//	@Router		/admin/users/{id} [delete]
func (a *API) deleteUser(c *gin.Context) {
	version, err := versionOf(c, 0, false)
	if err != nil {
		fail(c, err)
		return
	}
	ctx := c.Request.Context()
	id := c.Param("id")
	u, err := a.Users.Get(ctx, id)
	if err != nil {
		fail(c, err)
		return
	}
	if err := a.Users.Delete(ctx, id, version); err != nil {
		fail(c, err)
		return
	}
	if err := a.Sessions.RevokeUser(ctx, id); err != nil {
		fail(c, err)
		return
	}
	a.publish(c, event.UserDeleted, id, gin.H{"id": id, "username": u.Username})
	c.Status(http.StatusNoContent)
}

// setPassword godoc
//
//	@Summary	Set a user's password
//	@Description	At least 12 characters. Ends the user's sign-in sessions and revokes its refresh tokens.
//	@Tags		users
//	@Accept		json
//	@Produce	json
//	@Security	BearerAuth
//	@Param		id		path		string				true	"user id"
//	@Param		body	body		api.SetPasswordRequest	true	"the new password"
//	@Success	200		{object}	api.User
//	@Failure	400		{object}	apierror.Envelope
//	@Failure	401		{object}	apierror.Envelope
//	@Failure	403		{object}	apierror.Envelope
//	@Failure	404		{object}	apierror.Envelope
//	@Router		/admin/users/{id}/password [put]
func (a *API) setPassword(c *gin.Context) {
	var req api.SetPasswordRequest
	if err := decode(c, &req, checkSetPassword); err != nil {
		fail(c, err)
		return
	}
	ctx := c.Request.Context()
	u, err := a.Users.SetPassword(ctx, c.Param("id"), req.Password)
	if err != nil {
		fail(c, err)
		return
	}
	if err := a.Sessions.RevokeUser(ctx, u.ID); err != nil {
		fail(c, err)
		return
	}
	a.publish(c, event.UserUpdated, u.ID, gin.H{"id": u.ID, "username": u.Username, "password_changed": true})
	etag(c, u.Version)
	c.JSON(http.StatusOK, userOut(u))
}
