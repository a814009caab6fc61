package workflow

import (
	"context"
	"fmt"
	"sync"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/resource"
)

// CatalogResolver resolves this peer's references through the local
// catalog, a batch of resource.MaxLookup ids per call, and other peers'
// at those peers through Remote, at the same time, all with the caller's
// visibility. A resource a peer says it does not hold is not found, like a
// local one; a peer that cannot answer leaves its references unavailable.
type CatalogResolver struct {
	Catalog Catalog
	PeerID  string
	Remote  *federation.Lookups
}

var _ Resolver = CatalogResolver{}

// Resolve implements Resolver. Only a failure of the local catalog is an
// error.
func (r CatalogResolver) Resolve(ctx context.Context, p authn.Principal, refs []resource.Ref) (map[resource.Ref]Fact, error) {
	out := make(map[resource.Ref]Fact, len(refs))
	local := make([]string, 0, len(refs))
	var far []resource.Ref
	for _, ref := range refs {
		if _, seen := out[ref]; seen {
			continue
		}
		out[ref] = Fact{}
		if ref.Peer != r.PeerID {
			far = append(far, ref)
			continue
		}
		local = append(local, ref.ID)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var remote map[resource.Ref]federation.Resolved
	var wg sync.WaitGroup
	if len(far) > 0 {
		wg.Go(func() { remote = r.Remote.Lookup(ctx, p.Token, far) })
	}
	found, err := r.lookUp(ctx, p, local)
	if err != nil {
		cancel()
	}
	wg.Wait()
	if err != nil {
		return nil, err
	}
	for _, res := range found {
		out[resource.Ref{Peer: r.PeerID, ID: res.ID}] = Fact{Found: true, Kind: res.Kind}
	}
	for ref, got := range remote {
		switch {
		case got.Resource != nil:
			out[ref] = Fact{Found: true, Kind: got.Resource.Kind}
		case !got.Missing:
			out[ref] = Fact{Unavailable: got.Reason}
		}
	}
	return out, nil
}

// lookUp returns the resources among this peer's ids that p may see.
func (r CatalogResolver) lookUp(ctx context.Context, p authn.Principal, ids []string) ([]resource.Resource, error) {
	var found []resource.Resource
	for start := 0; start < len(ids); start += resource.MaxLookup {
		batch := ids[start:min(start+resource.MaxLookup, len(ids))]
		res, err := r.Catalog.Lookup(ctx, p, batch)
		if err != nil {
			return nil, fmt.Errorf("look resources up in the catalog: %w", err)
		}
		found = append(found, res.Items...)
	}
	return found, nil
}
