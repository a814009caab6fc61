package area

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/opencloud/opencloud/libs/resource"
	wire "github.com/opencloud/opencloud/libs/workspace"
)

// The state of an area shared between peers is a function of the set of its
// ops: Fold sorts them by (clock, author peer, op id), a total order every
// member computes alike, and applies them in turn. Each element (the name
// and description, a member, a member peer, a shared item, the rule book)
// is set by the last op that touches it in that order, so two edits of the
// same element made on both sides of a partition resolve the same way on
// every member (last writer wins, the peer id breaking ties), and edits of
// different elements are all kept, whatever order the ops arrived in.
//
// An op counts only when its author may make it at that point of the
// order: the creating peer for area.created, a member peer (or the
// creator) for the others. Every member applies the same rule, so a peer
// removed from an area cannot change it afterwards anywhere.

// opOrder is the total order of ops.
func opOrder(a, b wire.Op) int {
	return cmp.Or(cmp.Compare(a.Stamp.Clock, b.Stamp.Clock), cmp.Compare(a.Stamp.Peer, b.Stamp.Peer), cmp.Compare(a.ID, b.ID))
}

// Fold computes an area from its ops. base keeps what is not replicated
// (the facts shared items were last checked with, the store version); ok
// is false when the ops hold no creation.
func Fold(ops []wire.Op, base Record) (r Record, deleted, ok bool) {
	ops = slices.Clone(ops)
	slices.SortFunc(ops, opOrder)
	facts := map[string][]Fact{}
	sources := map[string]int64{}
	for _, it := range base.Items {
		facts[itemKey(it.Kind, it.Ref)] = it.Facts
		sources[itemKey(it.Kind, it.Ref)] = it.SourceVersion
	}
	var creator string
	for _, op := range ops {
		if op.Type == wire.OpCreated {
			if ok {
				continue // one creation only: the first in the order
			}
			var a wire.Area
			if json.Unmarshal(op.Data, &a) != nil || a.ID != op.AreaID {
				continue
			}
			creator = op.Stamp.Peer
			r = Record{Area: wire.Area{ID: a.ID, Name: a.Name, Description: a.Description, CreatedBy: a.CreatedBy, Home: creator,
				CreatedAt: a.CreatedAt, UpdatedAt: op.Stamp.At, Clock: op.Stamp.Clock,
				Members: []wire.Member{}, Peers: []wire.PeerMember{}, Rules: []wire.RuleEntry{}}, Items: []Item{}}
			for _, m := range a.Members {
				m.Peer = cmp.Or(m.Peer, op.Stamp.Peer)
				r.Members = upsertMember(r.Members, m)
			}
			for _, pm := range a.Peers {
				r.Peers = upsertPeer(r.Peers, pm)
			}
			r.Rules = slices.Clone(a.Rules)
			if r.Rules == nil {
				r.Rules = []wire.RuleEntry{}
			}
			for _, sh := range a.Shared {
				r.Items = upsertItem(r.Items, Item{Shared: sh})
			}
			ok = true
			continue
		}
		if !ok || deleted || !authorized(r, creator, op.Stamp.Peer) {
			continue
		}
		if applyOp(&r, op) {
			r.Clock = max(r.Clock, op.Stamp.Clock)
			if op.Stamp.At.After(r.UpdatedAt) {
				r.UpdatedAt = op.Stamp.At
			}
		}
		if op.Type == wire.OpDeleted {
			deleted = true
		}
	}
	for i, it := range r.Items {
		k := itemKey(it.Kind, it.Ref)
		r.Items[i].Facts, r.Items[i].SourceVersion = facts[k], sources[k]
	}
	r.Version = base.Version
	return r, deleted, ok
}

func itemKey(k wire.SharedKind, ref resource.Ref) string {
	return string(k) + "/" + ref.Peer + "/" + ref.ID
}

// authorized reports whether peer may change area r now: its creator, or
// one of its member peers.
func authorized(r Record, creator, peer string) bool {
	return peer == creator || slices.ContainsFunc(r.Peers, func(pm wire.PeerMember) bool { return pm.Peer == peer })
}

// applyOp applies one op; false when its data is not what its type says
// (such an op changes nothing anywhere).
func applyOp(r *Record, op wire.Op) bool {
	switch op.Type {
	case wire.OpUpdated:
		var d struct{ Name, Description string }
		if json.Unmarshal(op.Data, &d) != nil || d.Name == "" {
			return false
		}
		r.Name, r.Description = d.Name, d.Description
	case wire.OpDeleted:
	case wire.OpMemberAdded:
		var m wire.Member
		if json.Unmarshal(op.Data, &m) != nil || m.Subject == "" {
			return false
		}
		m.Peer, m.Stamp = cmp.Or(m.Peer, op.Stamp.Peer), op.Stamp
		r.Members = upsertMember(r.Members, m)
	case wire.OpMemberRemoved:
		var d struct{ Subject, Peer string }
		if json.Unmarshal(op.Data, &d) != nil || d.Subject == "" {
			return false
		}
		peer := cmp.Or(d.Peer, op.Stamp.Peer)
		r.Members = slices.DeleteFunc(r.Members, func(m wire.Member) bool { return m.Subject == d.Subject && m.Peer == peer })
	case wire.OpPeerAdded:
		var pm wire.PeerMember
		if json.Unmarshal(op.Data, &pm) != nil || pm.Peer == "" {
			return false
		}
		pm.Stamp = op.Stamp
		r.Peers = upsertPeer(r.Peers, pm)
	case wire.OpPeerRemoved:
		var d struct{ Peer string }
		if json.Unmarshal(op.Data, &d) != nil || d.Peer == "" {
			return false
		}
		r.Peers = slices.DeleteFunc(r.Peers, func(pm wire.PeerMember) bool { return pm.Peer == d.Peer })
	case wire.OpShared, wire.OpItemUpdated:
		var sh wire.Shared
		if json.Unmarshal(op.Data, &sh) != nil || sh.Ref.ID == "" {
			return false
		}
		sh.Stamp = op.Stamp
		r.Items = upsertItem(r.Items, Item{Shared: sh})
	case wire.OpUnshared:
		var d struct {
			Kind wire.SharedKind `json:"kind"`
			Ref  resource.Ref    `json:"ref"`
		}
		if json.Unmarshal(op.Data, &d) != nil {
			return false
		}
		r.Items = slices.DeleteFunc(r.Items, func(it Item) bool { return it.Kind == d.Kind && it.Ref == d.Ref })
	case wire.OpRulesChanged:
		var d struct {
			Rules []wire.RuleEntry `json:"rules"`
		}
		if json.Unmarshal(op.Data, &d) != nil || d.Rules == nil {
			return false
		}
		r.Rules = d.Rules
	default:
		return false
	}
	return true
}

func upsertMember(ms []wire.Member, m wire.Member) []wire.Member {
	if i := slices.IndexFunc(ms, func(x wire.Member) bool { return x.Subject == m.Subject && x.Peer == m.Peer }); i >= 0 {
		ms[i] = m
		return ms
	}
	return append(ms, m)
}

func upsertPeer(ps []wire.PeerMember, pm wire.PeerMember) []wire.PeerMember {
	if i := slices.IndexFunc(ps, func(x wire.PeerMember) bool { return x.Peer == pm.Peer }); i >= 0 {
		ps[i] = pm
		return ps
	}
	return append(ps, pm)
}

func upsertItem(items []Item, it Item) []Item {
	if i := slices.IndexFunc(items, func(x Item) bool { return x.Kind == it.Kind && x.Ref == it.Ref }); i >= 0 {
		it.Facts, it.SourceVersion = items[i].Facts, items[i].SourceVersion
		items[i] = it
		return items
	}
	return append(items, it)
}

// errNotCreated is why ops of an area whose creation is missing are not
// taken.
var errNotCreated = fmt.Errorf("the ops do not hold the area's creation")
