// Package migrate brings oc-workspace's stored workspaces, areas and area
// history up to date with this peer's identity when the service starts.
package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/rewrite"
	wire "github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/internal/area"
	wsstore "github.com/opencloud/opencloud/services/oc-workspace/internal/store"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/workspace"
)

// LocalPeer is the id every peer went by before it had a peer id of its
// own: a reference to a resource (or a workspace, a workflow) of that
// peer, or of no peer at all, is a reference to one of this peer's, and a
// change stamped by it was made here.
const LocalPeer = "local"

// LocalPeerIDs replaces LocalPeer and empty peer ids by self wherever
// oc-workspace stores a peer id — the references of workspaces; an area's
// home, the peers of its users, its member peers, its shared items, what
// they use and the facts last checked about it, the peers of its
// compute_peers rules and the peer of every element's stamp; and the same
// in the areas' history (their op log), but for the entries their author
// signed — and returns how many documents it changed. It does nothing when
// self is itself LocalPeer or empty. Two processes starting together
// change each document once between them, and a second run changes
// nothing.
func LocalPeerIDs(ctx context.Context, st store.Store, self string, log *slog.Logger) (int, error) {
	if self == "" || self == LocalPeer {
		return 0, nil
	}
	workspaces, areas, _, err := wsstore.Open(ctx, st)
	if err != nil {
		return 0, err
	}
	// The areas are written as this peer's service writes them: its own
	// users are the members it lists.
	areas.Self = self
	ops, err := st.Collection(ctx, wsstore.OpSpec)
	if err != nil {
		return 0, fmt.Errorf("open collection %s: %w", wsstore.OpSpec.Name, err)
	}
	m := migration{self: self}

	nw, err := rewrite.All(ctx, func(ctx context.Context, limit, offset int) ([]workspace.Record, error) {
		page, _, err := workspaces.Find(ctx, workspace.Query{Limit: limit, Offset: offset})
		out := make([]workspace.Record, len(page))
		for i, w := range page {
			out[i] = workspace.Record{Workspace: w}
		}
		return out, err
	}, func(ctx context.Context, listed workspace.Record) (workspace.Record, int64, error) {
		r, err := workspaces.Get(ctx, listed.ID)
		return r, r.Version, err
	}, func(r *workspace.Record) bool {
		return m.apply(func() { m.entries(r.Resources) })
	}, func(ctx context.Context, r workspace.Record, version int64) error {
		_, err := workspaces.Replace(ctx, r, version)
		return err
	})
	if err != nil {
		return nw, fmt.Errorf("reference this peer by its id in workspaces: %w", err)
	}
	na, err := rewrite.All(ctx, func(ctx context.Context, limit, offset int) ([]area.Record, error) {
		page, _, err := areas.Find(ctx, area.Query{Limit: limit, Offset: offset})
		return page, err
	}, func(ctx context.Context, listed area.Record) (area.Record, int64, error) {
		r, err := areas.Get(ctx, listed.ID)
		return r, r.Version, err
	}, func(r *area.Record) bool {
		return m.apply(func() { m.record(r) })
	}, func(ctx context.Context, r area.Record, version int64) error {
		_, err := areas.Replace(ctx, r, version)
		return err
	})
	if err != nil {
		return nw + na, fmt.Errorf("reference this peer by its id in areas: %w", err)
	}
	no, err := rewrite.Collection(ctx, ops, func(f rewrite.Fields) bool { return m.apply(func() { m.entry(f) }) })
	if err != nil {
		return nw + na + no, fmt.Errorf("reference this peer by its id in the areas' history: %w", err)
	}
	if nw+na+no > 0 {
		log.InfoContext(ctx, "stored peer ids set to this peer's id", "peer_id", self,
			"workspaces", nw, "areas", na, "history_entries", no)
	}
	return nw + na + no, nil
}

// migration rewrites the peer ids of oc-workspace's types in place,
// noting whether it changed any.
type migration struct {
	self    string
	changed bool
}

// apply runs fix and reports whether it changed anything.
func (m *migration) apply(fix func()) bool {
	outer := m.changed
	m.changed = false
	fix()
	changed := m.changed
	m.changed = outer || changed
	return changed
}

func (m *migration) peer(p *string) {
	if *p == "" || *p == LocalPeer {
		*p, m.changed = m.self, true
	}
}

func (m *migration) refs(refs []resource.Ref) {
	for i := range refs {
		m.peer(&refs[i].Peer)
	}
}

func (m *migration) entries(es []wire.Entry) {
	for i := range es {
		m.peer(&es[i].Ref.Peer)
	}
}

// stamp rewrites the peer of a change; a zero stamp (never set) stays so.
func (m *migration) stamp(s *wire.Stamp) {
	if s.Clock != 0 || s.Peer != "" {
		m.peer(&s.Peer)
	}
}

// named rewrites a peer id that is LocalPeer, leaving an empty one: for
// the fields where empty has a meaning of its own.
func (m *migration) named(p *string) {
	if *p == LocalPeer {
		*p, m.changed = m.self, true
	}
}

// member rewrites a user member: the peer the user belongs to (empty: the
// peer holding the area) and the stamp.
func (m *migration) member(mb *wire.Member) {
	m.named(&mb.Peer)
	m.stamp(&mb.Stamp)
}

func (m *migration) shared(s *wire.Shared) {
	m.peer(&s.Ref.Peer)
	m.refs(s.Usage.Resources)
	m.refs(s.Usage.Writes)
	m.stamp(&s.Stamp)
}

func (m *migration) rules(rules []wire.RuleEntry) {
	for i := range rules {
		for j := range rules[i].Peers {
			m.peer(&rules[i].Peers[j])
		}
		m.stamp(&rules[i].Stamp)
	}
}

func (m *migration) area(a *wire.Area) {
	m.named(&a.Home) // empty: made here, before areas were shared
	for i := range a.Members {
		m.member(&a.Members[i])
	}
	for i := range a.Peers {
		m.peer(&a.Peers[i].Peer)
		m.stamp(&a.Peers[i].Stamp)
	}
	for i := range a.Shared {
		m.shared(&a.Shared[i])
	}
	m.rules(a.Rules)
}

func (m *migration) record(r *area.Record) {
	m.area(&r.Area)
	for i := range r.Items {
		it := &r.Items[i]
		m.shared(&it.Shared)
		for j := range it.Facts {
			m.peer(&it.Facts[j].Ref.Peer)
			m.peer(&it.Facts[j].Peer)
		}
	}
	if r.LastOp != nil {
		raw, err := json.Marshal(r.LastOp)
		entry := json.RawMessage(raw)
		if err == nil && rewrite.JSON(&entry, func(f *rewrite.Fields) bool { return m.apply(func() { m.entry(*f) }) }) {
			var op wire.Op
			if json.Unmarshal(entry, &op) == nil {
				*r.LastOp = op
			}
		}
	}
}

// entry rewrites an entry of an area's history — its stamp, and its data
// as the area service writes it for each type of change — unless it is
// signed: what its author signed stays as it was.
func (m *migration) entry(d rewrite.Fields) {
	if sig := string(d["sig"]); sig != "" && sig != "null" && sig != `""` {
		return
	}
	var typ wire.OpType
	if json.Unmarshal(d["type"], &typ) != nil {
		return
	}
	field(m, d, "stamp", m.stamp)
	field(m, d, "data", func(data *json.RawMessage) { m.data(typ, data) })
}

// data rewrites the data of a change of type typ.
func (m *migration) data(typ wire.OpType, data *json.RawMessage) {
	switch typ {
	case wire.OpCreated:
		recode(m, data, m.area)
	case wire.OpMemberAdded:
		recode(m, data, m.member)
	case wire.OpPeerAdded:
		recode(m, data, func(pm *wire.PeerMember) { m.peer(&pm.Peer); m.stamp(&pm.Stamp) })
	case wire.OpPeerRemoved:
		inObject(m, data, "peer", m.peer)
	case wire.OpShared, wire.OpItemUpdated:
		recode(m, data, m.shared)
	case wire.OpUnshared:
		inObject(m, data, "ref", func(r *resource.Ref) { m.peer(&r.Peer) })
	case wire.OpRulesChanged:
		inObject(m, data, "rules", func(rules *[]wire.RuleEntry) { m.rules(*rules) })
	}
}

// recode rewrites raw JSON data holding a T with fix.
func recode[T any](m *migration, data *json.RawMessage, fix func(*T)) {
	rewrite.JSON(data, func(v *T) bool { return m.apply(func() { fix(v) }) })
}

// field rewrites the field key of f, a T, with fix.
func field[T any](m *migration, f rewrite.Fields, key string, fix func(*T)) {
	rewrite.Field(f, key, func(v *T) bool { return m.apply(func() { fix(v) }) })
}

// inObject rewrites the field key, a T, of the JSON object data with fix,
// keeping its other fields as they are.
func inObject[T any](m *migration, data *json.RawMessage, key string, fix func(*T)) {
	recode(m, data, func(f *rewrite.Fields) { field(m, *f, key, fix) })
}
