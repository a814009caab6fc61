// Package httpapi is the HTTP transport of oc-workspace: gin handlers, their
// Swagger annotations, request decoding and the mapping of domain errors to
// the error envelope.
package httpapi

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/server"

	"github.com/opencloud/opencloud/services/oc-workspace/internal/area"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/errs"
	wsdomain "github.com/opencloud/opencloud/services/oc-workspace/internal/workspace"
)

// Handler serves the workspace API.
type Handler struct {
	workspaces *wsdomain.Service
	areas      *area.Service
	peerID     string
}

// Register mounts the routes on g (the service's authenticated group);
// idempotent guards the create routes so that a client may retry them with
// the same Idempotency-Key.
func Register(g *gin.RouterGroup, ws *wsdomain.Service, as *area.Service, peerID string, idempotent gin.HandlerFunc) {
	h := &Handler{workspaces: ws, areas: as, peerID: peerID}
	g.POST("/workspaces", idempotent, h.createWorkspace)
	g.GET("/workspaces", h.listWorkspaces)
	g.PUT("/workspaces/by-workflow/:workflow_id", h.putWorkflowWorkspace)
	g.DELETE("/workspaces/by-workflow/:workflow_id", h.deleteWorkflowWorkspace)
	g.GET("/workspaces/:id", h.getWorkspace)
	g.PUT("/workspaces/:id", h.replaceWorkspace)
	g.DELETE("/workspaces/:id", h.deleteWorkspace)
	g.GET("/workspaces/:id/resources", h.workspaceResources)
	g.POST("/workspaces/:id/resources", h.addResource)
	g.DELETE("/workspaces/:id/resources/:peer/:resource_id", h.removeResource)

	g.POST("/areas", idempotent, h.createArea)
	g.GET("/areas", h.listAreas)
	g.POST("/areas/check", h.checkWorkflow)
	g.GET("/areas/:id", h.getArea)
	g.PUT("/areas/:id", h.updateArea)
	g.DELETE("/areas/:id", h.deleteArea)
	g.POST("/areas/:id/members", h.addMember)
	g.DELETE("/areas/:id/members/:subject", h.removeMember)
	g.POST("/areas/:id/peers", h.addPeer)
	g.DELETE("/areas/:id/peers/:peer", h.removePeer)
	g.POST("/areas/:id/shared", h.share)
	g.DELETE("/areas/:id/shared/:kind/:peer/:item_id", h.unshare)
	g.PUT("/areas/:id/rules", h.setRules)
	g.GET("/areas/:id/violations", h.violations)
	g.GET("/areas/:id/history", h.history)
}

// ConflictDetails are the details of a 409 version_conflict.
type ConflictDetails struct {
	CurrentVersion int64 `json:"current_version" example:"4"`
}

// ManagedDetails are the details of a 409 managed_by_workflow.
type ManagedDetails struct {
	WorkflowID string `json:"workflow_id"`
}

func principal(c *gin.Context) (authn.Principal, bool) {
	p, ok := authn.FromContext(c.Request.Context())
	if !ok {
		server.Fail(c, apierror.Unauthorized("send an access token in the Authorization: Bearer header"))
	}
	return p, ok
}

// pathID reads a UUID path parameter; anything else is an id nothing has.
func pathID(c *gin.Context, name, what string) (string, bool) {
	id := c.Param(name)
	u, err := uuid.Parse(id)
	if err != nil || u.String() != strings.ToLower(id) {
		fail(c, errs.NotFound(what))
		return "", false
	}
	return u.String(), true
}

// fail maps domain errors to the error envelope; anything else is a logged 500.
func fail(c *gin.Context, err error) {
	var ve *errs.ValidationError
	var ce *errs.ConflictError
	var se *errs.StateError
	var nf *errs.NotFoundError
	var fe *errs.ForbiddenError
	switch {
	case errors.As(err, &ve):
		fields := make([]apierror.FieldError, len(ve.Problems))
		for i, p := range ve.Problems {
			fields[i] = apierror.FieldError{Field: p.Field, Problem: p.Problem}
		}
		server.Fail(c, apierror.Invalid(fields...))
	case errors.As(err, &ce):
		server.Fail(c, apierror.Conflict("version_conflict",
			fmt.Sprintf("version %d is not the current version (%d): read it again, redo your change on it and send it with If-Match: \"%d\"", ce.Given, ce.Current, ce.Current),
			ConflictDetails{CurrentVersion: ce.Current}))
	case errors.As(err, &se):
		server.Fail(c, apierror.Conflict(se.Code, se.Message, se.Details))
	case errors.As(err, &nf):
		server.Fail(c, apierror.NotFound(fmt.Sprintf("no %s with this id is visible to you", nf.What)))
	case errors.Is(err, errs.ErrNotFound):
		server.Fail(c, apierror.NotFound("not found, or not visible to you"))
	case errors.As(err, &fe):
		server.Fail(c, apierror.Forbidden(fe.Why))
	case errors.Is(err, errs.ErrPreconditionRequired):
		server.Fail(c, apierror.PreconditionRequired(`say which version you replace: send If-Match: "<version>" (the ETag you read) or "version" in the body`))
	default:
		server.Fail(c, err)
	}
}
