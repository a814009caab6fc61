// Package workflows reads workflows from oc-workflow, with the caller's own
// token, so that oc-workflow applies its access rules. It decodes the wire
// type of libs/workflow and needs nothing else of oc-workflow.
package workflows

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/workflow"

	"github.com/opencloud/opencloud/services/oc-workspace/internal/errs"
)

// Fetcher returns the workflow id as the holder of token sees it:
// errs.ErrNotFound (wrapped) when it does not exist or is not visible.
type Fetcher interface {
	Get(ctx context.Context, token, id string) (workflow.Workflow, error)
}

// HTTP fetches workflows at GatewayURL/workflow/workflows/{id}.
type HTTP struct {
	GatewayURL string
	Client     *http.Client
}

// Get implements Fetcher.
func (h *HTTP) Get(ctx context.Context, token, id string) (workflow.Workflow, error) {
	var w workflow.Workflow
	c := apiclient.New(h.GatewayURL, apiclient.StaticToken(token), h.Client)
	_, err := c.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: "/workflow/workflows/" + url.PathEscape(id)}, &w)
	switch apiclient.Status(err) {
	case 0:
		if err != nil {
			return w, fmt.Errorf("fetch workflow %s: %w", id, err)
		}
		return w, nil
	case http.StatusNotFound, http.StatusForbidden:
		return w, fmt.Errorf("workflow %s: %w", id, errs.NotFound("workflow"))
	}
	return w, fmt.Errorf("fetch workflow %s: %w", id, err)
}
