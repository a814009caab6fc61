// Package client is the typed Go client of the oc-workflow API, for other
// services, tools and end-to-end tests. Failures the API answers are
// *apierror.Error values carrying the HTTP status.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/workflow"
)

// Prefix is where oc-workflow is served.
const Prefix = "/workflow"

// TokenSource returns the bearer token of the next call.
type TokenSource = apiclient.TokenSource

// StaticToken always returns tok.
func StaticToken(tok string) TokenSource { return apiclient.StaticToken(tok) }

// Client calls one oc-workflow.
type Client struct{ c *apiclient.Client }

// New returns a client of the service at baseURL (the gateway or the
// service, without the /workflow prefix); hc nil uses a default client.
func New(baseURL string, tokens TokenSource, hc *http.Client) *Client {
	return &Client{c: apiclient.New(baseURL, tokens, hc)}
}

// Ready returns nil when the service and its dependencies are ready.
func (c *Client) Ready(ctx context.Context) error { return c.c.Ready(ctx, Prefix) }

// ListOptions are the filters, order and page of a list. Zero values do not filter.
type ListOptions struct {
	Query  string   // search words in the name and description
	Tags   []string // all must be present
	Owner  string   // a subject, or "me"
	Area   string   // workflows shared in this collaborative area
	Uses   *resource.Ref
	Sort   []string // e.g. "name", "-updated_at"
	Limit  int      // 0: the server's default
	Offset int
}

func (o ListOptions) values() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("q", o.Query)
	for _, t := range o.Tags {
		v.Add("tag", t)
	}
	set("owner", o.Owner)
	set("area", o.Area)
	if o.Uses != nil {
		v.Set("uses", o.Uses.String())
	}
	set("sort", strings.Join(o.Sort, ","))
	if o.Limit != 0 {
		v.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Offset != 0 {
		v.Set("offset", strconv.Itoa(o.Offset))
	}
	return v
}

// Create validates and creates a workflow; an invalid one is a 400
// *apierror.Error with code invalid_workflow whose Details decode as a
// workflow.Validation (see Problems).
func (c *Client) Create(ctx context.Context, in workflow.Input) (workflow.Workflow, error) {
	var w workflow.Workflow
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: Prefix + "/workflows", Body: in}, &w)
	return w, err
}

// Get returns one workflow.
func (c *Client) Get(ctx context.Context, id string) (workflow.Workflow, error) {
	var w workflow.Workflow
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: path(id)}, &w)
	return w, err
}

// List returns one page of the workflows the caller may see.
func (c *Client) List(ctx context.Context, o ListOptions) (workflow.Page, error) {
	var p workflow.Page
	target := Prefix + "/workflows"
	if q := o.values().Encode(); q != "" {
		target += "?" + q
	}
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: target}, &p)
	return p, err
}

// Update replaces workflow id, provided its current version is version.
func (c *Client) Update(ctx context.Context, id string, version int64, in workflow.Input) (workflow.Workflow, error) {
	var w workflow.Workflow
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPut, Path: path(id), Body: in,
		Header: apiclient.IfMatch(version)}, &w)
	return w, err
}

// Delete deletes workflow id; version 0 deletes whatever version is current.
func (c *Client) Delete(ctx context.Context, id string, version int64) error {
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodDelete, Path: path(id), Header: apiclient.IfMatch(version)}, nil)
	return err
}

// Validate checks in without saving it; workflowID, if not "", adds the
// rules of the collaborative areas sharing that workflow.
func (c *Client) Validate(ctx context.Context, in workflow.Input, workflowID string) (workflow.Validation, error) {
	var v workflow.Validation
	target := Prefix + "/workflows/validate"
	if workflowID != "" {
		target += "?" + url.Values{"workflow_id": {workflowID}}.Encode()
	}
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: target, Body: in}, &v)
	return v, err
}

// Duplicate copies workflow id as a new workflow of the caller's; name ""
// names it "<name> (copy)".
func (c *Client) Duplicate(ctx context.Context, id, name string) (workflow.Workflow, error) {
	body := map[string]string{}
	if name != "" {
		body["name"] = name
	}
	var w workflow.Workflow
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: path(id) + "/duplicate", Body: body}, &w)
	return w, err
}

// Export returns workflow id in portable form.
func (c *Client) Export(ctx context.Context, id string) (workflow.Export, error) {
	var ex workflow.Export
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: path(id) + "/export"}, &ex)
	return ex, err
}

// Import creates a workflow of the caller's from an export.
func (c *Client) Import(ctx context.Context, ex workflow.Export) (workflow.Workflow, error) {
	var w workflow.Workflow
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: Prefix + "/workflows/import", Body: ex}, &w)
	return w, err
}

// Publish offers workflow id in the catalog and returns the catalog resource.
func (c *Client) Publish(ctx context.Context, id string, pub workflow.Publish) (resource.Resource, error) {
	var r resource.Resource
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: path(id) + "/publish", Body: pub}, &r)
	return r, err
}

func path(id string) string { return Prefix + "/workflows/" + url.PathEscape(id) }

// Problems returns the validation carried by an invalid_workflow error
// (false for any other error).
func Problems(err error) (workflow.Validation, bool) {
	var ae *apierror.Error
	if !errors.As(err, &ae) || ae.Code != "invalid_workflow" {
		return workflow.Validation{}, false
	}
	raw, err := json.Marshal(ae.Details)
	if err != nil {
		return workflow.Validation{}, false
	}
	var v workflow.Validation
	if json.Unmarshal(raw, &v) != nil {
		return workflow.Validation{}, false
	}
	return v, true
}
