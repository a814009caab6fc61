// Package migrate brings the catalog's stored resources up to date with
// this peer's identity when the service starts.
package migrate

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/rewrite"

	"github.com/opencloud/opencloud/services/oc-catalog/internal/catalog"
	catalogstore "github.com/opencloud/opencloud/services/oc-catalog/internal/store"
)

// LocalPeer is the id every peer went by before it had a peer id of its
// own; a resource stamped with it, or with no peer at all, is this peer's.
const LocalPeer = "local"

// LocalPeerIDs stamps self on the resources whose peer_id is LocalPeer or
// empty, and returns how many it changed. It does nothing when self is
// itself LocalPeer or empty. Two processes starting together stamp each
// resource once between them, and a second run changes nothing.
func LocalPeerIDs(ctx context.Context, st store.Store, self string, log *slog.Logger) (int, error) {
	if self == "" || self == LocalPeer {
		return 0, nil
	}
	repo, err := catalogstore.Open(ctx, st)
	if err != nil {
		return 0, err
	}
	stamp := func(r *resource.Resource) bool {
		if r.PeerID != "" && r.PeerID != LocalPeer {
			return false
		}
		r.PeerID = self
		return true
	}
	changed, err := rewrite.All(ctx, func(ctx context.Context, limit, offset int) ([]resource.Resource, error) {
		page, _, err := repo.Find(ctx, catalog.Query{Viewer: catalog.Viewer{All: true}, Limit: limit, Offset: offset})
		return page, err
	}, func(ctx context.Context, listed resource.Resource) (resource.Resource, int64, error) {
		r, err := repo.Get(ctx, listed.ID)
		return r, r.Version, err
	}, stamp, func(ctx context.Context, r resource.Resource, version int64) error {
		_, err := repo.Replace(ctx, r, version)
		return err
	})
	if err != nil {
		return changed, fmt.Errorf("stamp this peer's id on its resources: %w", err)
	}
	if changed > 0 {
		log.InfoContext(ctx, "resources stamped with this peer's id", "peer_id", self, "resources", changed)
	}
	return changed, nil
}
