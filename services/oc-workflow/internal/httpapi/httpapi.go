// Package httpapi is the HTTP transport of oc-workflow: gin handlers, their
// Swagger annotations, request decoding and the mapping of domain errors to
// the error envelope.
package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/server"
	wf "github.com/opencloud/opencloud/libs/workflow"

	"github.com/opencloud/opencloud/services/oc-workflow/internal/workflow"
)

// Handler serves the workflow API.
type Handler struct{ svc *workflow.Service }

// Register mounts the routes on g (the service's authenticated group);
// idempotent guards the routes that create, so that a client may retry them
// with the same Idempotency-Key.
func Register(g *gin.RouterGroup, svc *workflow.Service, idempotent gin.HandlerFunc) {
	h := &Handler{svc: svc}
	g.POST("/workflows", idempotent, h.create)
	g.POST("/workflows/validate", h.validate)
	g.POST("/workflows/import", idempotent, h.importWorkflow)
	g.GET("/workflows", h.list)
	g.GET("/workflows/:id", h.get)
	g.PUT("/workflows/:id", h.replace)
	g.DELETE("/workflows/:id", h.delete)
	g.POST("/workflows/:id/duplicate", idempotent, h.duplicate)
	g.GET("/workflows/:id/export", h.export)
	g.POST("/workflows/:id/publish", h.publish)
}

// ConflictDetails are the details of a 409 version_conflict.
type ConflictDetails struct {
	CurrentVersion int64 `json:"current_version" example:"4"`
}

// DuplicateInput is the body of POST /workflows/{id}/duplicate.
type DuplicateInput struct {
	// Name of the copy; default "<name> (copy)".
	Name *string `json:"name,omitempty" example:"NDVI over Lyon"`
}

// create godoc
//
//	@Summary		Create a workflow
//	@Description	Validates the workflow and, if it has no problem, stores it owned by the caller. Every problem is reported at once: 400 invalid_workflow whose details are a Validation listing each problem with its code, the node or link concerned, the field path and what to change; nothing is written then. Resources are looked up in the catalog as the caller sees them; a partner peer's resource is not looked up by this peer and is answered as a warning. The workflow then owns a workspace named "<name>_workspace" holding exactly the resources its graph uses. A request sent again with the same Idempotency-Key (within 24 hours) creates nothing new and gets the first answer back.
//	@Tags			workflows
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			workflow		body		wf.Input	true	"The workflow"
//	@Param			Idempotency-Key	header		string		false	"Any unique string (a UUID) that makes a retry safe"
//	@Success		201				{object}	wf.Workflow
//	@Header			201				{string}	ETag		"The version, quoted: send it back in If-Match to update"
//	@Header			201				{string}	Location	"The workflow's URL"
//	@Failure		400				{object}	apierror.Envelope{error=apierror.Error{details=wf.Validation}}	"invalid_workflow: the problems in details; or malformed JSON / unknown field (invalid_request, naming the field)"
//	@Failure		401				{object}	apierror.Envelope
//	@Failure		409				{object}	apierror.Envelope	"A request with the same Idempotency-Key is still being handled"
//	@Failure		413				{object}	apierror.Envelope	"Body larger than 16 MiB"
//	@Failure		422				{object}	apierror.Envelope	"The Idempotency-Key was used with another body"
//	@Failure		503				{object}	apierror.Envelope	"The catalog could not be reached to check the resources; retry"
//	@Router			/workflows [post]
func (h *Handler) create(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	var in wf.Input
	if err := server.DecodeJSON(c, &in); err != nil {
		fail(c, err)
		return
	}
	w, err := h.svc.Create(c.Request.Context(), p, in)
	if err != nil {
		fail(c, err)
		return
	}
	created(c, "/workflows/", w)
}

// validate godoc
//
//	@Summary		Validate a workflow without saving it
//	@Description	Checks a workflow as a create or replace would and answers 200 with every problem found, whatever the graph (400 only for a body that cannot be decoded). With workflow_id, the rules of the collaborative areas sharing that existing workflow (one the caller may read) are checked too.
//	@Tags			workflows
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			workflow	body		wf.Input	true	"The workflow to check"
//	@Param			workflow_id	query		string		false	"An existing workflow whose collaborative-area rules apply"
//	@Success		200			{object}	wf.Validation
//	@Failure		400			{object}	apierror.Envelope	"Malformed JSON, unknown field or parameter"
//	@Failure		401			{object}	apierror.Envelope
//	@Failure		404			{object}	apierror.Envelope	"workflow_id names no workflow the caller may read"
//	@Failure		413			{object}	apierror.Envelope
//	@Failure		503			{object}	apierror.Envelope	"The catalog or oc-workspace could not be reached; retry"
//	@Router			/workflows/validate [post]
func (h *Handler) validate(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	values := c.Request.URL.Query()
	var bad []apierror.FieldError
	for _, name := range slices.Sorted(maps.Keys(values)) {
		switch vs := values[name]; {
		case name != "workflow_id":
			bad = append(bad, apierror.FieldError{Field: name, Problem: "unknown parameter; expected workflow_id"})
		case len(vs) > 1:
			bad = append(bad, apierror.FieldError{Field: name, Problem: "give it once"})
		}
	}
	if len(bad) > 0 {
		fail(c, apierror.Invalid(bad...))
		return
	}
	id := values.Get("workflow_id")
	if values.Has("workflow_id") {
		var ok bool
		if id, ok = parseID(id); !ok {
			fail(c, workflow.ErrNotFound)
			return
		}
	}
	var in wf.Input
	if err := server.DecodeJSON(c, &in); err != nil {
		fail(c, err)
		return
	}
	v, err := h.svc.Validate(c.Request.Context(), p, in, id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// get godoc
//
//	@Summary		Get a workflow
//	@Description	Returns the workflow if the caller owns it, is an admin, or is a member of a collaborative area sharing it; others are answered 404, like unknown ids. When the owner reads a workflow whose workspace could not be updated, the update is retried.
//	@Tags			workflows
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id	path		string	true	"Workflow id (UUID)"
//	@Success		200	{object}	wf.Workflow
//	@Header			200	{string}	ETag	"The version, quoted"
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		404	{object}	apierror.Envelope
//	@Failure		503	{object}	apierror.Envelope	"oc-workspace could not be reached to check area membership"
//	@Router			/workflows/{id} [get]
func (h *Handler) get(c *gin.Context) {
	p, id, ok := target(c)
	if !ok {
		return
	}
	w, err := h.svc.Get(c.Request.Context(), p, id)
	if err != nil {
		fail(c, err)
		return
	}
	respond(c, http.StatusOK, w)
}

// list godoc
//
//	@Summary		List workflows
//	@Description	Lists, a page at a time, the caller's workflows (an admin: everyone's), or with area= the workflows shared in that collaborative area (the caller must be a member). Filters combine with AND; every given tag must be present. Unknown parameters are refused.
//	@Tags			workflows
//	@Produce		json
//	@Security		BearerAuth
//	@Param			q		query		string		false	"Search words in the name and description (at most 200 characters)"
//	@Param			tag		query		[]string	false	"Only workflows with this tag (repeatable: all must be present)"	collectionFormat(multi)
//	@Param			owner	query		string		false	"Only workflows of this subject; 'me' is the caller"
//	@Param			area	query		string		false	"Only workflows shared in this collaborative area (id)"
//	@Param			uses	query		string		false	"Only workflows with a node on this resource, as peer/id"
//	@Param			sort	query		string		false	"Comma-separated keys among name, created_at, updated_at; '-' before a key sorts descending"	default(name)
//	@Param			limit	query		int			false	"Page size, 1 to 200"	default(20)	minimum(1)	maximum(200)
//	@Param			offset	query		int			false	"Items to skip"			default(0)	minimum(0)
//	@Success		200		{object}	wf.Page
//	@Failure		400		{object}	apierror.Envelope	"A parameter is invalid; details name it"
//	@Failure		401		{object}	apierror.Envelope
//	@Failure		404		{object}	apierror.Envelope	"area names no collaborative area the caller is a member of"
//	@Failure		503		{object}	apierror.Envelope	"oc-workspace could not be reached to read the area"
//	@Router			/workflows [get]
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
	c.JSON(http.StatusOK, wf.Page{Items: items, Total: total, Limit: q.Limit, Offset: q.Offset})
}

// replace godoc
//
//	@Summary		Replace a workflow
//	@Description	Replaces a workflow's name, description, tags and graph, validated as on create plus the rules of the collaborative areas sharing it (rule_broken problems name the area and the rule). The version being replaced is required, in If-Match or as "version" in the body: without it 428, and if it is no longer current 409 with the current version in details. Only the owner or an admin may change a workflow (403 for area members who may read it). The owned workspace follows the new graph.
//	@Tags			workflows
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id			path		string		true	"Workflow id (UUID)"
//	@Param			If-Match	header		string		false	"The ETag of the version being replaced"
//	@Param			workflow	body		wf.Input	true	"The new workflow"
//	@Success		200			{object}	wf.Workflow
//	@Header			200			{string}	ETag	"The new version, quoted"
//	@Failure		400			{object}	apierror.Envelope{error=apierror.Error{details=wf.Validation}}	"invalid_workflow, or a malformed body"
//	@Failure		401			{object}	apierror.Envelope
//	@Failure		403			{object}	apierror.Envelope
//	@Failure		404			{object}	apierror.Envelope
//	@Failure		409			{object}	apierror.Envelope{error=apierror.Error{details=ConflictDetails}}	"Stale version"
//	@Failure		413			{object}	apierror.Envelope
//	@Failure		428			{object}	apierror.Envelope	"Neither If-Match nor version given"
//	@Failure		503			{object}	apierror.Envelope
//	@Router			/workflows/{id} [put]
func (h *Handler) replace(c *gin.Context) {
	p, id, ok := target(c)
	if !ok {
		return
	}
	match, err := server.IfMatch(c)
	if err != nil {
		fail(c, err)
		return
	}
	var in wf.Input
	if err := server.DecodeJSON(c, &in); err != nil {
		fail(c, err)
		return
	}
	w, err := h.svc.Replace(c.Request.Context(), p, id, in, match)
	if err != nil {
		fail(c, err)
		return
	}
	respond(c, http.StatusOK, w)
}

// delete godoc
//
//	@Summary		Delete a workflow
//	@Description	Deletes a workflow and the workspace it owns. Only the owner or an admin may (403). With If-Match, a stale version is a 409 and nothing is deleted. A catalog resource it was published as stays in the catalog.
//	@Tags			workflows
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id			path	string	true	"Workflow id (UUID)"
//	@Param			If-Match	header	string	false	"The ETag of the version being deleted"
//	@Success		204
//	@Failure		400	{object}	apierror.Envelope
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		403	{object}	apierror.Envelope
//	@Failure		404	{object}	apierror.Envelope
//	@Failure		409	{object}	apierror.Envelope{error=apierror.Error{details=ConflictDetails}}	"Stale version"
//	@Router			/workflows/{id} [delete]
func (h *Handler) delete(c *gin.Context) {
	p, id, ok := target(c)
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

// duplicate godoc
//
//	@Summary		Duplicate a workflow
//	@Description	Copies a workflow the caller may read into a new workflow owned by the caller, named as given or "<name> (copy)". The copy is validated as the caller's (resources the caller may not see are problems).
//	@Tags			workflows
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id				path		string			true	"Workflow id (UUID)"
//	@Param			duplicate		body		DuplicateInput	false	"The copy's name"
//	@Param			Idempotency-Key	header		string			false	"Any unique string (a UUID) that makes a retry safe"
//	@Success		201				{object}	wf.Workflow
//	@Header			201				{string}	ETag		"The copy's version, quoted"
//	@Header			201				{string}	Location	"The copy's URL"
//	@Failure		400				{object}	apierror.Envelope{error=apierror.Error{details=wf.Validation}}
//	@Failure		401				{object}	apierror.Envelope
//	@Failure		404				{object}	apierror.Envelope
//	@Failure		503				{object}	apierror.Envelope
//	@Router			/workflows/{id}/duplicate [post]
func (h *Handler) duplicate(c *gin.Context) {
	p, id, ok := target(c)
	if !ok {
		return
	}
	var in DuplicateInput
	body, err := readBody(c)
	if err != nil {
		fail(c, err)
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := server.DecodeBytes(body, &in); err != nil {
			fail(c, err)
			return
		}
	}
	w, err := h.svc.Duplicate(c.Request.Context(), p, id, in.Name)
	if err != nil {
		fail(c, err)
		return
	}
	created(c, "/workflows/", w)
}

// export godoc
//
//	@Summary		Export a workflow
//	@Description	Returns the workflow in portable form (format opencloud.workflow/v1) as an attachment named "<name>.json": every reference carries its peer, so that importing it on another peer keeps pointing at the same resources.
//	@Tags			workflows
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id	path		string	true	"Workflow id (UUID)"
//	@Success		200	{object}	wf.Export
//	@Header			200	{string}	Content-Disposition	"attachment; filename=\"<name>.json\""
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		404	{object}	apierror.Envelope
//	@Router			/workflows/{id}/export [get]
func (h *Handler) export(c *gin.Context) {
	p, id, ok := target(c)
	if !ok {
		return
	}
	ex, err := h.svc.Export(c.Request.Context(), p, id)
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": ex.Name + ".json"}))
	c.JSON(http.StatusOK, ex)
}

// importWorkflow godoc
//
//	@Summary		Import a workflow
//	@Description	Creates a workflow owned by the caller from an export (the answer of GET /workflows/{id}/export, here or on another peer). The format must be exactly opencloud.workflow/v1. References are kept as they are (one without a peer is the exporting peer's); the workflow is validated and created as by POST /workflows.
//	@Tags			workflows
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			export			body		wf.Export	true	"The exported workflow"
//	@Param			Idempotency-Key	header		string		false	"Any unique string (a UUID) that makes a retry safe"
//	@Success		201				{object}	wf.Workflow
//	@Header			201				{string}	ETag		"The version, quoted"
//	@Header			201				{string}	Location	"The workflow's URL"
//	@Failure		400				{object}	apierror.Envelope{error=apierror.Error{details=wf.Validation}}	"invalid_workflow (a wrong format is a problem on the field format), or a malformed body"
//	@Failure		401				{object}	apierror.Envelope
//	@Failure		413				{object}	apierror.Envelope
//	@Failure		503				{object}	apierror.Envelope
//	@Router			/workflows/import [post]
func (h *Handler) importWorkflow(c *gin.Context) {
	p, ok := principal(c)
	if !ok {
		return
	}
	var ex wf.Export
	if err := server.DecodeJSON(c, &ex); err != nil {
		fail(c, err)
		return
	}
	w, err := h.svc.Import(c.Request.Context(), p, ex)
	if err != nil {
		fail(c, err)
		return
	}
	created(c, "/workflows/", w)
}

// publish godoc
//
//	@Summary		Publish a workflow to the catalog
//	@Description	Offers the workflow in the catalog as a resource of kind workflow, with the workflow's name, description and tags and the given visibility, groups, short description, license and pricing: created the first time (201), updated after (200). The catalog's answer is returned; its refusals (a missing group list…) are passed on. Only the owner or an admin may publish.
//	@Tags			workflows
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id		path		string		true	"Workflow id (UUID)"
//	@Param			publish	body		wf.Publish	true	"How to offer it"
//	@Success		200		{object}	resource.Resource	"Updated"
//	@Success		201		{object}	resource.Resource	"Published for the first time"
//	@Failure		400		{object}	apierror.Envelope
//	@Failure		401		{object}	apierror.Envelope
//	@Failure		403		{object}	apierror.Envelope
//	@Failure		404		{object}	apierror.Envelope
//	@Failure		503		{object}	apierror.Envelope	"The catalog could not be reached"
//	@Router			/workflows/{id}/publish [post]
func (h *Handler) publish(c *gin.Context) {
	p, id, ok := target(c)
	if !ok {
		return
	}
	var pub wf.Publish
	if err := server.DecodeJSON(c, &pub); err != nil {
		fail(c, err)
		return
	}
	var r resource.Resource
	r, first, err := h.svc.Publish(c.Request.Context(), p, id, pub)
	if err != nil {
		fail(c, err)
		return
	}
	status := http.StatusOK
	if first {
		status = http.StatusCreated
	}
	c.Header("ETag", server.ETag(r.Version))
	c.JSON(status, r)
}

func created(c *gin.Context, path string, w wf.Workflow) {
	prefix := c.Request.URL.Path
	if i := strings.Index(prefix, "/workflows"); i >= 0 {
		prefix = prefix[:i]
	}
	c.Header("Location", prefix+path+w.ID)
	respond(c, http.StatusCreated, w)
}

func respond(c *gin.Context, status int, w wf.Workflow) {
	c.Header("ETag", server.ETag(w.Version))
	c.JSON(status, w)
}

func readBody(c *gin.Context) ([]byte, error) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, apierror.New(http.StatusRequestEntityTooLarge, "body_too_large",
				fmt.Sprintf("the request body exceeds %d bytes", tooBig.Limit), nil)
		}
		return nil, apierror.BadRequest("unreadable_body", "the request body could not be read")
	}
	return body, nil
}

func principal(c *gin.Context) (authn.Principal, bool) {
	p, ok := authn.FromContext(c.Request.Context())
	if !ok {
		server.Fail(c, apierror.Unauthorized("send an access token in the Authorization: Bearer header"))
	}
	return p, ok
}

// target reads the caller and the workflow id of the path.
func target(c *gin.Context) (authn.Principal, string, bool) {
	p, ok := principal(c)
	if !ok {
		return p, "", false
	}
	id, ok := parseID(c.Param("id"))
	if !ok {
		fail(c, workflow.ErrNotFound)
	}
	return p, id, ok
}

// parseID reads a workflow id: a UUID; anything else is an id no workflow has.
func parseID(id string) (string, bool) {
	u, err := uuid.Parse(id)
	if err != nil || u.String() != strings.ToLower(id) {
		return "", false
	}
	return u.String(), true
}

// fail maps domain errors to the error envelope; what is neither a domain
// error nor an *apierror.Error becomes a logged 500.
func fail(c *gin.Context, err error) {
	var ie *workflow.InvalidError
	var ce *workflow.ConflictError
	switch {
	case errors.As(err, &ie):
		server.Fail(c, invalidWorkflow(ie.Validation))
	case errors.As(err, &ce):
		server.Fail(c, apierror.Conflict("version_conflict",
			fmt.Sprintf("version %d is not the current version (%d): get the workflow again, redo your change on it and send it with If-Match: \"%d\"", ce.Given, ce.Current, ce.Current),
			ConflictDetails{CurrentVersion: ce.Current}))
	case errors.Is(err, workflow.ErrUnavailable):
		server.LoggerFrom(c).WarnContext(c.Request.Context(), "dependency unavailable", "err", err)
		server.Fail(c, apierror.New(http.StatusServiceUnavailable, "dependency_unavailable",
			"a service this request needs (the catalog or oc-workspace) could not answer; retry in a moment", nil))
	case errors.Is(err, workflow.ErrNotFound):
		server.Fail(c, apierror.NotFound("no workflow with this id is visible to you"))
	case errors.Is(err, workflow.ErrAreaNotFound):
		server.Fail(c, apierror.NotFound("no collaborative area with this id has you as a member"))
	case errors.Is(err, workflow.ErrForbidden):
		server.Fail(c, apierror.Forbidden("only the owner of this workflow or an admin may change, delete or publish it; duplicate it to make your own"))
	case errors.Is(err, workflow.ErrPreconditionRequired):
		server.Fail(c, apierror.PreconditionRequired(`say which version you replace: send If-Match: "<version>" (the ETag you read) or "version" in the body`))
	default:
		server.Fail(c, err)
	}
}

// invalidWorkflow is the 400 of a refused workflow: a summary, and every
// problem in the details.
func invalidWorkflow(v wf.Validation) *apierror.Error {
	msg := "the workflow is invalid; see details"
	if n := len(v.Problems); n > 0 {
		first := v.Problems[0]
		where := first.Field
		if where != "" {
			where += ": "
		}
		if n == 1 {
			msg = "the workflow has 1 problem: " + where + first.Message
		} else {
			msg = fmt.Sprintf("the workflow has %d problems (all in details); the first: %s%s", n, where, first.Message)
		}
	}
	return apierror.New(http.StatusBadRequest, "invalid_workflow", msg, v)
}
