// Package client is the typed Go client of oc-datacenter's API.
package client

import (
	"context"
	"net/http"

	"github.com/opencloud/opencloud/libs/apiclient"
)

// Client calls oc-datacenter through the gateway or directly.
type Client struct{ c *apiclient.Client }

// New returns a client for the service at baseURL (the gateway's URL works).
func New(baseURL string, token apiclient.TokenSource, hc *http.Client) *Client {
	return &Client{c: apiclient.New(baseURL, token, hc)}
}

// Ready returns nil when the service and its dependencies are ready.
func (c *Client) Ready(ctx context.Context) error { return c.c.Ready(ctx, "/datacenter") }
