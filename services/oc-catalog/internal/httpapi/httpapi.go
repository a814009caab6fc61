// Package httpapi is the HTTP transport of oc-catalog: gin handlers, their
// Swagger annotations, request decoding and the mapping of catalog errors to
// the error envelope.
package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/server"

	"github.com/opencloud/opencloud/services/oc-catalog/internal/catalog"
)

// Handler serves the catalog API.
type Handler struct{ svc *catalog.Service }

// Register mounts the routes on g (the service's authenticated group).
// Register mounts the catalog's routes on g; idempotent guards the create
// route so that a client may retry it with the same Idempotency-Key.
func Register(g *gin.RouterGroup, svc *catalog.Service, idempotent gin.HandlerFunc) {
	h := &Handler{svc: svc}
	g.POST("/resources", idempotent, h.create)
	g.GET("/resources", h.list)
	g.POST("/resources/lookup", h.lookup)
	g.GET("/resources/:id", h.get)
	g.PUT("/resources/:id", h.replace)
	g.PATCH("/resources/:id", h.patch)
	g.DELETE("/resources/:id", h.delete)
}

// ConflictDetails are the details of a 409 version_conflict.
type ConflictDetails struct {
	CurrentVersion int64 `json:"current_version" example:"4"`
}

// create godoc
//
//	@Summary		Create a resource
//	@Description	Creates a resource of one of the five kinds. The body has the common fields and exactly one per-kind object named after the kind ("data", "processing", "storage", "compute" or "workflow"). Unknown fields are refused. The caller becomes the creator and, unless "owners" is given, the only owner. Visibility defaults to private; pricing to free. A request sent again with the same Idempotency-Key (within 24 hours) creates nothing new and gets the first answer back, with Idempotent-Replayed: true.
//	@Tags			resources
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			resource		body		resource.Input	true	"The resource"
//	@Param			Idempotency-Key	header		string			false	"Any unique string (a UUID) that makes a retry safe"
//	@Success		201			{object}	resource.Resource
//	@Header			201			{string}	ETag		"The version, quoted: send it back in If-Match to update"
//	@Header			201			{string}	Location	"The resource's URL"
//	@Failure		400			{object}	apierror.Envelope	"Malformed JSON, unknown field, wrong type or invalid value; details name each field"
//	@Failure		401			{object}	apierror.Envelope
//	@Failure		409			{object}	apierror.Envelope	"A request with the same Idempotency-Key is still being handled"
//	@Failure		413			{object}	apierror.Envelope	"Body larger than the limit"
//	@Failure		422			{object}	apierror.Envelope	"The Idempotency-Key was used with another body"
//	@Router			/resources [post]
func (h *Handler) create(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	var in resource.Input
	if err := server.DecodeJSON(c, &in); err != nil {
		fail(c, err)
		return
	}
	r, err := h.svc.Create(c.Request.Context(), p, in)
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Location", strings.TrimSuffix(c.Request.URL.Path, "/")+"/"+r.ID)
	respond(c, http.StatusCreated, r)
}

// get godoc
//
//	@Summary		Get a resource
//	@Description	Returns the resource if the caller may see it: public and partners resources, the caller's own, groups resources of a group the caller is in; admins see all. Others are answered 404, like unknown ids.
//	@Tags			resources
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id	path		string	true	"Resource id (UUID)"
//	@Success		200	{object}	resource.Resource
//	@Header			200	{string}	ETag	"The version, quoted"
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		404	{object}	apierror.Envelope
//	@Router			/resources/{id} [get]
func (h *Handler) get(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := resourceID(c)
	if !ok {
		return
	}
	r, err := h.svc.Get(c.Request.Context(), p, id)
	if err != nil {
		fail(c, err)
		return
	}
	respond(c, http.StatusOK, r)
}

// list godoc
//
//	@Summary		List and search resources
//	@Description	Lists the resources the caller may see, a page at a time. Filters combine with AND; every given tag must be present. q searches the name, descriptions and tags: every word must occur (case-insensitive). Unknown parameters are refused.
//	@Tags			resources
//	@Produce		json
//	@Security		BearerAuth
//	@Param			kind		query		string		false	"Only this kind"	Enums(data, processing, storage, compute, workflow)
//	@Param			tag			query		[]string	false	"Only resources with this tag (repeatable: all must be present)"	collectionFormat(multi)
//	@Param			owner		query		string		false	"Only resources this subject owns; 'me' is the caller"
//	@Param			visibility	query		string		false	"Only this visibility"	Enums(public, partners, groups, private)
//	@Param			q			query		string		false	"Search words (at most 200 characters)"
//	@Param			sort		query		string		false	"Comma-separated keys among name, kind, created_at, updated_at; '-' before a key sorts descending"	default(name)
//	@Param			limit		query		int			false	"Page size, 1 to 200"	default(20)	minimum(1)	maximum(200)
//	@Param			offset		query		int			false	"Items to skip"	default(0)	minimum(0)
//	@Success		200			{object}	resource.Page
//	@Failure		400			{object}	apierror.Envelope	"A parameter is invalid; details name it"
//	@Failure		401			{object}	apierror.Envelope
//	@Router			/resources [get]
func (h *Handler) list(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	q, err := parseList(c, p)
	if err != nil {
		fail(c, err)
		return
	}
	items, total, err := h.svc.List(c.Request.Context(), p, q)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, resource.Page{Items: items, Total: total, Limit: q.Limit, Offset: q.Offset})
}

// lookup godoc
//
//	@Summary		Fetch many resources by id
//	@Description	Returns, in one call, the resources among the given ids that the caller may see (in the order asked), and the ids that are unknown or not visible (not told apart, as on GET). At most 1000 ids; repeated ids are answered once. Services resolving workspaces and workflow graphs use it instead of one GET per resource.
//	@Tags			resources
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			lookup	body		resource.Lookup	true	"The ids"
//	@Success		200		{object}	resource.LookupResult
//	@Failure		400		{object}	apierror.Envelope	"No ids, more than 1000, or a malformed body"
//	@Failure		401		{object}	apierror.Envelope
//	@Router			/resources/lookup [post]
func (h *Handler) lookup(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	var in resource.Lookup
	if err := server.DecodeJSON(c, &in); err != nil {
		fail(c, err)
		return
	}
	res, err := h.svc.Lookup(c.Request.Context(), p, in.IDs)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

// replace godoc
//
//	@Summary		Replace a resource
//	@Description	Replaces the writable fields of a resource (omitted owners stay as they are). The version being replaced is required, in If-Match (the ETag) or as "version" in the body: without it 428, and if it is no longer current 409 with the current version in details; nothing is written then. Only an owner or an admin may change a resource (403). The kind cannot change.
//	@Tags			resources
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id			path		string			true	"Resource id (UUID)"
//	@Param			If-Match	header		string			false	"The ETag of the version being replaced: its version number in double quotes"
//	@Param			resource	body		resource.Input	true	"The new writable fields"
//	@Success		200			{object}	resource.Resource
//	@Header			200			{string}	ETag	"The new version, quoted"
//	@Failure		400			{object}	apierror.Envelope
//	@Failure		401			{object}	apierror.Envelope
//	@Failure		403			{object}	apierror.Envelope
//	@Failure		404			{object}	apierror.Envelope
//	@Failure		409			{object}	apierror.Envelope{error=apierror.Error{details=ConflictDetails}}	"Stale version"
//	@Failure		413			{object}	apierror.Envelope
//	@Failure		428			{object}	apierror.Envelope	"Neither If-Match nor version given"
//	@Router			/resources/{id} [put]
func (h *Handler) replace(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := resourceID(c)
	if !ok {
		return
	}
	match, err := server.IfMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	var in resource.Input
	if err := server.DecodeJSON(c, &in); err != nil {
		fail(c, err)
		return
	}
	r, err := h.svc.Replace(c.Request.Context(), p, id, in, match)
	if err != nil {
		fail(c, err)
		return
	}
	respond(c, http.StatusOK, r)
}

// patch godoc
//
//	@Summary		Patch a resource
//	@Description	Applies a JSON merge patch (RFC 7396) to the writable fields of a resource: given fields replace, null removes, objects merge. The result is validated like a replace. With If-Match (or "version" in the patch) a stale version is a 409; without, the patch applies to the current version.
//	@Tags			resources
//	@Accept			application/merge-patch+json
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id			path		string	true	"Resource id (UUID)"
//	@Param			If-Match	header		string	false	"The ETag of the version being patched: its version number in double quotes"
//	@Param			patch		body		object	true	"A merge patch of resource.Input: the fields to change, null for a field to remove"
//	@Success		200			{object}	resource.Resource
//	@Header			200			{string}	ETag	"The new version, quoted"
//	@Failure		400			{object}	apierror.Envelope
//	@Failure		401			{object}	apierror.Envelope
//	@Failure		403			{object}	apierror.Envelope
//	@Failure		404			{object}	apierror.Envelope
//	@Failure		409			{object}	apierror.Envelope{error=apierror.Error{details=ConflictDetails}}	"Stale version"
//	@Failure		413			{object}	apierror.Envelope
//	@Router			/resources/{id} [patch]
func (h *Handler) patch(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := resourceID(c)
	if !ok {
		return
	}
	match, err := server.IfMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	patch, err := decodePatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	r, err := h.svc.Update(c.Request.Context(), p, id, match, func(cur resource.Input) (resource.Input, error) {
		return MergePatch(cur, patch)
	})
	if err != nil {
		fail(c, err)
		return
	}
	respond(c, http.StatusOK, r)
}

// delete godoc
//
//	@Summary		Delete a resource
//	@Description	Deletes a resource. Only an owner or an admin may (403). With If-Match, a stale version is a 409 and nothing is deleted.
//	@Tags			resources
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id			path	string	true	"Resource id (UUID)"
//	@Param			If-Match	header	string	false	"The ETag of the version being deleted: its version number in double quotes"
//	@Success		204
//	@Failure		400	{object}	apierror.Envelope
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		403	{object}	apierror.Envelope
//	@Failure		404	{object}	apierror.Envelope
//	@Failure		409	{object}	apierror.Envelope{error=apierror.Error{details=ConflictDetails}}	"Stale version"
//	@Router			/resources/{id} [delete]
func (h *Handler) delete(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	id, ok := resourceID(c)
	if !ok {
		return
	}
	match, err := server.IfMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	if err := h.svc.Delete(c.Request.Context(), p, id, match); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func respond(c *gin.Context, status int, r resource.Resource) {
	c.Header("ETag", server.ETag(r.Version))
	c.JSON(status, r)
}

func principal(c *gin.Context) (authn.Principal, bool) {
	p, ok := authn.FromContext(c.Request.Context())
	if !ok {
		server.Fail(c, apierror.Unauthorized("send an access token in the Authorization: Bearer header"))
	}
	return p, ok
}

// resourceID reads the id path parameter. Ids are UUIDs; anything else is
// an id no resource has.
func resourceID(c *gin.Context) (string, bool) {
	id := c.Param("id")
	u, err := uuid.Parse(id)
	if err != nil || u.String() != strings.ToLower(id) {
		fail(c, catalog.ErrNotFound)
		return "", false
	}
	return u.String(), true
}

// fail maps catalog errors to the error envelope; what is neither a catalog
// error nor an *apierror.Error becomes a logged 500.
func fail(c *gin.Context, err error) {
	var ve *catalog.ValidationError
	var ce *catalog.ConflictError
	switch {
	case errors.As(err, &ve):
		fields := make([]apierror.FieldError, len(ve.Problems))
		for i, p := range ve.Problems {
			fields[i] = apierror.FieldError{Field: p.Field, Problem: p.Problem}
		}
		server.Fail(c, apierror.Invalid(fields...))
	case errors.As(err, &ce):
		server.Fail(c, apierror.Conflict("version_conflict",
			fmt.Sprintf("version %d is not the current version (%d): get the resource again, redo your change on it and send it with If-Match: \"%d\"", ce.Given, ce.Current, ce.Current),
			ConflictDetails{CurrentVersion: ce.Current}))
	case errors.Is(err, catalog.ErrNotFound):
		server.Fail(c, apierror.NotFound("no resource with this id is visible to you"))
	case errors.Is(err, catalog.ErrForbidden):
		server.Fail(c, apierror.Forbidden("only an owner of this resource or an admin may change or delete it"))
	case errors.Is(err, catalog.ErrPreconditionRequired):
		server.Fail(c, apierror.PreconditionRequired(`say which version you replace: send If-Match: "<version>" (the ETag you read) or "version" in the body`))
	default:
		server.Fail(c, err)
	}
}
