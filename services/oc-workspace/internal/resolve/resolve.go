// Package resolve turns resource references into what the catalog holding
// them says about them now, with the caller's own token so that the catalog
// applies its visibility rules. A reference that cannot be resolved comes
// back with the reason, never an error: workspaces list it as unavailable
// and rules report it as unchecked.
package resolve

import (
	"context"
	"fmt"
	"sync"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/resource"
)

// Result is one reference resolved, or the reason it is not.
type Result struct {
	Ref      resource.Ref
	Resource *resource.Resource // nil when Reason is set
	Reason   string
}

// Resolver resolves references for the holder of token. Results are in the
// order of refs.
type Resolver interface {
	Resolve(ctx context.Context, token string, refs []resource.Ref) []Result
}

// Lookuper is the catalog call a Resolver needs (the catalog client's Lookup).
type Lookuper interface {
	Lookup(ctx context.Context, ids []string) (resource.LookupResult, error)
}

// Catalog resolves the references of this peer through its catalog, and
// those of other peers at their peers, all at once.
type Catalog struct {
	PeerID string
	// Client returns a catalog client acting with token.
	Client func(token string) Lookuper
	// Remote asks the other peers, through this peer's relay.
	Remote *federation.Lookups
}

// ReasonMissing is why a local reference does not resolve.
const ReasonMissing = "the resource does not exist in the catalog or is not visible to you"

// RemoteReason says that a reference is of another peer, for what takes
// this peer's items only.
func RemoteReason(peer string) string {
	return fmt.Sprintf("%q is another peer", peer)
}

// Resolve implements Resolver, asking the catalog resource.MaxLookup ids at
// a time while the other peers are asked.
func (c *Catalog) Resolve(ctx context.Context, token string, refs []resource.Ref) []Result {
	out := make([]Result, len(refs))
	var local []string
	var far []resource.Ref
	at := map[string][]int{}
	for i, r := range refs {
		out[i].Ref = r
		if r.Peer != c.PeerID {
			far = append(far, r)
			continue
		}
		if _, ok := at[r.ID]; !ok {
			local = append(local, r.ID)
		}
		at[r.ID] = append(at[r.ID], i)
	}
	var remote map[resource.Ref]federation.Resolved
	var wg sync.WaitGroup
	if len(far) > 0 {
		wg.Go(func() { remote = c.Remote.Lookup(ctx, token, far) })
	}
	if len(local) > 0 {
		c.resolveLocal(ctx, token, local, at, out)
	}
	wg.Wait()
	for i := range out {
		if r, ok := remote[out[i].Ref]; ok {
			out[i].Resource, out[i].Reason = r.Resource, r.Reason
		}
	}
	return out
}

// resolveLocal fills the results at[id] of every id in ids.
func (c *Catalog) resolveLocal(ctx context.Context, token string, ids []string, at map[string][]int, out []Result) {
	cl := c.Client(token)
	for start := 0; start < len(ids); start += resource.MaxLookup {
		batch := ids[start:min(start+resource.MaxLookup, len(ids))]
		res, err := cl.Lookup(ctx, batch)
		if err != nil {
			reason := "the catalog could not be reached; try again later"
			if st := apiclient.Status(err); st != 0 {
				reason = fmt.Sprintf("the catalog answered %d; try again later", st)
			}
			for _, id := range batch {
				for _, i := range at[id] {
					out[i].Reason = reason
				}
			}
			continue
		}
		for _, r := range res.Items {
			for _, i := range at[r.ID] {
				r := r
				out[i].Resource = &r
			}
		}
		for _, id := range batch {
			for _, i := range at[id] {
				if out[i].Resource == nil && out[i].Reason == "" {
					out[i].Reason = ReasonMissing
				}
			}
		}
	}
}
