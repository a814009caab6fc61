// Package client is the typed Go client of the oc-catalog API, for other
// services, tools and end-to-end tests. Failures the API answers are
// *apierror.Error values carrying the HTTP status.
package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/resource"
)

// Prefix is where the catalog is served.
const Prefix = "/catalog"

// TokenSource returns the bearer token of the next call.
type TokenSource = apiclient.TokenSource

// StaticToken always returns tok.
func StaticToken(tok string) TokenSource { return apiclient.StaticToken(tok) }

// Client calls one catalog.
type Client struct{ c *apiclient.Client }

// New returns a client of the catalog at baseURL (the gateway or the
// service, without the /catalog prefix); hc nil uses a default client.
func New(baseURL string, tokens TokenSource, hc *http.Client) *Client {
	return &Client{c: apiclient.New(baseURL, tokens, hc)}
}

// ListOptions are the filters, order and page of a list. Zero values do not filter.
type ListOptions struct {
	Kind       resource.Kind
	Tags       []string // all must be present
	Owner      string   // a subject, or "me"
	Visibility resource.Visibility
	Query      string   // search words
	Sort       []string // e.g. "name", "-updated_at"
	Limit      int      // 0: the server's default
	Offset     int
}

func (o ListOptions) values() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("kind", string(o.Kind))
	for _, t := range o.Tags {
		v.Add("tag", t)
	}
	set("owner", o.Owner)
	set("visibility", string(o.Visibility))
	set("q", o.Query)
	set("sort", strings.Join(o.Sort, ","))
	if o.Limit != 0 {
		v.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Offset != 0 {
		v.Set("offset", strconv.Itoa(o.Offset))
	}
	return v
}

// Create creates a resource.
func (c *Client) Create(ctx context.Context, in resource.Input) (resource.Resource, error) {
	var r resource.Resource
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: Prefix + "/resources", Body: in}, &r)
	return r, err
}

// Get returns one resource.
func (c *Client) Get(ctx context.Context, id string) (resource.Resource, error) {
	var r resource.Resource
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: path(id)}, &r)
	return r, err
}

// List returns one page of the resources the caller may see.
func (c *Client) List(ctx context.Context, o ListOptions) (resource.Page, error) {
	var p resource.Page
	target := Prefix + "/resources"
	if q := o.values().Encode(); q != "" {
		target += "?" + q
	}
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: target}, &p)
	return p, err
}

// Update replaces the writable fields of resource id, provided its current
// version is version (a 409 *apierror.Error otherwise).
func (c *Client) Update(ctx context.Context, id string, version int64, in resource.Input) (resource.Resource, error) {
	var r resource.Resource
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPut, Path: path(id), Body: in,
		Header: apiclient.IfMatch(version)}, &r)
	return r, err
}

// Patch applies a JSON merge patch (any value that encodes to a JSON
// object) to resource id; version 0 applies it to the current version.
func (c *Client) Patch(ctx context.Context, id string, version int64, patch any) (resource.Resource, error) {
	var r resource.Resource
	h := apiclient.IfMatch(version)
	h["Content-Type"] = "application/merge-patch+json"
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPatch, Path: path(id), Body: patch, Header: h}, &r)
	return r, err
}

// Delete deletes resource id; version 0 deletes whatever version is current.
func (c *Client) Delete(ctx context.Context, id string, version int64) error {
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodDelete, Path: path(id), Header: apiclient.IfMatch(version)}, nil)
	return err
}

func path(id string) string { return Prefix + "/resources/" + url.PathEscape(id) }

// Lookup returns, in one call, the resources among ids (at most
// resource.MaxLookup) that the caller may see, and the ids it may not or
// that do not exist.
func (c *Client) Lookup(ctx context.Context, ids []string) (resource.LookupResult, error) {
	var r resource.LookupResult
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: Prefix + "/resources/lookup",
		Body: resource.Lookup{IDs: ids}}, &r)
	return r, err
}

// SearchOptions are the parameters of Search: those of a list, and the
// peers to ask (none: this peer and every partner).
type SearchOptions struct {
	ListOptions
	Peers []string
}

// Search asks this peer's catalog and its partners' at once (GET
// /catalog/search): each partner is waited for at most the peer's
// deadline, and the answer says per peer how it answered.
func (c *Client) Search(ctx context.Context, o SearchOptions) (resource.SearchResult, error) {
	var r resource.SearchResult
	v := o.values()
	for _, p := range o.Peers {
		v.Add("peer", p)
	}
	target := Prefix + "/search"
	if q := v.Encode(); q != "" {
		target += "?" + q
	}
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: target}, &r)
	return r, err
}
