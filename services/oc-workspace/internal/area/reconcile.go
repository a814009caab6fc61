package area

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/opencloud/opencloud/libs/workflow"
	wire "github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/internal/errs"
)

// Reconciler is who the changes found by Reconcile are stamped by: it
// learns that an item changed, not who changed it.
const Reconciler = "oc-workspace"

// reconcilePage is how many areas Reconcile reads at once.
const reconcilePage = 500

// Reconciled is what one Reconcile did.
type Reconciled struct {
	Workflows  int // this peer's workflows the areas share, read again
	Workspaces int // this peer's workspaces the areas share, read again
}

// Reconcile brings the workflows and workspaces shared in every area in step
// with their owners: the changes whose event or in-process update was lost
// (a broker outage, a crash) are applied, and the items whose source is
// gone are removed. Workflows are read from oc-workflow with token, which
// must see every workflow (the services' own admin identity); token ""
// leaves them as they are. An item whose source cannot be read now is left
// as it is and counted in the error.
func (s *Service) Reconcile(ctx context.Context, token string) (Reconciled, error) {
	var done Reconciled
	var workflowIDs, workspaceIDs []string
	// Pages, so that many areas are not all in memory at once; an area
	// created meanwhile is taken by the next round.
	for offset := 0; ; offset += reconcilePage {
		recs, _, err := s.repo.Find(ctx, Query{Sort: []Sort{{Field: SortCreatedAt}}, Limit: reconcilePage, Offset: offset})
		if err != nil {
			return done, fmt.Errorf("reconcile areas: %w", err)
		}
		for _, r := range recs {
			for _, it := range r.Items {
				if it.Ref.Peer != s.peerID {
					continue
				}
				switch it.Kind {
				case wire.SharedWorkflow:
					workflowIDs = append(workflowIDs, it.Ref.ID)
				case wire.SharedWorkspace:
					workspaceIDs = append(workspaceIDs, it.Ref.ID)
				}
			}
		}
		if len(recs) < reconcilePage {
			break
		}
	}
	slices.Sort(workflowIDs)
	slices.Sort(workspaceIDs)
	var failed []error
	if token != "" {
		for _, id := range slices.Compact(workflowIDs) {
			if ctx.Err() != nil {
				return done, ctx.Err()
			}
			w, err := s.workflows.Get(ctx, token, id)
			gone := errors.Is(err, errs.ErrNotFound)
			if err != nil && !gone {
				failed = append(failed, err)
				continue
			}
			if gone {
				w = workflow.Workflow{ID: id}
			}
			if err := s.WorkflowChanged(ctx, Reconciler, w, gone); err != nil {
				failed = append(failed, err)
				continue
			}
			done.Workflows++
		}
	}
	for _, id := range slices.Compact(workspaceIDs) {
		if ctx.Err() != nil {
			return done, ctx.Err()
		}
		w, err := s.workspaces.Stored(ctx, id)
		gone := errors.Is(err, errs.ErrNotFound)
		if err != nil && !gone {
			failed = append(failed, fmt.Errorf("workspace %s: %w", id, err))
			continue
		}
		if gone {
			w = wire.Workspace{ID: id}
		}
		if err := s.WorkspaceChanged(ctx, Reconciler, w, gone); err != nil {
			failed = append(failed, err)
			continue
		}
		done.Workspaces++
	}
	if len(failed) > 0 {
		return done, fmt.Errorf("reconcile areas: %d items not read: %w", len(failed), errors.Join(failed...))
	}
	return done, nil
}
