// Package httpapi is the HTTP transport of oc-datacenter: gin handlers,
// their Swagger annotations and the mapping of errors to the envelope.
package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/server"

	"github.com/opencloud/opencloud/services/oc-datacenter/datacenter"
	"github.com/opencloud/opencloud/services/oc-datacenter/internal/inventory"
	"github.com/opencloud/opencloud/services/oc-datacenter/internal/provision"
)

// AdminRole is the role the routes that change the cluster or the catalog need.
const AdminRole = "admin"

// Cluster is what the handlers need of this peer's cluster.
type Cluster interface {
	Prepare(ctx context.Context, executionID, workflowID string) (datacenter.Prepared, error)
	Release(ctx context.Context, executionID string) error
	Nodes(ctx context.Context) ([]datacenter.Node, error)
}

// Handler serves the datacenter API.
type Handler struct {
	cluster Cluster // nil: no cluster configured
	name    string  // the cluster's name, cluster_ref of its computes
	catalog func(p authn.Principal) inventory.Catalog
}

// ErrNoCluster is the answer of every route needing the cluster when none is configured.
var ErrNoCluster = apierror.New(http.StatusServiceUnavailable, "no_cluster",
	"this peer has no Kubernetes cluster configured: set OC_KUBECONFIG to the path of a kubeconfig and restart oc-datacenter", nil)

// Register mounts the routes on g (the service's authenticated group).
// cluster nil is a peer without a cluster: those routes answer 503
// no_cluster once the request itself is valid. catalog gives a catalog
// client acting as the caller.
func Register(g *gin.RouterGroup, cluster Cluster, name string, catalog func(p authn.Principal) inventory.Catalog) {
	h := &Handler{cluster: cluster, name: name, catalog: catalog}
	admin := server.RequireRole(AdminRole)
	g.POST("/executions/:id/prepare", admin, h.prepare)
	g.DELETE("/executions/:id", admin, h.release)
	g.GET("/nodes", h.nodes)
	g.POST("/inventory/publish", admin, h.publish)
}

// prepare godoc
//
//	@Summary		Prepare an execution's namespace
//	@Description	Makes sure the execution's namespace (oc-<id>, labelled with the execution and workflow ids and managed-by opencloud), the service account oc-executor, and the Role and RoleBinding Argo's executor needs (workflowtaskresults create/patch; pods get/watch/patch; pods/log get) exist as expected. Safe to call again: what exists is kept, what drifted is put back, and each object says whether it was created, updated or unchanged. A namespace of the same name that OpenCloud did not make for this execution, or one being deleted, is a 409. Needs the admin role.
//	@Tags			executions
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id		path		string						true	"Execution id (a UUID)"
//	@Param			body	body		datacenter.PrepareRequest	true	"The execution's workflow"
//	@Success		200		{object}	datacenter.Prepared
//	@Failure		400		{object}	apierror.Envelope	"Invalid id or workflow_id; details name the field"
//	@Failure		401		{object}	apierror.Envelope
//	@Failure		403		{object}	apierror.Envelope	"Not an admin"
//	@Failure		409		{object}	apierror.Envelope	"namespace_not_managed, workflow_mismatch or namespace_terminating"
//	@Failure		502		{object}	apierror.Envelope	"The Kubernetes API failed"
//	@Failure		503		{object}	apierror.Envelope	"no_cluster: no kubeconfig configured"
//	@Router			/executions/{id}/prepare [post]
func (h *Handler) prepare(c *gin.Context) {
	var in datacenter.PrepareRequest
	if err := server.DecodeJSON(c, &in); err != nil {
		fail(c, err)
		return
	}
	id := c.Param("id")
	if err := provision.ValidateIDs(id, in.WorkflowID, true); err != nil {
		fail(c, err)
		return
	}
	if h.cluster == nil {
		fail(c, ErrNoCluster)
		return
	}
	out, err := h.cluster.Prepare(c.Request.Context(), id, in.WorkflowID)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

// release godoc
//
//	@Summary		Release an execution's namespace
//	@Description	Deletes the execution's namespace and everything in it (Kubernetes finishes the deletion in the background). An execution without a namespace is already released: 204 too. Needs the admin role.
//	@Tags			executions
//	@Security		BearerAuth
//	@Param			id	path	string	true	"Execution id (a UUID)"
//	@Success		204
//	@Failure		400	{object}	apierror.Envelope	"Invalid id"
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		403	{object}	apierror.Envelope	"Not an admin"
//	@Failure		409	{object}	apierror.Envelope	"namespace_not_managed: the namespace was not made by OpenCloud"
//	@Failure		502	{object}	apierror.Envelope	"The Kubernetes API failed"
//	@Failure		503	{object}	apierror.Envelope	"no_cluster: no kubeconfig configured"
//	@Router			/executions/{id} [delete]
func (h *Handler) release(c *gin.Context) {
	id := c.Param("id")
	if err := provision.ValidateIDs(id, "", false); err != nil {
		fail(c, err)
		return
	}
	if h.cluster == nil {
		fail(c, ErrNoCluster)
		return
	}
	if err := h.cluster.Release(c.Request.Context(), id); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// nodes godoc
//
//	@Summary		List the cluster's nodes
//	@Description	The nodes of this peer's cluster, sorted by name: architecture, OS, capacity and allocatable CPU (millicores), memory (bytes), GPUs (nvidia.com/gpu) and pods, labels, readiness.
//	@Tags			inventory
//	@Produce		json
//	@Security		BearerAuth
//	@Success		200	{object}	datacenter.NodeList
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		502	{object}	apierror.Envelope	"The Kubernetes API failed"
//	@Failure		503	{object}	apierror.Envelope	"no_cluster: no kubeconfig configured"
//	@Router			/nodes [get]
func (h *Handler) nodes(c *gin.Context) {
	if h.cluster == nil {
		fail(c, ErrNoCluster)
		return
	}
	nodes, err := h.cluster.Nodes(c.Request.Context())
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, datacenter.NodeList{Cluster: h.name, Items: nodes})
}

// publish godoc
//
//	@Summary		Publish the cluster's nodes in the catalog
//	@Description	Creates or updates, in this peer's catalog and as the caller, one compute resource per node (FLUIDOS's flavour per node): cluster_ref the cluster's name, architecture, CPU cores, memory and GPUs that pods may use, and a node selector of the node's identifying labels (kubernetes.io/hostname, node.opencloud.io/name). A published compute is found again by its tags (datacenter-inventory, cluster-<cluster>, node-<node>), so an admin may rename it, describe it or change its visibility and pricing in the catalog: publishing again only updates the inventory fields, and changes nothing when the nodes have not changed. The body is optional; its visibility applies to the computes this call creates (default private). Computes of nodes the cluster no longer has are listed as stale, not deleted. Needs the admin role.
//	@Tags			inventory
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			body	body		datacenter.PublishRequest	false	"Visibility of new computes"
//	@Success		200		{object}	datacenter.PublishResult
//	@Failure		400		{object}	apierror.Envelope	"Malformed body or invalid visibility"
//	@Failure		401		{object}	apierror.Envelope
//	@Failure		403		{object}	apierror.Envelope	"Not an admin"
//	@Failure		502		{object}	apierror.Envelope	"The Kubernetes API or the catalog failed"
//	@Failure		503		{object}	apierror.Envelope	"no_cluster: no kubeconfig configured"
//	@Router			/inventory/publish [post]
func (h *Handler) publish(c *gin.Context) {
	p, ok := authn.FromContext(c.Request.Context())
	if !ok {
		fail(c, apierror.Unauthorized("send an access token in the Authorization: Bearer header"))
		return
	}
	var in datacenter.PublishRequest
	if c.Request.ContentLength != 0 {
		if err := server.DecodeJSON(c, &in); err != nil {
			fail(c, err)
			return
		}
	}
	if err := inventory.ValidatePublish(in); err != nil {
		fail(c, err)
		return
	}
	if h.cluster == nil {
		fail(c, ErrNoCluster)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Minute)
	defer cancel()
	nodes, err := h.cluster.Nodes(ctx)
	if err != nil {
		fail(c, err)
		return
	}
	out, err := inventory.Publish(ctx, h.catalog(p), h.name, nodes, in)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

func fail(c *gin.Context, err error) {
	var ve *provision.ValidationError
	var ce *provision.ConflictError
	var ie *inventory.ValidationError
	switch {
	case errors.As(err, &ve):
		fields := make([]apierror.FieldError, len(ve.Problems))
		for i, p := range ve.Problems {
			fields[i] = apierror.FieldError{Field: p.Field, Problem: p.Problem}
		}
		server.Fail(c, apierror.Invalid(fields...))
	case errors.As(err, &ie):
		server.Fail(c, apierror.Invalid(apierror.FieldError{Field: ie.Field, Problem: ie.Problem}))
	case errors.As(err, &ce):
		server.Fail(c, apierror.Conflict(ce.Code, ce.Message, nil))
	case errors.Is(err, provision.ErrCluster):
		server.LoggerFrom(c).WarnContext(c.Request.Context(), "kubernetes API call failed", "err", err)
		server.Fail(c, apierror.New(http.StatusBadGateway, "cluster_error",
			"the Kubernetes API server failed or refused the request; oc-datacenter logged the cause", nil))
	case errors.Is(err, inventory.ErrCatalog):
		server.LoggerFrom(c).WarnContext(c.Request.Context(), "catalog call failed", "err", err)
		server.Fail(c, apierror.New(http.StatusBadGateway, "catalog_unavailable",
			"the catalog could not be read; try again when oc-catalog is up", nil))
	default:
		server.Fail(c, err)
	}
}
