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
	"github.com/opencloud/opencloud/services/oc-datacenter/internal/credentials"
	"github.com/opencloud/opencloud/services/oc-datacenter/internal/inventory"
	"github.com/opencloud/opencloud/services/oc-datacenter/internal/provision"
)

// AdminRole is the role the routes that change the cluster or the catalog need.
const AdminRole = "admin"

// Cluster is what the handlers need of this peer's cluster.
type Cluster interface {
	Prepare(ctx context.Context, executionID, workflowID string, secrets []provision.S3Secret) (datacenter.Prepared, error)
	Release(ctx context.Context, executionID string) error
	Nodes(ctx context.Context) ([]datacenter.Node, error)
}

// Catalog is what the handlers need of this peer's catalog, acting as the caller.
type Catalog interface {
	inventory.Catalog
	credentials.Catalog
}

// Options are what the routes are built from.
type Options struct {
	Cluster     Cluster // nil: no cluster configured
	ClusterName string  // the cluster's name, cluster_ref of its computes
	PeerID      string  // this peer's id
	// Catalog gives a catalog client acting as the caller.
	Catalog func(p authn.Principal) Catalog
	// Credentials keeps the storages' credentials; nil: no credentials key.
	Credentials *credentials.Keeper
}

// Handler serves the datacenter API.
type Handler struct {
	cluster Cluster
	name    string
	peerID  string
	catalog func(p authn.Principal) Catalog
	creds   *credentials.Keeper
}

// ErrNoCluster is the answer of every route needing the cluster when none is configured.
var ErrNoCluster = apierror.New(http.StatusServiceUnavailable, "no_cluster",
	"this peer has no Kubernetes cluster configured: set OC_KUBECONFIG to the path of a kubeconfig and restart oc-datacenter", nil)

// ErrNoCredentialsKey is the answer of the credentials routes, and of a
// prepare naming storages, when the service has no credentials key.
var ErrNoCredentialsKey = apierror.New(http.StatusServiceUnavailable, "no_credentials_key",
	"this peer keeps no storage credentials: set OC_DATACENTER_CREDENTIALS_KEY to 32 random bytes, base64 (openssl rand -base64 32), and restart oc-datacenter", nil)

// Register mounts the routes on g (the service's authenticated group).
// Without a cluster the routes needing it answer 503 no_cluster once the
// request itself is valid; without a credentials key, those needing it
// 503 no_credentials_key.
func Register(g *gin.RouterGroup, o Options) {
	h := &Handler{cluster: o.Cluster, name: o.ClusterName, peerID: o.PeerID, catalog: o.Catalog, creds: o.Credentials}
	admin := server.RequireRole(AdminRole)
	g.POST("/executions/:id/prepare", admin, h.prepare)
	g.DELETE("/executions/:id", admin, h.release)
	g.GET("/nodes", h.nodes)
	g.POST("/inventory/publish", admin, h.publish)
	g.PUT("/storages/:id/credentials", admin, h.setCredentials)
	g.GET("/storages/:id/credentials", admin, h.getCredentials)
	g.DELETE("/storages/:id/credentials", admin, h.deleteCredentials)
}

// prepare godoc
//
//	@Summary		Prepare an execution's namespace
//	@Description	Makes sure the execution's namespace (oc-<id>, labelled with the execution and workflow ids and managed-by opencloud), the service account oc-workload the steps run as (bound to no Role, no token mounted), the service account oc-executor of Argo's executor with its token Secret oc-executor.service-account-token, the Role and RoleBinding granting oc-executor alone what Argo's executor needs (workflowtaskresults create/patch; pods get/watch/patch; pods/log get; get on the execution's S3 Secrets, by name), and, for each storage listed, an Opaque Secret oc-s3-<hash of peer/id> with keys accessKey and secretKey holding the storage's S3 credentials kept by PUT /storages/{id}/credentials, exist as expected. Safe to call again: what exists is kept, what drifted is put back, and each object says whether it was created, updated or unchanged (a Secret's value is never answered). Every storage is checked before anything is created: a storage of another peer is a 409 remote_storage (its credentials are that peer's to issue, and this peer does not obtain them), a storage without credentials a 409 storage_credentials_missing naming the route to call, and the details list every storage refused. A namespace of the same name that OpenCloud did not make for this execution, or one being deleted, is a 409. Needs the admin role.
//	@Tags			executions
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id		path		string						true	"Execution id (a UUID)"
//	@Param			body	body		datacenter.PrepareRequest	true	"The execution's workflow and storages"
//	@Success		200		{object}	datacenter.Prepared
//	@Failure		400		{object}	apierror.Envelope	"Invalid id, workflow_id or storages; details name the field"
//	@Failure		401		{object}	apierror.Envelope
//	@Failure		403		{object}	apierror.Envelope	"Not an admin"
//	@Failure		409		{object}	apierror.Envelope{error=apierror.Error{details=[]credentials.Refusal}}	"namespace_not_managed, workflow_mismatch, namespace_terminating; or remote_storage, storage_credentials_missing, storage_credentials_unreadable with the storages refused in details"
//	@Failure		502		{object}	apierror.Envelope	"The Kubernetes API failed"
//	@Failure		503		{object}	apierror.Envelope	"no_cluster: no kubeconfig configured; no_credentials_key: storages asked for and no OC_DATACENTER_CREDENTIALS_KEY"
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
	storages, err := credentials.CheckRefs(in.Storages, h.peerID)
	if err != nil {
		fail(c, err)
		return
	}
	if h.cluster == nil {
		fail(c, ErrNoCluster)
		return
	}
	// Refused before any object is made: nothing half-prepared.
	creds, err := credentials.ForExecution(c.Request.Context(), h.creds, h.peerID, storages)
	if err != nil {
		fail(c, err)
		return
	}
	secrets := make([]provision.S3Secret, len(creds))
	for i, cr := range creds {
		secrets[i] = provision.S3Secret{Storage: storages[i], AccessKey: cr.AccessKeyID, SecretKey: cr.SecretAccessKey}
	}
	out, err := h.cluster.Prepare(c.Request.Context(), id, in.WorkflowID, secrets)
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

// setCredentials godoc
//
//	@Summary		Set the S3 credentials of one of this peer's storages
//	@Description	Keeps the S3 credentials executions use for storage resource {id} of this peer's catalog (as the caller sees it): prepare puts them, as a Secret, in the namespace of each execution using the storage. Both keys are required, printable ASCII without spaces, the access key id at most 128 characters and the secret at most 256. The secret is stored encrypted (AES-256-GCM under OC_DATACENTER_CREDENTIALS_KEY) and never answered. Setting them again replaces them; setting the same ones changes nothing. Answers what may be shown: 201 when the storage had none, 200 otherwise. Needs the admin role.
//	@Tags			storages
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id		path		string								true	"Storage resource id"
//	@Param			body	body		datacenter.StorageCredentialsInput	true	"The credentials"
//	@Success		200		{object}	datacenter.StorageCredentials
//	@Success		201		{object}	datacenter.StorageCredentials
//	@Failure		400		{object}	apierror.Envelope	"Invalid id, access_key_id or secret_access_key (details name the field); not_a_storage: the resource is of another kind"
//	@Failure		401		{object}	apierror.Envelope
//	@Failure		403		{object}	apierror.Envelope	"Not an admin"
//	@Failure		404		{object}	apierror.Envelope	"No such resource in this peer's catalog"
//	@Failure		502		{object}	apierror.Envelope	"The catalog could not be asked"
//	@Failure		503		{object}	apierror.Envelope	"no_credentials_key: OC_DATACENTER_CREDENTIALS_KEY is not set"
//	@Router			/storages/{id}/credentials [put]
func (h *Handler) setCredentials(c *gin.Context) {
	p, ok := authn.FromContext(c.Request.Context())
	if !ok {
		fail(c, apierror.Unauthorized("send an access token in the Authorization: Bearer header"))
		return
	}
	id := c.Param("id")
	if err := credentials.CheckStorageID("id", id); err != nil {
		fail(c, err)
		return
	}
	var in datacenter.StorageCredentialsInput
	if err := server.DecodeJSON(c, &in); err != nil {
		fail(c, err)
		return
	}
	if err := credentials.Validate(in); err != nil {
		fail(c, err)
		return
	}
	if h.creds == nil {
		fail(c, ErrNoCredentialsKey)
		return
	}
	out, created, err := h.creds.Set(c.Request.Context(), h.catalog(p), id, in, p.Subject)
	if err != nil {
		fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, out)
}

// getCredentials godoc
//
//	@Summary		Show the S3 credentials kept for a storage
//	@Description	What may be shown of the credentials kept for storage {id}: the access key id, when and by whom they were set. Never the secret. Needs the admin role.
//	@Tags			storages
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id	path		string	true	"Storage resource id"
//	@Success		200	{object}	datacenter.StorageCredentials
//	@Failure		400	{object}	apierror.Envelope	"Invalid id"
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		403	{object}	apierror.Envelope	"Not an admin"
//	@Failure		404	{object}	apierror.Envelope	"No credentials kept for this storage"
//	@Failure		503	{object}	apierror.Envelope	"no_credentials_key: OC_DATACENTER_CREDENTIALS_KEY is not set"
//	@Router			/storages/{id}/credentials [get]
func (h *Handler) getCredentials(c *gin.Context) {
	id := c.Param("id")
	if err := credentials.CheckStorageID("id", id); err != nil {
		fail(c, err)
		return
	}
	if h.creds == nil {
		fail(c, ErrNoCredentialsKey)
		return
	}
	out, err := h.creds.Get(c.Request.Context(), id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

// deleteCredentials godoc
//
//	@Summary		Forget the S3 credentials of a storage
//	@Description	Removes the credentials kept for storage {id} (the storage may be gone from the catalog already). Executions prepared earlier keep their Secret until their namespace is released; preparing an execution using the storage is refused until credentials are set again. Needs the admin role.
//	@Tags			storages
//	@Security		BearerAuth
//	@Param			id	path	string	true	"Storage resource id"
//	@Success		204
//	@Failure		400	{object}	apierror.Envelope	"Invalid id"
//	@Failure		401	{object}	apierror.Envelope
//	@Failure		403	{object}	apierror.Envelope	"Not an admin"
//	@Failure		404	{object}	apierror.Envelope	"No credentials kept for this storage"
//	@Failure		503	{object}	apierror.Envelope	"no_credentials_key: OC_DATACENTER_CREDENTIALS_KEY is not set"
//	@Router			/storages/{id}/credentials [delete]
func (h *Handler) deleteCredentials(c *gin.Context) {
	id := c.Param("id")
	if err := credentials.CheckStorageID("id", id); err != nil {
		fail(c, err)
		return
	}
	if h.creds == nil {
		fail(c, ErrNoCredentialsKey)
		return
	}
	if err := h.creds.Delete(c.Request.Context(), id); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func fail(c *gin.Context, err error) {
	var ve *provision.ValidationError
	var ce *provision.ConflictError
	var ie *inventory.ValidationError
	var cve *credentials.ValidationError
	var re *credentials.RefusedError
	switch {
	case errors.As(err, &cve):
		server.Fail(c, apierror.Invalid(apierror.FieldError{Field: cve.Field, Problem: cve.Problem}))
	case errors.As(err, &re):
		server.Fail(c, apierror.Conflict(re.Code, re.Message, re.Refusals))
	case errors.Is(err, credentials.ErrNoKey):
		server.Fail(c, ErrNoCredentialsKey)
	case errors.Is(err, credentials.ErrNotFound):
		server.Fail(c, apierror.NotFound("no S3 credentials are kept for storage "+c.Param("id")+": set them with "+credentials.PutRoute(c.Param("id"))))
	case errors.Is(err, credentials.ErrUnknownStorage):
		server.Fail(c, apierror.NotFound("storage "+c.Param("id")+" is not in this peer's catalog (or you cannot see it): give the id of one of this peer's storage resources"))
	case errors.Is(err, credentials.ErrNotAStorage):
		server.Fail(c, apierror.BadRequest("not_a_storage", "resource "+c.Param("id")+" is not a storage: S3 credentials belong to storage resources"))
	case errors.Is(err, credentials.ErrCatalog):
		server.LoggerFrom(c).WarnContext(c.Request.Context(), "catalog call failed", "err", err)
		server.Fail(c, apierror.New(http.StatusBadGateway, "catalog_unavailable",
			"the catalog could not be read; try again when oc-catalog is up", nil))
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
