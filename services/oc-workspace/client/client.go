// Package client is the typed Go client of oc-workspace's API, for other
// services (oc-workflow keeps its workflows' workspaces and checks area rules
// through it), tools and end-to-end tests. Failures the API answers are
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
	"github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/api"
)

// Prefix is where the service is served.
const Prefix = "/workspace"

// TokenSource returns the bearer token of the next call.
type TokenSource = apiclient.TokenSource

// StaticToken always returns tok.
func StaticToken(tok string) TokenSource { return apiclient.StaticToken(tok) }

// Client calls oc-workspace through the gateway or directly.
type Client struct{ c *apiclient.Client }

// New returns a client for the service at baseURL (the gateway's URL works;
// without the /workspace prefix); hc nil uses a default client.
func New(baseURL string, token TokenSource, hc *http.Client) *Client {
	return &Client{c: apiclient.New(baseURL, token, hc)}
}

// Ready returns nil when the service and its dependencies are ready.
func (c *Client) Ready(ctx context.Context) error { return c.c.Ready(ctx, Prefix) }

// ---- Workflow-owned workspaces and rule checks (used by oc-workflow) ----

// PutWorkflowWorkspace creates or replaces the workspace workflow
// workflowID owns. An update older than the stored one (by
// in.WorkflowVersion) is ignored and the stored workspace is returned.
func (c *Client) PutWorkflowWorkspace(ctx context.Context, workflowID string, in workspace.WorkflowWorkspace) (workspace.Workspace, error) {
	var w workspace.Workspace
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPut,
		Path: Prefix + "/workspaces/by-workflow/" + url.PathEscape(workflowID), Body: in}, &w)
	return w, err
}

// DeleteWorkflowWorkspace deletes the workspace workflow workflowID owns
// (a 404 *apierror.Error if it has none).
func (c *Client) DeleteWorkflowWorkspace(ctx context.Context, workflowID string) error {
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodDelete,
		Path: Prefix + "/workspaces/by-workflow/" + url.PathEscape(workflowID)}, nil)
	return err
}

// CheckWorkflow evaluates, without writing anything, the rules of every area
// holding in.WorkflowID on in.Usage.
func (c *Client) CheckWorkflow(ctx context.Context, in workspace.WorkflowCheck) (workspace.Report, error) {
	var r workspace.Report
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: Prefix + "/areas/check", Body: in}, &r)
	return r, err
}

// AreaListOptions are the filters, order and page of a list of areas. Zero
// values do not filter.
type AreaListOptions struct {
	Member      string // a subject, or "me"
	WorkflowID  string // areas sharing this workflow
	WorkspaceID string // areas sharing this workspace
	Resource    string // areas sharing this resource: "peer/id"
	Query       string // search words in the name
	Sort        []string
	Limit       int
	Offset      int
}

func (o AreaListOptions) values() url.Values {
	v := url.Values{}
	set(v, "member", o.Member)
	set(v, "workflow", o.WorkflowID)
	set(v, "workspace", o.WorkspaceID)
	set(v, "resource", o.Resource)
	set(v, "q", o.Query)
	set(v, "sort", strings.Join(o.Sort, ","))
	page(v, o.Limit, o.Offset)
	return v
}

// ListAreas returns one page of the areas the caller may see.
func (c *Client) ListAreas(ctx context.Context, o AreaListOptions) (workspace.AreaPage, error) {
	var p workspace.AreaPage
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: withQuery(Prefix+"/areas", o.values())}, &p)
	return p, err
}

// GetArea returns one area.
func (c *Client) GetArea(ctx context.Context, id string) (workspace.Area, error) {
	var a workspace.Area
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: areaPath(id)}, &a)
	return a, err
}

// ---- Workspaces ----

// WorkspaceListOptions are the filters, order and page of a list of
// workspaces. Zero values do not filter.
type WorkspaceListOptions struct {
	Query      string // words of the name
	WorkflowID string // the workspace this workflow owns
	AreaID     string // workspaces shared in this area
	Owner      string // a subject, or "me"
	Sort       []string
	Limit      int
	Offset     int
}

func (o WorkspaceListOptions) values() url.Values {
	v := url.Values{}
	set(v, "q", o.Query)
	set(v, "workflow", o.WorkflowID)
	set(v, "area", o.AreaID)
	set(v, "owner", o.Owner)
	set(v, "sort", strings.Join(o.Sort, ","))
	page(v, o.Limit, o.Offset)
	return v
}

// CreateWorkspace creates a workspace owned by the caller.
func (c *Client) CreateWorkspace(ctx context.Context, in workspace.Input) (workspace.Workspace, error) {
	return c.CreateWorkspaceOnce(ctx, "", in)
}

// CreateWorkspaceOnce creates a workspace with an Idempotency-Key: sent
// again with the same key and body, it creates nothing new and answers the
// first workspace. key "" sends none.
func (c *Client) CreateWorkspaceOnce(ctx context.Context, key string, in workspace.Input) (workspace.Workspace, error) {
	var w workspace.Workspace
	h := map[string]string{}
	if key != "" {
		h["Idempotency-Key"] = key
	}
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: Prefix + "/workspaces", Body: in, Header: h}, &w)
	return w, err
}

// ListWorkspaces returns one page of the workspaces the caller may see.
func (c *Client) ListWorkspaces(ctx context.Context, o WorkspaceListOptions) (workspace.Page, error) {
	var p workspace.Page
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: withQuery(Prefix+"/workspaces", o.values())}, &p)
	return p, err
}

// GetWorkspace returns one workspace.
func (c *Client) GetWorkspace(ctx context.Context, id string) (workspace.Workspace, error) {
	var w workspace.Workspace
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: workspacePath(id)}, &w)
	return w, err
}

// WorkspaceResources returns one page of the workspace's resources resolved
// through the catalog; those that cannot be resolved have Available false.
// limit 0 is the server's default.
func (c *Client) WorkspaceResources(ctx context.Context, id string, limit, offset int) (workspace.ResolvedPage, error) {
	var p workspace.ResolvedPage
	v := url.Values{}
	page(v, limit, offset)
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: withQuery(workspacePath(id)+"/resources", v)}, &p)
	return p, err
}

// UpdateWorkspace replaces workspace id's name, description and resources,
// provided its current version is version (a 409 *apierror.Error otherwise).
func (c *Client) UpdateWorkspace(ctx context.Context, id string, version int64, in workspace.Input) (workspace.Workspace, error) {
	var w workspace.Workspace
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPut, Path: workspacePath(id), Body: in,
		Header: apiclient.IfMatch(version)}, &w)
	return w, err
}

// DeleteWorkspace deletes workspace id; version 0 deletes whatever is current.
func (c *Client) DeleteWorkspace(ctx context.Context, id string, version int64) error {
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodDelete, Path: workspacePath(id),
		Header: apiclient.IfMatch(version)}, nil)
	return err
}

// AddResource adds ref to workspace id (a no-op if it is there already).
func (c *Client) AddResource(ctx context.Context, id string, ref resource.Ref) (workspace.Workspace, error) {
	var w workspace.Workspace
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: workspacePath(id) + "/resources", Body: ref}, &w)
	return w, err
}

// RemoveResource removes ref from workspace id (a 404 if it is not there).
func (c *Client) RemoveResource(ctx context.Context, id string, ref resource.Ref) (workspace.Workspace, error) {
	var w workspace.Workspace
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodDelete,
		Path: workspacePath(id) + "/resources/" + url.PathEscape(ref.Peer) + "/" + url.PathEscape(ref.ID)}, &w)
	return w, err
}

// ---- Collaborative areas ----

// CreateArea creates an area; the caller becomes its first admin member.
func (c *Client) CreateArea(ctx context.Context, in workspace.AreaInput) (workspace.Area, error) {
	var a workspace.Area
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: Prefix + "/areas", Body: in}, &a)
	return a, err
}

// UpdateArea changes area id's name and description, provided its current
// version is version.
func (c *Client) UpdateArea(ctx context.Context, id string, version int64, in workspace.AreaInput) (workspace.Area, error) {
	var a workspace.Area
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPut, Path: areaPath(id), Body: in,
		Header: apiclient.IfMatch(version)}, &a)
	return a, err
}

// DeleteArea deletes area id; version 0 deletes whatever is current.
func (c *Client) DeleteArea(ctx context.Context, id string, version int64) error {
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodDelete, Path: areaPath(id),
		Header: apiclient.IfMatch(version)}, nil)
	return err
}

// AddMember adds (or changes the admin flag of) a user member.
func (c *Client) AddMember(ctx context.Context, id, subject string, admin bool) (workspace.Area, error) {
	return c.areaCall(ctx, http.MethodPost, areaPath(id)+"/members", api.MemberInput{Subject: subject, Admin: admin})
}

// RemoveMember removes a user member.
func (c *Client) RemoveMember(ctx context.Context, id, subject string) (workspace.Area, error) {
	return c.areaCall(ctx, http.MethodDelete, areaPath(id)+"/members/"+url.PathEscape(subject), nil)
}

// AddPeer adds a member peer.
func (c *Client) AddPeer(ctx context.Context, id, peer string) (workspace.Area, error) {
	return c.areaCall(ctx, http.MethodPost, areaPath(id)+"/peers", api.PeerInput{Peer: peer})
}

// RemovePeer removes a member peer.
func (c *Client) RemovePeer(ctx context.Context, id, peer string) (workspace.Area, error) {
	return c.areaCall(ctx, http.MethodDelete, areaPath(id)+"/peers/"+url.PathEscape(peer), nil)
}

// Share shares a workspace, workflow or resource in area id. An item
// breaking one of the area's rules is refused with a 409 rule_broken whose
// details are the violations.
func (c *Client) Share(ctx context.Context, id string, kind workspace.SharedKind, ref resource.Ref) (workspace.Area, error) {
	return c.areaCall(ctx, http.MethodPost, areaPath(id)+"/shared", api.ShareInput{Kind: kind, Ref: ref})
}

// Unshare removes a shared item from area id.
func (c *Client) Unshare(ctx context.Context, id string, kind workspace.SharedKind, ref resource.Ref) (workspace.Area, error) {
	return c.areaCall(ctx, http.MethodDelete, areaPath(id)+"/shared/"+url.PathEscape(string(kind))+"/"+
		url.PathEscape(ref.Peer)+"/"+url.PathEscape(ref.ID), nil)
}

// SetRules replaces area id's rule book, provided its current version is
// version, and reports what the area holds that breaks the new rules.
func (c *Client) SetRules(ctx context.Context, id string, version int64, rules []workspace.Rule) (workspace.RulesResult, error) {
	var r workspace.RulesResult
	if rules == nil {
		rules = []workspace.Rule{}
	}
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodPut, Path: areaPath(id) + "/rules",
		Body: api.RulesInput{Rules: rules}, Header: apiclient.IfMatch(version)}, &r)
	return r, err
}

// Violations re-checks everything area id holds against its rules now.
func (c *Client) Violations(ctx context.Context, id string) (workspace.Report, error) {
	var r workspace.Report
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: areaPath(id) + "/violations"}, &r)
	return r, err
}

// History returns one page of area id's changes, newest first.
func (c *Client) History(ctx context.Context, id string, limit, offset int) (workspace.OpPage, error) {
	var p workspace.OpPage
	v := url.Values{}
	page(v, limit, offset)
	_, err := c.c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: withQuery(areaPath(id)+"/history", v)}, &p)
	return p, err
}

func (c *Client) areaCall(ctx context.Context, method, path string, body any) (workspace.Area, error) {
	var a workspace.Area
	_, err := c.c.Do(ctx, apiclient.Request{Method: method, Path: path, Body: body}, &a)
	return a, err
}

func workspacePath(id string) string { return Prefix + "/workspaces/" + url.PathEscape(id) }
func areaPath(id string) string      { return Prefix + "/areas/" + url.PathEscape(id) }

func set(v url.Values, k, val string) {
	if val != "" {
		v.Set(k, val)
	}
}

func page(v url.Values, limit, offset int) {
	if limit != 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	if offset != 0 {
		v.Set("offset", strconv.Itoa(offset))
	}
}

func withQuery(path string, v url.Values) string {
	if q := v.Encode(); q != "" {
		return path + "?" + q
	}
	return path
}
