package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/services/oc-auth/api"
	"github.com/opencloud/opencloud/services/oc-auth/internal/clients"
	"github.com/opencloud/opencloud/services/oc-auth/internal/users"
)

// listClients godoc
//
//	@Summary	List OAuth clients
//	@Tags		clients
//	@Produce	json
//	@Security	BearerAuth
//	@Param		q		query		string	false	"words to find in the name"
//	@Param		limit	query		int		false	"page size, 1 to 200"	default(20)
//	@Param		offset	query		int		false	"items to skip"			default(0)
//	@Success	200		{object}	api.List[api.Client]
//	@Failure	400		{object}	apierror.Envelope
//	@Failure	401		{object}	apierror.Envelope
//	@Failure	403		{object}	apierror.Envelope
//	@Router		/admin/clients [get]
func (a *API) listClients(c *gin.Context) {
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
	cs, total, err := a.Clients.List(c.Request.Context(), text, page.Limit, page.Offset)
	if err != nil {
		fail(c, err)
		return
	}
	out := api.List[api.Client]{Items: make([]api.Client, 0, len(cs)), Total: total, Limit: page.Limit, Offset: page.Offset}
	for _, cl := range cs {
		out.Items = append(out.Items, clientOut(cl))
	}
	c.JSON(http.StatusOK, out)
}

// createClient godoc
//
//	@Summary	Register an OAuth client
//	@Description	A confidential client (public false) gets a client_secret, returned in this response only. Without client_id one is generated. Roles (admin, user; default user) are what its client-credentials tokens carry. Publishes oc.auth.client.changed.
//	@Tags		clients
//	@Accept		json
//	@Produce	json
//	@Security	BearerAuth
//	@Param		body	body		api.CreateClientRequest	true	"the new client"
//	@Success	201		{object}	api.ClientWithSecret
//	@Failure	400		{object}	apierror.Envelope
//	@Failure	401		{object}	apierror.Envelope
//	@Failure	403		{object}	apierror.Envelope
//	@Failure	409		{object}	apierror.Envelope	"client_id taken"
//	@Router		/admin/clients [post]
func (a *API) createClient(c *gin.Context) {
	var req api.CreateClientRequest
	if err := decode(c, &req, checkCreateClient); err != nil {
		fail(c, err)
		return
	}
	id := req.ClientID
	if id == "" {
		var err error
		if id, err = clients.GenerateID(); err != nil {
			fail(c, err)
			return
		}
	}
	cl, secret, err := a.Clients.Create(c.Request.Context(), id, clientSettings(&req))
	if err != nil {
		fail(c, err)
		return
	}
	out := clientOut(cl)
	a.publish(c, event.ClientChanged, cl.ID, gin.H{"action": "created", "client": out})
	etag(c, cl.Version)
	c.Header("Cache-Control", "no-store")
	c.Header("Location", c.Request.URL.Path+"/"+cl.ID)
	c.JSON(http.StatusCreated, api.ClientWithSecret{Client: out, ClientSecret: secret})
}

// getClient godoc
//
//	@Summary	Get an OAuth client
//	@Tags		clients
//	@Produce	json
//	@Security	BearerAuth
//	@Param		id	path		string	true	"client id"
//	@Success	200	{object}	api.Client
//	@Failure	401	{object}	apierror.Envelope
//	@Failure	403	{object}	apierror.Envelope
//	@Failure	404	{object}	apierror.Envelope
//	@Router		/admin/clients/{id} [get]
func (a *API) getClient(c *gin.Context) {
	cl, err := a.Clients.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	etag(c, cl.Version)
	c.JSON(http.StatusOK, clientOut(cl))
}

// updateClient godoc
//
//	@Summary	Change an OAuth client
//	@Description	Changes the fields present in the body. The version read (If-Match header or version field) is required. Making a client public drops its secret; making it confidential needs a new secret (POST .../secret). The built-in web client is configured by the environment and cannot be changed here.
//	@Tags		clients
//	@Accept		json
//	@Produce	json
//	@Security	BearerAuth
//	@Param		id			path		string				true	"client id"
//	@Param		If-Match	header		string				false	"the ETag read"
//	@Param		body		body		api.UpdateClientRequest	true	"fields to change"
//	@Success	200			{object}	api.Client
//	@Failure	400			{object}	apierror.Envelope
//	@Failure	401			{object}	apierror.Envelope
//	@Failure	403			{object}	apierror.Envelope
//	@Failure	404			{object}	apierror.Envelope
//	@Failure	409			{object}	apierror.Envelope
//	@Failure	428			{object}	apierror.Envelope
//	@Router		/admin/clients/{id} [patch]
func (a *API) updateClient(c *gin.Context) {
	var req api.UpdateClientRequest
	if err := decode(c, &req, checkUpdateClient); err != nil {
		fail(c, err)
		return
	}
	version, err := versionOf(c, req.Version, true)
	if err != nil {
		fail(c, err)
		return
	}
	ctx := c.Request.Context()
	cur, err := a.Clients.Get(ctx, c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	s := clientUpdate(&req, cur)
	var v validation
	for _, p := range s.Check() {
		v.check(p.Field, p.Problem)
	}
	if err := v.err(); err != nil {
		fail(c, err)
		return
	}
	cl, err := a.Clients.Update(ctx, cur.ID, version, s)
	if err != nil {
		fail(c, err)
		return
	}
	out := clientOut(cl)
	a.publish(c, event.ClientChanged, cl.ID, gin.H{"action": "updated", "client": out})
	etag(c, cl.Version)
	c.JSON(http.StatusOK, out)
}

// deleteClient godoc
//
//	@Summary	Delete an OAuth client
//	@Description	Its secret and refresh tokens stop working at once; access tokens already issued stay valid until they expire. Built-in clients cannot be deleted.
//	@Tags		clients
//	@Security	BearerAuth
//	@Param		id			path	string	true	"client id"
//	@Param		If-Match	header	string	false	"the ETag read"
//	@Success	204
//	@Failure	401	{object}	apierror.Envelope
//	@Failure	403	{object}	apierror.Envelope
//	@Failure	404	{object}	apierror.Envelope
//	@Failure	409	{object}	apierror.Envelope
//	@Router		/admin/clients/{id} [delete]
func (a *API) deleteClient(c *gin.Context) {
	version, err := versionOf(c, 0, false)
	if err != nil {
		fail(c, err)
		return
	}
	id := c.Param("id")
	if err := a.Clients.Delete(c.Request.Context(), id, version); err != nil {
		fail(c, err)
		return
	}
	if err := a.Sessions.RevokeClient(c.Request.Context(), id); err != nil {
		fail(c, err)
		return
	}
	a.publish(c, event.ClientChanged, id, gin.H{"action": "deleted", "client": gin.H{"client_id": id}})
	c.Status(http.StatusNoContent)
}

// rotateSecret godoc
//
//	@Summary	Give a confidential client a new secret
//	@Description	The new secret is returned in this response only; the old one stops working at once. A built-in client's secret is configured by the environment (OC_SERVICE_CLIENT_SECRET) and cannot be rotated here.
//	@Tags		clients
//	@Produce	json
//	@Security	BearerAuth
//	@Param		id	path		string	true	"client id"
//	@Success	200	{object}	api.ClientWithSecret
//	@Failure	401	{object}	apierror.Envelope
//	@Failure	403	{object}	apierror.Envelope
//	@Failure	404	{object}	apierror.Envelope
//	@Failure	409	{object}	apierror.Envelope	"public or built-in client"
//	@Router		/admin/clients/{id}/secret [post]
func (a *API) rotateSecret(c *gin.Context) {
	cl, secret, err := a.Clients.RotateSecret(c.Request.Context(), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	out := clientOut(cl)
	a.publish(c, event.ClientChanged, cl.ID, gin.H{"action": "secret_rotated", "client": out})
	etag(c, cl.Version)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, api.ClientWithSecret{Client: out, ClientSecret: secret})
}
