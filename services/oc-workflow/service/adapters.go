package service

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/workspace"

	catalogclient "github.com/opencloud/opencloud/services/oc-catalog/client"
	"github.com/opencloud/opencloud/services/oc-workflow/internal/workflow"
	workspaceclient "github.com/opencloud/opencloud/services/oc-workspace/client"
)

// remoteErr maps another service's failure to the domain's conventions: a
// 404 is workflow.ErrGone, an unreachable or failing service
// workflow.ErrUnavailable, and any other refusal stays the *apierror.Error
// the service answered, for the caller to read.
func remoteErr(service string, err error) error {
	if err == nil {
		return nil
	}
	var ae *apierror.Error
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		return fmt.Errorf("%s: %w (%w)", service, workflow.ErrGone, err)
	case errors.As(err, &ae) && ae.Status < 500:
		return ae
	}
	return fmt.Errorf("%s: %w (%w)", service, workflow.ErrUnavailable, err)
}

// catalogAdapter calls oc-catalog through the gateway with the caller's token.
type catalogAdapter struct {
	base string
	hc   *http.Client
}

var _ workflow.Catalog = catalogAdapter{}

func (a catalogAdapter) client(p authn.Principal) *catalogclient.Client {
	return catalogclient.New(a.base, catalogclient.StaticToken(p.Token), a.hc)
}

func (a catalogAdapter) Lookup(ctx context.Context, p authn.Principal, ids []string) (resource.LookupResult, error) {
	r, err := a.client(p).Lookup(ctx, ids)
	return r, remoteErr("catalog", err)
}

func (a catalogAdapter) Get(ctx context.Context, p authn.Principal, id string) (resource.Resource, error) {
	r, err := a.client(p).Get(ctx, id)
	return r, remoteErr("catalog", err)
}

func (a catalogAdapter) Create(ctx context.Context, p authn.Principal, in resource.Input) (resource.Resource, error) {
	r, err := a.client(p).Create(ctx, in)
	return r, remoteErr("catalog", err)
}

func (a catalogAdapter) Update(ctx context.Context, p authn.Principal, id string, version int64, in resource.Input) (resource.Resource, error) {
	r, err := a.client(p).Update(ctx, id, version, in)
	return r, remoteErr("catalog", err)
}

// workspaceAdapter calls oc-workspace through the gateway with the caller's token.
type workspaceAdapter struct {
	base string
	hc   *http.Client
}

var _ workflow.Workspaces = workspaceAdapter{}

func (a workspaceAdapter) client(p authn.Principal) *workspaceclient.Client {
	return workspaceclient.New(a.base, workspaceclient.StaticToken(p.Token), a.hc)
}

func (a workspaceAdapter) PutWorkflowWorkspace(ctx context.Context, p authn.Principal, workflowID string, in workspace.WorkflowWorkspace) (workspace.Workspace, error) {
	w, err := a.client(p).PutWorkflowWorkspace(ctx, workflowID, in)
	return w, remoteErr("workspace", err)
}

func (a workspaceAdapter) DeleteWorkflowWorkspace(ctx context.Context, p authn.Principal, workflowID string) error {
	return remoteErr("workspace", a.client(p).DeleteWorkflowWorkspace(ctx, workflowID))
}

func (a workspaceAdapter) CheckWorkflow(ctx context.Context, p authn.Principal, in workspace.WorkflowCheck) (workspace.Report, error) {
	r, err := a.client(p).CheckWorkflow(ctx, in)
	if err != nil {
		// A refusal of the check is not the caller's to fix: the rules
		// cannot be verified, so nothing is saved.
		var ae *apierror.Error
		if errors.As(err, &ae) && ae.Status < 500 {
			return r, fmt.Errorf("workspace: area rules check refused: %w (%w)", workflow.ErrUnavailable, err)
		}
	}
	return r, remoteErr("workspace", err)
}

func (a workspaceAdapter) HoldsWorkflow(ctx context.Context, p authn.Principal, workflowID string) (bool, error) {
	page, err := a.client(p).ListAreas(ctx, workspaceclient.AreaListOptions{Member: "me", WorkflowID: workflowID, Limit: 1})
	if err != nil {
		return false, remoteErr("workspace", err)
	}
	return page.Total > 0, nil
}

func (a workspaceAdapter) AreaWorkflows(ctx context.Context, p authn.Principal, areaID string) ([]resource.Ref, error) {
	area, err := a.client(p).GetArea(ctx, areaID)
	if err != nil {
		return nil, remoteErr("workspace", err)
	}
	var refs []resource.Ref
	for _, s := range area.Shared {
		if s.Kind == workspace.SharedWorkflow {
			refs = append(refs, s.Ref)
		}
	}
	return refs, nil
}
