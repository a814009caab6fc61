package workflow

import (
	"context"
	"fmt"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/resource"
)

// CatalogResolver resolves this peer's references through the local catalog,
// a batch of resource.MaxLookup ids per call, with the caller's visibility.
// Other peers' references cannot be resolved until federation is
// configured: they are reported unavailable.
type CatalogResolver struct {
	Catalog Catalog
	PeerID  string
}

var _ Resolver = CatalogResolver{}

// Resolve implements Resolver.
func (r CatalogResolver) Resolve(ctx context.Context, p authn.Principal, refs []resource.Ref) (map[resource.Ref]Fact, error) {
	out := make(map[resource.Ref]Fact, len(refs))
	local := make([]string, 0, len(refs))
	for _, ref := range refs {
		if ref.Peer != r.PeerID {
			out[ref] = Fact{Unavailable: fmt.Sprintf("peer %q is not reachable from this peer yet (federation is not configured)", ref.Peer)}
			continue
		}
		if _, seen := out[ref]; !seen {
			out[ref] = Fact{}
			local = append(local, ref.ID)
		}
	}
	for start := 0; start < len(local); start += resource.MaxLookup {
		batch := local[start:min(start+resource.MaxLookup, len(local))]
		res, err := r.Catalog.Lookup(ctx, p, batch)
		if err != nil {
			return nil, fmt.Errorf("look resources up in the catalog: %w", err)
		}
		for _, found := range res.Items {
			out[resource.Ref{Peer: r.PeerID, ID: found.ID}] = Fact{Found: true, Kind: found.Kind}
		}
	}
	return out, nil
}
