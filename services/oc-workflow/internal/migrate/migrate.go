// Package migrate brings the stored workflows up to date with this peer's
// identity when the service starts.
package migrate

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/rewrite"
	wf "github.com/opencloud/opencloud/libs/workflow"

	workflowstore "github.com/opencloud/opencloud/services/oc-workflow/internal/store"
	"github.com/opencloud/opencloud/services/oc-workflow/internal/workflow"
)

// LocalPeer is the id every peer went by before it had a peer id of its
// own; a node referencing a resource of that peer, or of no peer at all,
// references one of this peer's.
const LocalPeer = "local"

// LocalPeerIDs makes every graph node referencing a resource of LocalPeer
// or of no peer reference it on self, and returns how many workflows it
// changed. It does nothing when self is itself LocalPeer or empty. Two
// processes starting together change each workflow once between them, and
// a second run changes nothing. A workflow whose workspace was in step
// stays so: oc-workspace rewrites the workspace's references alike.
func LocalPeerIDs(ctx context.Context, st store.Store, self string, log *slog.Logger) (int, error) {
	if self == "" || self == LocalPeer {
		return 0, nil
	}
	repo, err := workflowstore.Open(ctx, st)
	if err != nil {
		return 0, err
	}
	fix := func(w *wf.Workflow) bool { return graph(&w.Graph, self) }
	changed, err := rewrite.All(ctx, func(ctx context.Context, limit, offset int) ([]wf.Workflow, error) {
		page, _, err := repo.Find(ctx, workflow.Query{Limit: limit, Offset: offset})
		return page, err
	}, func(ctx context.Context, listed wf.Workflow) (wf.Workflow, int64, error) {
		w, err := repo.Get(ctx, listed.ID)
		return w, w.Version, err
	}, fix, func(ctx context.Context, w wf.Workflow, version int64) error {
		synced, err := repo.Synced(ctx, []string{w.ID})
		if err != nil {
			return err
		}
		v, err := repo.Replace(ctx, w, version)
		if err != nil {
			return err
		}
		// The workspace holds what the graph uses, rewritten alike by
		// oc-workspace: in step before, it is still.
		if s, ok := synced[w.ID]; ok && s.WorkspaceID != "" && s.Version >= version {
			return repo.MarkSynced(ctx, w.ID, workflow.Sync{WorkspaceID: s.WorkspaceID, Version: v})
		}
		return nil
	})
	if err != nil {
		return changed, fmt.Errorf("reference this peer's resources by its id in workflows: %w", err)
	}
	if changed > 0 {
		log.InfoContext(ctx, "workflows now reference this peer's resources by its id", "peer_id", self, "workflows", changed)
	}
	return changed, nil
}

// graph makes the nodes of g that reference a resource of LocalPeer or of
// no peer reference it on self, and reports whether there was one.
func graph(g *wf.Graph, self string) bool {
	changed := false
	for i := range g.Nodes {
		if p := &g.Nodes[i].Resource.Peer; *p == "" || *p == LocalPeer {
			*p, changed = self, true
		}
	}
	return changed
}
