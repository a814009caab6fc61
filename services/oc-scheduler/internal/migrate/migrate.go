// Package migrate brings the stored executions and bookings up to date
// with this peer's identity when oc-scheduler starts.
package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/rewrite"
	wf "github.com/opencloud/opencloud/libs/workflow"

	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
)

// LocalPeer is the id every peer went by before it had a peer id of its
// own: a reference to a resource of that peer, or of no peer at all, is a
// reference to one of this peer's.
const LocalPeer = "local"

// LocalPeerIDs replaces LocalPeer and empty peer ids by self in the
// executions (their workflow graph, the resources booked with it and the
// compute of each step) and the bookings (whose resource key availability
// is queried by), and returns how many documents it changed. It does
// nothing when self is itself LocalPeer or empty. The other fields of an
// execution are written back as they were read; every write is
// conditioned on the version read, so that a worker or another process
// writing meanwhile is never overwritten, each document is changed once,
// and a second run changes nothing.
func LocalPeerIDs(ctx context.Context, st store.Store, self string, log *slog.Logger) (int, error) {
	if self == "" || self == LocalPeer {
		return 0, nil
	}
	m := migration{self: self}
	ne, err := each(ctx, st, executions.Spec, func(d rewrite.Fields) bool {
		graph := field(&m, d, "graph", func(g *wf.Graph) {
			for i := range g.Nodes {
				m.peer(&g.Nodes[i].Resource.Peer)
			}
		})
		resources := field(&m, d, "resources", func(rs *[]resource.Resource) {
			for i := range *rs {
				m.peer(&(*rs)[i].PeerID)
			}
		})
		steps := field(&m, d, "steps", func(steps *[]execution.Step) {
			for i := range *steps {
				m.peer(&(*steps)[i].Compute.Peer)
			}
		})
		return graph || resources || steps
	})
	if err != nil {
		return ne, fmt.Errorf("reference this peer by its id in executions: %w", err)
	}
	nb, err := each(ctx, st, executions.BookingSpec, func(d rewrite.Fields) bool {
		var ref resource.Ref
		if !field(&m, d, "ref", func(r *resource.Ref) { m.peer(&r.Peer); ref = *r }) {
			return false
		}
		key, err := json.Marshal(ref.String())
		if err != nil {
			return false
		}
		d["resource"] = key
		return true
	})
	if err != nil {
		return ne + nb, fmt.Errorf("reference this peer by its id in bookings: %w", err)
	}
	if ne+nb > 0 {
		log.InfoContext(ctx, "stored peer ids set to this peer's id", "peer_id", self, "executions", ne, "bookings", nb)
	}
	return ne + nb, nil
}

// each rewrites with fix the documents of the collection of spec, keeping
// the fields fix leaves alone as they were, and returns how many it changed.
func each(ctx context.Context, st store.Store, spec store.Spec, fix func(rewrite.Fields) bool) (int, error) {
	c, err := st.Collection(ctx, spec)
	if err != nil {
		return 0, fmt.Errorf("open collection %s: %w", spec.Name, err)
	}
	return rewrite.Collection(ctx, c, fix)
}

// migration rewrites peer ids in place, noting whether it changed any.
type migration struct {
	self    string
	changed bool
}

func (m *migration) peer(p *string) {
	if *p == "" || *p == LocalPeer {
		*p, m.changed = m.self, true
	}
}

// field rewrites the field key of d, a T, with fix, and reports whether
// fix changed it.
func field[T any](m *migration, d rewrite.Fields, key string, fix func(*T)) bool {
	return rewrite.Field(d, key, func(v *T) bool {
		m.changed = false
		fix(v)
		return m.changed
	})
}
