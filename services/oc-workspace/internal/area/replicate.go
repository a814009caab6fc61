package area

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/opencloud/opencloud/libs/server/retry"
	wire "github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/internal/errs"
)

// An area with member peers is held by every member. Each keeps the set of
// its ops; its state is Fold of that set (fold.go). Ops travel between
// members two ways: a member pushes each op it makes to the others, and
// members pull from each other what their version vectors say they miss
// (anti-entropy), which is how edits made during a partition meet once the
// link is back. Every op carries its author peer's signature, so a member
// may pass on another's ops and the receiver still knows who made them.

// Replication limits.
const (
	// MaxOpsPerMessage bounds the ops of one push or one pull answer.
	MaxOpsPerMessage = 1000
	// MaxOpData bounds one op's data.
	MaxOpData = 256 << 10
)

// Vector is, per author peer, the highest OriginSeq up to which a member
// holds every op of that author.
type Vector map[string]int64

// Signer signs this peer's ops (oc-peer holds the key).
type Signer interface {
	// SignOps signs each input; it returns the key id and the signatures
	// in the order of inputs.
	SignOps(ctx context.Context, inputs [][]byte) (keyID string, sigs [][]byte, err error)
}

// Keys checks another peer's signature of an op, and whether a peer is a
// partner (only partners become member peers).
type Keys interface {
	VerifyOp(ctx context.Context, peer, keyID string, input, sig []byte) error
	Partner(ctx context.Context, peer string) error
}

// checkPartners refuses peers that are not this peer's partners, when
// areas are shared (without replication, peers are names only).
func (s *Service) checkPartners(ctx context.Context, field string, peers []string) error {
	if s.keys == nil {
		return nil
	}
	for _, p := range peers {
		if p == s.peerID {
			return errs.Invalid(field, "%s is this peer: an area's member peers are other peers", p)
		}
		if err := s.keys.Partner(ctx, p); err != nil {
			return errs.Invalid(field, "%v: only partners become member peers of an area", err)
		}
	}
	return nil
}

// Announcer is told, after the fact, that area id changed and which peers
// are to hear of it.
type Announcer func(areaID string, peers []string)

// SetReplication wires replication: sign signs this peer's ops, keys checks
// other peers', announce is called after every committed op of an area
// with member peers.
func (s *Service) SetReplication(sign Signer, keys Keys, announce Announcer) {
	s.signer, s.keys, s.announcer = sign, keys, announce
}

// PeerID is this peer's id.
func (s *Service) PeerID() string { return s.peerID }

func (s *Service) announce(areaID, home string, peers []wire.PeerMember) {
	if s.announcer == nil {
		return
	}
	var ids []string
	if home != "" && home != s.peerID {
		ids = append(ids, home)
	}
	for _, pm := range peers {
		if pm.Peer != s.peerID && !slices.Contains(ids, pm.Peer) {
			ids = append(ids, pm.Peer)
		}
	}
	if len(ids) > 0 {
		s.announcer(areaID, ids)
	}
}

// nextOrigin numbers this peer's next op of r. An area made before areas
// were shared has no vector: this peer's earlier ops are counted first
// (Seal numbers them in order).
func (s *Service) nextOrigin(ctx context.Context, r *Record) (int64, error) {
	if r.Vector == nil {
		ops, err := s.ops.All(ctx, r.ID)
		if err != nil {
			return 0, err
		}
		n := int64(0)
		for _, op := range ops {
			if op.Stamp.Peer == s.peerID || op.Stamp.Peer == "" {
				n++
			}
		}
		r.Vector = Vector{s.peerID: n}
	} else {
		r.Vector = maps.Clone(r.Vector)
	}
	r.Vector[s.peerID]++
	return r.Vector[s.peerID], nil
}

// Seal numbers and signs this peer's ops of area id that are not yet, so
// that they can be sent.
func (s *Service) Seal(ctx context.Context, id string) error {
	if s.signer == nil {
		return errors.New("area: ops cannot be signed: no signer")
	}
	ops, err := s.ops.All(ctx, id)
	if err != nil {
		return err
	}
	var own []wire.Op
	used := map[int64]bool{}
	for _, op := range ops {
		if op.Stamp.Peer == s.peerID {
			own = append(own, op)
			used[op.OriginSeq] = true
		}
	}
	slices.SortFunc(own, func(a, b wire.Op) int { return int(a.Seq - b.Seq) })
	next := int64(1)
	var todo []wire.Op
	for _, op := range own {
		if op.OriginSeq == 0 {
			for used[next] {
				next++
			}
			op.OriginSeq, used[next] = next, true
		}
		if len(op.Sig) == 0 {
			todo = append(todo, op)
		}
	}
	for start := 0; start < len(todo); start += MaxOpsPerMessage {
		batch := todo[start:min(len(todo), start+MaxOpsPerMessage)]
		inputs := make([][]byte, len(batch))
		for i, op := range batch {
			inputs[i] = wire.OpSigningInput(op)
		}
		kid, sigs, err := s.signer.SignOps(ctx, inputs)
		if err != nil {
			return fmt.Errorf("sign the ops of area %s: %w", id, err)
		}
		for i, op := range batch {
			op.KeyID, op.Sig = kid, sigs[i]
			if err := s.ops.Seal(ctx, op); err != nil {
				return err
			}
		}
	}
	return nil
}

// vectorOf computes the version vector of a set of ops.
func vectorOf(ops []wire.Op) Vector {
	seqs := map[string][]int64{}
	for _, op := range ops {
		if op.OriginSeq > 0 {
			seqs[op.Stamp.Peer] = append(seqs[op.Stamp.Peer], op.OriginSeq)
		}
	}
	v := Vector{}
	for peer, ns := range seqs {
		slices.Sort(ns)
		n := int64(0)
		for _, x := range ns {
			if x == n+1 {
				n = x
			} else if x > n+1 {
				break
			}
		}
		v[peer] = n
	}
	return v
}

// Missing returns the ops of area id, sealed, that a member peer caller
// whose vector is have does not hold (at most MaxOpsPerMessage, and more
// is true when others remain), with this peer's vector. A peer that is not
// a member (or no longer) gets ErrForbidden.
func (s *Service) Missing(ctx context.Context, caller, id string, have Vector) (ops []wire.Op, mine Vector, more bool, err error) {
	r, err := s.repo.Get(ctx, id)
	if err != nil {
		return nil, nil, false, fmt.Errorf("get area %s: %w", id, err)
	}
	if !IsMemberPeer(r, caller) {
		return nil, nil, false, errs.Forbidden("peer " + caller + " is not a member peer of this area")
	}
	if err := s.Seal(ctx, id); err != nil {
		return nil, nil, false, err
	}
	all, err := s.ops.All(ctx, id)
	if err != nil {
		return nil, nil, false, err
	}
	for _, op := range all {
		if op.OriginSeq > have[op.Stamp.Peer] && len(op.Sig) > 0 {
			if len(ops) == MaxOpsPerMessage {
				more = true
				break
			}
			op.Seq = 0
			ops = append(ops, op)
		}
	}
	return ops, vectorOf(all), more, nil
}

// Since returns this peer's vector of area id and the sealed ops a
// member peer whose vector is theirs lacks: what a push sends.
func (s *Service) Since(ctx context.Context, id string, theirs Vector) ([]wire.Op, error) {
	if err := s.Seal(ctx, id); err != nil {
		return nil, err
	}
	all, err := s.ops.All(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []wire.Op
	for _, op := range all {
		if op.OriginSeq > theirs[op.Stamp.Peer] && len(op.Sig) > 0 && len(out) < MaxOpsPerMessage {
			op.Seq = 0
			out = append(out, op)
		}
	}
	return out, nil
}

// MergeResult says what a merge did.
type MergeResult struct {
	// Added counts the ops this peer did not hold.
	Added int `json:"added"`
	// Vector is this peer's vector after the merge.
	Vector Vector `json:"vector"`
	// Refused counts the ops left out because their author's signature
	// did not verify here.
	Refused int `json:"refused,omitempty"`
}

// CheckOps validates ops received from another peer for area id: shape
// and size (ErrInvalid), then the author peers' signatures: the ops whose
// signature does not verify (an unknown or blocked author, a forgery) are
// left out and counted in refused. It is the decoder's second half (the
// first is JSON), fuzzed with it.
func (s *Service) CheckOps(ctx context.Context, id string, ops []wire.Op) (valid []wire.Op, refused int, err error) {
	if len(ops) > MaxOpsPerMessage {
		return nil, 0, errs.Invalid("ops", "at most %d ops per message (got %d)", MaxOpsPerMessage, len(ops))
	}
	for i, op := range ops {
		if err := CheckOp(id, op); err != nil {
			return nil, 0, errs.Invalid(fmt.Sprintf("ops[%d]", i), "%v", err)
		}
	}
	for _, op := range ops {
		if op.Stamp.Peer != s.peerID {
			if s.keys == nil {
				return nil, 0, errors.New("area: no key resolver to check other peers' ops")
			}
			if err := s.keys.VerifyOp(ctx, op.Stamp.Peer, op.KeyID, wire.OpSigningInput(op), op.Sig); err != nil {
				s.log.WarnContext(ctx, "an op of another peer is refused", "area", id, "op", op.ID, "author", op.Stamp.Peer, "err", err)
				refused++
				continue
			}
		}
		valid = append(valid, op)
	}
	return valid, refused, nil
}

// CheckOp checks the shape of one op of area id.
func CheckOp(id string, op wire.Op) error {
	switch {
	case op.AreaID != id:
		return fmt.Errorf("area_id %q is not %q", op.AreaID, id)
	case op.ID == "" || len(op.ID) > 64:
		return errors.New("id: 1 to 64 characters")
	case !slices.Contains(opTypes, op.Type):
		return fmt.Errorf("type %q is not an op type", op.Type)
	case op.Stamp.Clock < 1 || op.Stamp.Peer == "" || len(op.Stamp.Peer) > 128 || len(op.Stamp.By) > 256:
		return errors.New("stamp: a clock of at least 1 and the author peer are required")
	case op.OriginSeq < 1:
		return errors.New("origin_seq: at least 1")
	case len(op.Data) > MaxOpData:
		return fmt.Errorf("data: at most %d bytes", MaxOpData)
	case len(op.Sig) == 0 || op.KeyID == "":
		return errors.New("key_id and sig: the author's signature is required")
	}
	return nil
}

var opTypes = []wire.OpType{wire.OpCreated, wire.OpUpdated, wire.OpDeleted, wire.OpMemberAdded, wire.OpMemberRemoved,
	wire.OpPeerAdded, wire.OpPeerRemoved, wire.OpShared, wire.OpUnshared, wire.OpItemUpdated, wire.OpRulesChanged}

// Merge takes ops of area id from member peer from, checked by CheckOps:
// those this peer lacks join its log, and the area becomes the fold of all
// its ops. An area this peer does not hold yet is taken only when the ops
// make this peer and from members of it.
func (s *Service) Merge(ctx context.Context, from, id string, ops []wire.Op) (MergeResult, error) {
	ops, refused, err := s.CheckOps(ctx, id, ops)
	if err != nil {
		return MergeResult{}, err
	}
	var peersBefore []wire.PeerMember
	var homeBefore string
	res, err := retry.OnConflict(ctx, func(ctx context.Context) (MergeResult, error) {
		cur, err := s.repo.Get(ctx, id)
		exists := err == nil
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return MergeResult{}, fmt.Errorf("get area %s: %w", id, err)
		}
		if exists {
			if !IsMemberPeer(cur, from) {
				return MergeResult{}, errs.Forbidden("peer " + from + " is not a member peer of this area")
			}
			if err := s.logged(ctx, cur); err != nil {
				return MergeResult{}, err
			}
		}
		all, err := s.ops.All(ctx, id)
		if err != nil {
			return MergeResult{}, err
		}
		have := make(map[string]bool, len(all))
		for _, op := range all {
			have[op.ID] = true
		}
		var fresh []wire.Op
		for _, op := range ops {
			if have[op.ID] {
				continue
			}
			if op.Stamp.Peer == s.peerID {
				// This peer's own op it does not hold: not its own.
				return MergeResult{}, errs.Invalid("ops", "op %s claims to be this peer's, which never made it", op.ID)
			}
			have[op.ID] = true
			fresh = append(fresh, op)
		}
		if len(fresh) == 0 {
			return MergeResult{Vector: vectorOf(all)}, nil
		}
		if !exists && slices.ContainsFunc(all, func(op wire.Op) bool { return op.Type == wire.OpDeleted }) {
			// Deleted here: what was deleted stays deleted.
			return MergeResult{Vector: vectorOf(all)}, nil
		}
		base := cur
		next, deleted, ok := Fold(append(all, fresh...), base)
		if !ok {
			return MergeResult{}, errs.Invalid("ops", "%v", errNotCreated)
		}
		if !exists && (!IsMemberPeer(next, s.peerID) || !IsMemberPeer(next, from)) {
			return MergeResult{}, errs.Forbidden("the area does not make this peer and " + from + " members")
		}
		seqAt := seq(cur)
		for i := range fresh {
			seqAt++
			fresh[i].Seq = seqAt
		}
		last := fresh[len(fresh)-1]
		next.LastOp, next.Pending = &last, fresh
		next.Vector = vectorOf(append(all, fresh...))
		var v int64
		switch {
		case deleted && exists:
			err = s.repo.Delete(ctx, id, cur.Version)
		case deleted:
			err = nil
		case exists:
			v, err = s.repo.Replace(ctx, next, cur.Version)
		default:
			v, err = s.repo.Insert(ctx, next)
			if errors.Is(err, errs.ErrDuplicate) {
				err = errs.ErrVersionConflict
			}
		}
		if errors.Is(err, errs.ErrVersionConflict) || (exists && errors.Is(err, errs.ErrNotFound)) {
			return MergeResult{}, retry.LostRace(fmt.Errorf("merge into area %s: %w", id, errs.ErrVersionConflict))
		}
		if err != nil {
			return MergeResult{}, fmt.Errorf("merge into area %s: %w", id, err)
		}
		next.Version = v
		peersBefore, homeBefore = cur.Peers, next.Home
		if deleted {
			// No record keeps the pending ops: log them now.
			for _, op := range fresh {
				if err := s.ops.Append(ctx, op); err != nil && !errors.Is(err, errs.ErrDuplicate) {
					return MergeResult{}, err
				}
			}
		} else if err := s.logged(ctx, next); err != nil {
			s.log.WarnContext(ctx, "merged ops not logged yet; the next change will", "area", id, "err", err)
		}
		for _, op := range fresh {
			s.publish(ctx, op)
		}
		return MergeResult{Added: len(fresh), Vector: next.Vector}, nil
	})
	if err == nil && res.Added > 0 {
		s.announce(id, homeBefore, peersBefore)
	}
	res.Refused = refused
	return res, err
}

// IsMemberPeer reports whether peer holds area r: its home peer or one of
// its member peers.
func IsMemberPeer(r Record, peer string) bool {
	return peer != "" && (peer == r.Home || slices.ContainsFunc(r.Peers, func(pm wire.PeerMember) bool { return pm.Peer == peer }))
}

// MemberPeers returns the peers holding r but self.
func MemberPeers(r Record, self string) []string {
	var out []string
	if r.Home != "" && r.Home != self {
		out = append(out, r.Home)
	}
	for _, pm := range r.Peers {
		if pm.Peer != self && !slices.Contains(out, pm.Peer) {
			out = append(out, pm.Peer)
		}
	}
	return out
}

// Shared returns the areas this peer holds with other member peers.
func (s *Service) Shared(ctx context.Context) ([]Record, error) {
	recs, _, err := s.repo.Find(ctx, Query{WithPeers: true})
	return recs, err
}

// VectorOf returns this peer's vector of area id.
func (s *Service) VectorOf(ctx context.Context, id string) (Vector, error) {
	all, err := s.ops.All(ctx, id)
	if err != nil {
		return nil, err
	}
	return vectorOf(all), nil
}
