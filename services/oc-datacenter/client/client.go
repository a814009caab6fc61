// Package client is the typed Go client of oc-datacenter's API. Failures
// the API answers are *apierror.Error values carrying the HTTP status (503
// no_cluster on a peer without a Kubernetes cluster).
package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/opencloud/opencloud/libs/apiclient"

	"github.com/opencloud/opencloud/services/oc-datacenter/datacenter"
)

// Prefix is where the service is served.
const Prefix = "/datacenter"

// TokenSource returns the bearer token of the next call.
type TokenSource = apiclient.TokenSource

// StaticToken always returns tok.
func StaticToken(tok string) TokenSource { return apiclient.StaticToken(tok) }

// Client calls oc-datacenter through the gateway or directly.
type Client struct{ c *apiclient.Client }

// New returns a client for the service at baseURL (the gateway's URL works).
func New(baseURL string, token TokenSource, hc *http.Client) *Client {
	return &Client{c: apiclient.New(baseURL, token, hc)}
}

// Ready returns nil when the service and its dependencies (the cluster
// among them) are ready.
func (c *Client) Ready(ctx context.Context) error { return c.c.Ready(ctx, Prefix) }

// Prepare makes sure execution executionID of workflow workflowID has its
// namespace, service accounts, Role and RoleBinding (admin role); an
// execution using storages needs PrepareWith.
func (c *Client) Prepare(ctx context.Context, executionID, workflowID string) (datacenter.Prepared, error) {
	var out datacenter.Prepared
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPost,
		Path: Prefix + "/executions/" + url.PathEscape(executionID) + "/prepare",
		Body: datacenter.PrepareRequest{WorkflowID: workflowID}}, &out)
	return out, err
}

// Release deletes the execution's namespace (admin role); releasing twice is fine.
func (c *Client) Release(ctx context.Context, executionID string) error {
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodDelete,
		Path: Prefix + "/executions/" + url.PathEscape(executionID)}, nil)
	return err
}

// Nodes lists the cluster's nodes.
func (c *Client) Nodes(ctx context.Context) (datacenter.NodeList, error) {
	var out datacenter.NodeList
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: Prefix + "/nodes"}, &out)
	return out, err
}

// PublishInventory publishes the cluster's nodes as compute resources in
// the catalog, acting as the caller (admin role).
func (c *Client) PublishInventory(ctx context.Context, req datacenter.PublishRequest) (datacenter.PublishResult, error) {
	var out datacenter.PublishResult
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: Prefix + "/inventory/publish", Body: req}, &out)
	return out, err
}

// PrepareWith is Prepare with the whole request: the execution's storages
// get a Secret of their S3 credentials in its namespace (admin role).
func (c *Client) PrepareWith(ctx context.Context, executionID string, req datacenter.PrepareRequest) (datacenter.Prepared, error) {
	var out datacenter.Prepared
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPost,
		Path: Prefix + "/executions/" + url.PathEscape(executionID) + "/prepare", Body: req}, &out)
	return out, err
}

func credentialsPath(storageID string) string {
	return Prefix + "/storages/" + url.PathEscape(storageID) + "/credentials"
}

// SetStorageCredentials sets the S3 credentials executions use for this
// peer's storage storageID (admin role); setting them again replaces them.
func (c *Client) SetStorageCredentials(ctx context.Context, storageID string, in datacenter.StorageCredentialsInput) (datacenter.StorageCredentials, error) {
	var out datacenter.StorageCredentials
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPut, Path: credentialsPath(storageID), Body: in}, &out)
	return out, err
}

// StorageCredentials returns what may be shown of a storage's credentials:
// never the secret (admin role).
func (c *Client) StorageCredentials(ctx context.Context, storageID string) (datacenter.StorageCredentials, error) {
	var out datacenter.StorageCredentials
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: credentialsPath(storageID)}, &out)
	return out, err
}

// DeleteStorageCredentials forgets a storage's credentials (admin role).
func (c *Client) DeleteStorageCredentials(ctx context.Context, storageID string) error {
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodDelete, Path: credentialsPath(storageID)}, nil)
	return err
}
