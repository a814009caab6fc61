package area

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/resource"
	wire "github.com/opencloud/opencloud/libs/workspace"
)

// sim is one member peer of a simulated shared area: its clock and the
// ops it holds.
type sim struct {
	peer  string
	clock int64
	ops   map[string]wire.Op
	n     int
}

func (s *sim) make(rng *rand.Rand, areaID string, peers []string) wire.Op {
	s.clock++
	s.n++
	st := wire.Stamp{Clock: s.clock, Peer: s.peer, By: "u-" + s.peer, At: time.Unix(1700000000+s.clock, 0).UTC()}
	var typ wire.OpType
	var data any
	subject := fmt.Sprintf("user-%d", rng.IntN(4))
	ref := resource.Ref{Peer: peers[rng.IntN(len(peers))], ID: fmt.Sprintf("r%d", rng.IntN(4))}
	switch rng.IntN(8) {
	case 0:
		typ, data = wire.OpUpdated, map[string]string{"name": fmt.Sprintf("name %s %d", s.peer, s.n), "description": s.peer}
	case 1:
		typ, data = wire.OpMemberAdded, wire.Member{Subject: subject, Admin: rng.IntN(2) == 0}
	case 2:
		typ, data = wire.OpMemberRemoved, map[string]string{"subject": subject}
	case 3, 4:
		typ, data = wire.OpShared, wire.Shared{Kind: wire.SharedResource, Ref: ref, Name: "item " + ref.ID + " by " + s.peer}
	case 5:
		typ, data = wire.OpUnshared, map[string]any{"kind": wire.SharedResource, "ref": ref}
	case 6:
		typ, data = wire.OpRulesChanged, map[string]any{"rules": []wire.RuleEntry{{Rule: wire.Rule{ID: "r-" + s.peer, Kind: wire.RuleOpenSource}, Stamp: st}}}
	default:
		typ, data = wire.OpPeerAdded, wire.PeerMember{Peer: peers[rng.IntN(len(peers))]}
	}
	raw, _ := json.Marshal(data)
	op := wire.Op{ID: fmt.Sprintf("%s-%04d", s.peer, s.n), AreaID: areaID, Type: typ, Stamp: st, Data: raw, OriginSeq: int64(s.n)}
	s.ops[op.ID] = op
	return op
}

// receive takes another member's ops, as a merge does.
func (s *sim) receive(from *sim) {
	for id, op := range from.ops {
		if _, ok := s.ops[id]; !ok {
			s.ops[id] = op
			s.clock = max(s.clock, op.Stamp.Clock)
		}
	}
}

func (s *sim) list() []wire.Op {
	out := make([]wire.Op, 0, len(s.ops))
	for _, op := range s.ops {
		out = append(out, op)
	}
	return out
}

// Three members edit an area, some of the time cut off from one another;
// once they have exchanged everything, each one's fold is the same, field
// by field, whatever order its ops came in, and every edit of a different
// element is there.
func TestFoldConverges(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, seed))
		peers := []string{"peer-a", "peer-b", "peer-c"}
		created := wire.Area{ID: "area-1", Name: "start", CreatedBy: "u-peer-a",
			Members: []wire.Member{{Subject: "u-peer-a", Admin: true}},
			Peers:   []wire.PeerMember{{Peer: "peer-b"}, {Peer: "peer-c"}}}
		raw, _ := json.Marshal(created)
		first := wire.Op{ID: "peer-a-0000", AreaID: "area-1", Type: wire.OpCreated, Data: raw, OriginSeq: 1,
			Stamp: wire.Stamp{Clock: 1, Peer: "peer-a", At: time.Unix(1700000000, 0).UTC()}}
		sims := make([]*sim, 3)
		for i, p := range peers {
			sims[i] = &sim{peer: p, clock: 1, ops: map[string]wire.Op{first.ID: first}, n: 0}
		}
		sims[0].n = 1
		for step := 0; step < 200; step++ {
			i := rng.IntN(3)
			sims[i].make(rng, "area-1", peers)
			// During a partition ({a} | {b, c}) only b and c talk.
			partitioned := step > 50 && step < 150
			if rng.IntN(5) == 0 {
				j := rng.IntN(3)
				if !partitioned || (i != 0 && j != 0) {
					sims[j].receive(sims[i])
				}
			}
		}
		for _, a := range sims {
			for _, b := range sims {
				a.receive(b)
			}
		}
		var want Record
		for i, s := range sims {
			ops := s.list()
			rng.Shuffle(len(ops), func(x, y int) { ops[x], ops[y] = ops[y], ops[x] })
			got, deleted, ok := Fold(ops, Record{})
			if !ok || deleted {
				t.Fatalf("seed %d: %s folds to no area", seed, s.peer)
			}
			if i == 0 {
				want = got
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d: %s's area differs from %s's:\n%+v\n%+v", seed, s.peer, sims[0].peer, got, want)
			}
		}
		// The last edit of the name in the total order is the name.
		ops := sims[0].list()
		var last *wire.Op
		for k, op := range ops {
			if op.Type == wire.OpUpdated && (last == nil || opOrder(op, *last) > 0) {
				last = &ops[k]
			}
		}
		if last != nil {
			var d struct{ Name string }
			_ = json.Unmarshal(last.Data, &d)
			if want.Name != d.Name {
				t.Errorf("seed %d: name %q, want the last edit's %q", seed, want.Name, d.Name)
			}
		}
	}
}

// An op whose author is not a member peer changes nothing, on any member.
func TestFoldIgnoresStrangers(t *testing.T) {
	created := wire.Area{ID: "a", Name: "start", Members: []wire.Member{{Subject: "alice", Admin: true}}}
	raw, _ := json.Marshal(created)
	rename, _ := json.Marshal(map[string]string{"name": "taken over"})
	ops := []wire.Op{
		{ID: "1", AreaID: "a", Type: wire.OpCreated, Data: raw, Stamp: wire.Stamp{Clock: 1, Peer: "peer-a"}},
		{ID: "2", AreaID: "a", Type: wire.OpUpdated, Data: rename, Stamp: wire.Stamp{Clock: 2, Peer: "peer-x"}},
	}
	r, _, ok := Fold(ops, Record{})
	if !ok || r.Name != "start" {
		t.Fatalf("a stranger's rename: %q", r.Name)
	}
}
