package area

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/server/retry"
	"github.com/opencloud/opencloud/libs/workflow"
	wire "github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/api"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/errs"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/resolve"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/workflows"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/workspace"
)

// Item is a shared item as stored: the wire form and the facts it was last
// checked with.
type Item struct {
	wire.Shared
	Facts []Fact `json:"facts,omitempty"`
	// SourceVersion is the version of the workspace or workflow the item
	// was last taken from (0: unknown): an older one is not applied over it,
	// whether it comes from a late event or from reconciliation.
	SourceVersion int64 `json:"source_version,omitempty"`
}

// Record is an area as stored. Items are the truth of Area.Shared.
type Record struct {
	wire.Area
	Items []Item
	// LastOp is the last change, kept here until it is surely in the log.
	LastOp *wire.Op
	// Pending are the ops of other peers merged by the last change, kept
	// here until they are surely in the log.
	Pending []wire.Op
	// Vector is, per author peer, the highest OriginSeq such that this
	// peer holds every op of that author up to it; nil in areas made
	// before areas were shared between peers.
	Vector map[string]int64
}

// Wire is the area as the API serves it.
func (r Record) Wire() wire.Area {
	a := r.Area
	a.Shared = make([]wire.Shared, len(r.Items))
	for i, it := range r.Items {
		a.Shared[i] = it.Shared
	}
	if a.Members == nil {
		a.Members = []wire.Member{}
	}
	if a.Peers == nil {
		a.Peers = []wire.PeerMember{}
	}
	if a.Rules == nil {
		a.Rules = []wire.RuleEntry{}
	}
	return a
}

// Key is the "peer/id" key of a shared item's ref, as queries use it.
func Key(r resource.Ref) string { return r.Peer + "/" + r.ID }

// Repository is the storage areas need. Implementations return
// errs.ErrNotFound and errs.ErrVersionConflict (wrapped).
type Repository interface {
	Insert(ctx context.Context, r Record) (int64, error)
	Get(ctx context.Context, id string) (Record, error)
	Replace(ctx context.Context, r Record, version int64) (int64, error)
	Delete(ctx context.Context, id string, version int64) error
	// Find returns a page of the areas matching q (Limit 0: all of them).
	Find(ctx context.Context, q Query) ([]Record, int64, error)
}

// OpLog is the history of areas. Append returns errs.ErrDuplicate (wrapped)
// for an op already there.
type OpLog interface {
	Append(ctx context.Context, op wire.Op) error
	// All returns every op of the area, in the order of the log.
	All(ctx context.Context, areaID string) ([]wire.Op, error)
	// Seal stores an op's OriginSeq, KeyID and Sig.
	Seal(ctx context.Context, op wire.Op) error
	// List returns a page of the area's ops, newest first.
	List(ctx context.Context, areaID string, limit, offset int) ([]wire.Op, int64, error)
}

// Workspaces is what areas need of workspaces.
type Workspaces interface {
	// Owned returns a workspace p owns (or, for an admin, any).
	Owned(ctx context.Context, p authn.Principal, id string) (wire.Workspace, error)
	// Stored returns a workspace whoever may read it.
	Stored(ctx context.Context, id string) (wire.Workspace, error)
}

// Events publishes facts after they are committed to the store.
type Events interface {
	Publish(ctx context.Context, typ, subject, actor string, data any) error
}

// SortField is a field lists can be ordered by.
type SortField string

// Sortable fields.
const (
	SortName      SortField = "name"
	SortCreatedAt SortField = "created_at"
	SortUpdatedAt SortField = "updated_at"
)

// SortFields lists the sortable fields.
var SortFields = []SortField{SortName, SortCreatedAt, SortUpdatedAt}

// Sort is one ordering key.
type Sort struct {
	Field SortField
	Desc  bool
}

// Query selects areas; empty fields do not filter, and all given must hold.
type Query struct {
	// Members: the areas these subjects are all members of (the filter
	// asked, and the viewer's own subject for a non-admin).
	Members   []string
	Workflow  string // "peer/id" keys
	Workspace string
	Resource  string
	Text      string
	// WithPeers: only areas with member peers.
	WithPeers bool
	Sort      []Sort
	Limit     int
	Offset    int
}

// Service implements the area use cases.
type Service struct {
	repo       Repository
	ops        OpLog
	workspaces Workspaces
	workflows  workflows.Fetcher
	resolver   resolve.Resolver
	events     Events
	peerID     string
	log        *slog.Logger
	now        func() time.Time

	signer    Signer
	keys      Keys
	announcer Announcer
}

// Deps are what the area service is built from.
type Deps struct {
	Repo       Repository
	Ops        OpLog
	Workspaces Workspaces
	Workflows  workflows.Fetcher
	Resolver   resolve.Resolver
	Events     Events
	PeerID     string
	Logger     *slog.Logger
}

// NewService returns the areas of peer d.PeerID.
func NewService(d Deps) *Service {
	return &Service{repo: d.Repo, ops: d.Ops, workspaces: d.Workspaces, workflows: d.Workflows, resolver: d.Resolver,
		events: d.Events, peerID: d.PeerID, log: d.Logger,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }}
}

// ---- access ----

// member returns the member who is user subject of peer self.
func member(r Record, self, subject string) (wire.Member, bool) {
	i := slices.IndexFunc(r.Members, func(m wire.Member) bool {
		return m.Subject == subject && (m.Peer == self || m.Peer == "")
	})
	if i < 0 {
		return wire.Member{}, false
	}
	return r.Members[i], true
}

func (s *Service) canRead(p authn.Principal, r Record) bool {
	if p.IsRemote() {
		return false
	}
	_, ok := member(r, s.peerID, p.Subject)
	return ok || p.IsAdmin()
}

// guardRead lets members and admins through; others get ErrNotFound.
func (s *Service) guardRead(p authn.Principal) func(Record) error {
	return func(r Record) error {
		if !s.canRead(p, r) {
			return errs.NotFound("area")
		}
		return nil
	}
}

// guardAdmin lets area admins and platform admins through; other members
// get ErrForbidden, others ErrNotFound.
func (s *Service) guardAdmin(p authn.Principal) func(Record) error {
	return func(r Record) error {
		if !s.canRead(p, r) {
			return errs.NotFound("area")
		}
		if m, _ := member(r, s.peerID, p.Subject); !m.Admin && !p.IsAdmin() {
			return errs.Forbidden("only an admin member of the area or a platform admin may do this")
		}
		return nil
	}
}

// ---- reads ----

// Get returns area id if p is a member or an admin.
func (s *Service) Get(ctx context.Context, p authn.Principal, id string) (wire.Area, error) {
	r, err := s.load(ctx, id, s.guardRead(p))
	return r.Wire(), err
}

// List returns a page of the areas matching q that p may see: a non-admin
// only ever sees areas they are a member of.
func (s *Service) List(ctx context.Context, p authn.Principal, q Query) ([]wire.Area, int64, error) {
	if !p.IsAdmin() {
		q.Members = append(q.Members, p.Subject)
	}
	recs, total, err := s.repo.Find(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("list areas: %w", err)
	}
	out := make([]wire.Area, len(recs))
	for i, r := range recs {
		out[i] = r.Wire()
	}
	return out, total, nil
}

// SharedWorkspaceIDs implements workspace.Sharing.
func (s *Service) SharedWorkspaceIDs(ctx context.Context, subject string) ([]string, error) {
	recs, _, err := s.repo.Find(ctx, Query{Members: []string{subject}})
	if err != nil {
		return nil, fmt.Errorf("areas of %s: %w", subject, err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, s.workspaceIDs(r)...)
	}
	return ids, nil
}

// AreaWorkspaceIDs implements workspace.Sharing.
func (s *Service) AreaWorkspaceIDs(ctx context.Context, p authn.Principal, areaID string) ([]string, error) {
	r, err := s.load(ctx, areaID, s.guardRead(p))
	if err != nil {
		return nil, err
	}
	return s.workspaceIDs(r), nil
}

func (s *Service) workspaceIDs(r Record) []string {
	ids := []string{}
	for _, it := range r.Items {
		if it.Kind == wire.SharedWorkspace && it.Ref.Peer == s.peerID {
			ids = append(ids, it.Ref.ID)
		}
	}
	return ids
}

// History returns a page of area id's changes, newest first.
func (s *Service) History(ctx context.Context, p authn.Principal, id string, limit, offset int) (wire.OpPage, error) {
	r, err := s.load(ctx, id, s.guardRead(p))
	if err != nil {
		return wire.OpPage{}, err
	}
	if err := s.logged(ctx, r); err != nil {
		return wire.OpPage{}, err
	}
	ops, total, err := s.ops.List(ctx, id, limit, offset)
	if err != nil {
		return wire.OpPage{}, fmt.Errorf("history of area %s: %w", id, err)
	}
	return wire.OpPage{Items: ops, Total: total, Limit: limit, Offset: offset}, nil
}

// ---- changes ----

// Create validates in and stores a new area; p becomes an admin member.
func (s *Service) Create(ctx context.Context, p authn.Principal, in wire.AreaInput) (wire.Area, error) {
	var probs errs.Problems
	checkText(&probs, "name", in.Name, 1, wire.MaxNameLength)
	checkText(&probs, "description", in.Description, 0, wire.MaxDescriptionLength)
	checkIdentifiers(&probs, "members", in.Members, "members")
	checkIdentifiers(&probs, "peers", in.Peers, "peers")
	CheckRules(&probs, "rules", in.Rules)
	if in.Version != 0 {
		probs.Add("version", "not accepted when creating an area; the service sets it")
	}
	if err := probs.Err(); err != nil {
		return wire.Area{}, err
	}
	if err := s.checkPartners(ctx, "peers", in.Peers); err != nil {
		return wire.Area{}, err
	}
	now := s.now()
	st := wire.Stamp{Clock: 1, Peer: s.peerID, By: p.Subject, At: now}
	r := Record{Area: wire.Area{ID: uuid.NewString(), Name: in.Name, Description: in.Description, Home: s.peerID,
		Members: []wire.Member{{Subject: p.Subject, Peer: s.peerID, Admin: true, Stamp: st}}, Peers: []wire.PeerMember{},
		Rules: []wire.RuleEntry{}, Clock: 1, CreatedBy: p.Subject, CreatedAt: now, UpdatedAt: now}, Items: []Item{},
		Vector: map[string]int64{s.peerID: 1}}
	for _, m := range in.Members {
		if _, ok := member(r, s.peerID, m); !ok {
			r.Members = append(r.Members, wire.Member{Subject: m, Peer: s.peerID, Stamp: st})
		}
	}
	for _, peer := range in.Peers {
		if !slices.ContainsFunc(r.Peers, func(pm wire.PeerMember) bool { return pm.Peer == peer }) {
			r.Peers = append(r.Peers, wire.PeerMember{Peer: peer, Stamp: st})
		}
	}
	for _, rule := range in.Rules {
		if rule.ID == "" {
			rule.ID = uuid.NewString()
		}
		r.Rules = append(r.Rules, wire.RuleEntry{Rule: rule, Stamp: st})
	}
	op := s.op(r.ID, 1, wire.OpCreated, st, r.Wire())
	op.OriginSeq = 1
	r.LastOp = &op
	v, err := s.repo.Insert(ctx, r)
	if err != nil {
		return wire.Area{}, fmt.Errorf("create area: %w", err)
	}
	r.Version = v
	s.committed(ctx, op, r.Home, r.Peers)
	return r.Wire(), nil
}

// Update changes area id's name and description, at version ifMatch or in.Version.
func (s *Service) Update(ctx context.Context, p authn.Principal, id string, in wire.AreaInput, ifMatch int64) (wire.Area, error) {
	want, err := version(ifMatch, in.Version)
	if err != nil {
		return wire.Area{}, err
	}
	var probs errs.Problems
	checkText(&probs, "name", in.Name, 1, wire.MaxNameLength)
	checkText(&probs, "description", in.Description, 0, wire.MaxDescriptionLength)
	for _, f := range []struct {
		name  string
		given bool
	}{{"members", in.Members != nil}, {"peers", in.Peers != nil}, {"rules", in.Rules != nil}} {
		if f.given {
			probs.Add(f.name, "not changed here: use the area's /%s routes", f.name)
		}
	}
	if err := probs.Err(); err != nil {
		return wire.Area{}, err
	}
	r, err := s.change(ctx, id, p.Subject, want, s.guardAdmin(p), func(r *Record, st wire.Stamp) (wire.OpType, any, error) {
		if r.Name == in.Name && r.Description == in.Description {
			return "", nil, nil
		}
		r.Name, r.Description = in.Name, in.Description
		return wire.OpUpdated, map[string]string{"name": in.Name, "description": in.Description}, nil
	})
	return r.Wire(), err
}

// Delete removes area id (area admins and platform admins).
func (s *Service) Delete(ctx context.Context, p authn.Principal, id string, ifMatch int64) error {
	cur, err := retry.OnConflict(ctx, func(ctx context.Context) (Record, error) {
		cur, err := s.load(ctx, id, s.guardAdmin(p))
		if err != nil {
			return Record{}, err
		}
		if ifMatch != 0 && ifMatch != cur.Version {
			return Record{}, &errs.ConflictError{Given: ifMatch, Current: cur.Version}
		}
		if err := s.logged(ctx, cur); err != nil {
			return Record{}, err
		}
		err = s.repo.Delete(ctx, id, cur.Version)
		if errors.Is(err, errs.ErrVersionConflict) {
			err = s.conflict(ctx, id, cur.Version)
			if ifMatch == 0 {
				err = retry.LostRace(err)
			}
			return Record{}, err
		}
		if err != nil {
			return Record{}, fmt.Errorf("delete area %s: %w", id, err)
		}
		return cur, nil
	})
	if err != nil {
		return err
	}
	st := wire.Stamp{Clock: cur.Clock + 1, Peer: s.peerID, By: p.Subject, At: s.now()}
	op := s.op(id, seq(cur)+1, wire.OpDeleted, st, map[string]string{"id": id})
	var err2 error
	if op.OriginSeq, err2 = s.nextOrigin(ctx, &cur); err2 != nil {
		s.log.WarnContext(ctx, "number the deletion of a shared area", "area", id, "err", err2)
	}
	s.committed(ctx, op, cur.Home, cur.Peers)
	return nil
}

// AddMember adds a user member, or changes a member's admin flag.
func (s *Service) AddMember(ctx context.Context, p authn.Principal, id string, in api.MemberInput) (wire.Area, error) {
	if !workspace.ValidIdentifier(in.Subject) {
		return wire.Area{}, errs.Invalid("subject", "expected the user's subject: 1 to %d characters without spaces or '/'", maxAreaIdentifier)
	}
	r, err := s.change(ctx, id, p.Subject, 0, s.guardAdmin(p), func(r *Record, st wire.Stamp) (wire.OpType, any, error) {
		peer := cmp.Or(in.Peer, s.peerID)
		m := wire.Member{Subject: in.Subject, Peer: peer, Admin: in.Admin, Stamp: st}
		i := slices.IndexFunc(r.Members, func(m wire.Member) bool { return m.Subject == in.Subject && cmp.Or(m.Peer, s.peerID) == peer })
		switch {
		case i >= 0 && r.Members[i].Admin == in.Admin:
			return "", nil, nil
		case i >= 0:
			if !in.Admin && admins(*r) == 1 {
				return "", nil, lastAdmin()
			}
			r.Members[i] = m
		case len(r.Members) >= wire.MaxMembers:
			return "", nil, errs.Invalid("subject", "the area has %d members already, the most it may", wire.MaxMembers)
		default:
			r.Members = append(r.Members, m)
		}
		return wire.OpMemberAdded, m, nil
	})
	return r.Wire(), err
}

// RemoveMember removes a user member; the last admin member stays.
func (s *Service) RemoveMember(ctx context.Context, p authn.Principal, id, subject, peer string) (wire.Area, error) {
	peer = cmp.Or(peer, s.peerID)
	r, err := s.change(ctx, id, p.Subject, 0, s.guardAdmin(p), func(r *Record, st wire.Stamp) (wire.OpType, any, error) {
		i := slices.IndexFunc(r.Members, func(m wire.Member) bool { return m.Subject == subject && cmp.Or(m.Peer, s.peerID) == peer })
		if i < 0 {
			return "", nil, errs.NotFound("member")
		}
		if r.Members[i].Admin && admins(*r) == 1 {
			return "", nil, lastAdmin()
		}
		r.Members = slices.Delete(r.Members, i, i+1)
		return wire.OpMemberRemoved, map[string]string{"subject": subject, "peer": peer}, nil
	})
	return r.Wire(), err
}

// AddPeer adds a member peer.
func (s *Service) AddPeer(ctx context.Context, p authn.Principal, id, peer string) (wire.Area, error) {
	if !workspace.ValidIdentifier(peer) {
		return wire.Area{}, errs.Invalid("peer", "expected a peer id: 1 to %d characters without spaces or '/'", maxAreaIdentifier)
	}
	if err := s.checkPartners(ctx, "peer", []string{peer}); err != nil {
		return wire.Area{}, err
	}
	r, err := s.change(ctx, id, p.Subject, 0, s.guardAdmin(p), func(r *Record, st wire.Stamp) (wire.OpType, any, error) {
		if slices.ContainsFunc(r.Peers, func(pm wire.PeerMember) bool { return pm.Peer == peer }) {
			return "", nil, nil
		}
		if len(r.Peers) >= wire.MaxMembers {
			return "", nil, errs.Invalid("peer", "the area has %d peers already, the most it may", wire.MaxMembers)
		}
		pm := wire.PeerMember{Peer: peer, Stamp: st}
		r.Peers = append(r.Peers, pm)
		return wire.OpPeerAdded, pm, nil
	})
	return r.Wire(), err
}

// RemovePeer removes a member peer.
func (s *Service) RemovePeer(ctx context.Context, p authn.Principal, id, peer string) (wire.Area, error) {
	r, err := s.change(ctx, id, p.Subject, 0, s.guardAdmin(p), func(r *Record, st wire.Stamp) (wire.OpType, any, error) {
		i := slices.IndexFunc(r.Peers, func(pm wire.PeerMember) bool { return pm.Peer == peer })
		if i < 0 {
			return "", nil, errs.NotFound("peer")
		}
		r.Peers = slices.Delete(r.Peers, i, i+1)
		return wire.OpPeerRemoved, map[string]string{"peer": peer}, nil
	})
	return r.Wire(), err
}

// candidate is an item about to be shared, with the facts it was checked on.
type candidate struct {
	item  Item
	known Known
}

// Share shares a workspace, a workflow or a resource in area id (any
// member). The item's usage is checked against the rule book first: an item
// breaking a rule is refused with the violations and nothing is written.
func (s *Service) Share(ctx context.Context, p authn.Principal, id string, in api.ShareInput) (wire.Area, error) {
	var probs errs.Problems
	if !slices.Contains([]wire.SharedKind{wire.SharedWorkspace, wire.SharedWorkflow, wire.SharedResource}, in.Kind) {
		probs.Add("kind", "expected one of workspace, workflow, resource")
	}
	refs := workspace.NormalizeRefs(&probs, "", []resource.Ref{in.Ref}, s.peerID, 1)
	if err := probs.Err(); err != nil {
		for i := range probs {
			if probs[i].Field != "kind" {
				probs[i].Field = "ref." + probs[i].Field
			}
		}
		return wire.Area{}, probs.Err()
	}
	ref := refs[0]
	if ref.Peer != s.peerID && in.Kind != wire.SharedResource {
		// A workspace or a workflow is shared by the peer holding it.
		return wire.Area{}, errs.Invalid("ref.peer", "a %s is shared by the peer holding it: %s", in.Kind, resolve.RemoteReason(ref.Peer))
	}
	// Only members may share: check before fetching anything on their behalf.
	if _, err := s.load(ctx, id, s.guardRead(p)); err != nil {
		return wire.Area{}, err
	}
	c, err := s.candidate(ctx, p, in.Kind, ref)
	if err != nil {
		return wire.Area{}, err
	}
	r, err := s.change(ctx, id, p.Subject, 0, s.guardRead(p), func(r *Record, st wire.Stamp) (wire.OpType, any, error) {
		vs, _ := Evaluate(s.book(*r), Subject{Kind: in.Kind, Usage: c.item.Usage}, c.known)
		if len(vs) > 0 {
			return "", nil, errs.RuleBroken(vs)
		}
		it := c.item
		it.Stamp = st
		i := slices.IndexFunc(r.Items, func(x Item) bool { return x.Kind == it.Kind && x.Ref == it.Ref })
		if i >= 0 {
			old := r.Items[i]
			if old.Name == it.Name && sameUsage(old.Usage, it.Usage) {
				return "", nil, nil
			}
			it.Facts = mergeFacts(old.Facts, it.Facts, it.Usage)
			r.Items[i] = it
			return wire.OpItemUpdated, it.Shared, nil
		}
		if count(r.Items, it.Kind) >= wire.MaxShared {
			return "", nil, errs.Invalid("kind", "the area shares %d items of this kind already, the most it may", wire.MaxShared)
		}
		r.Items = append(r.Items, it)
		return wire.OpShared, it.Shared, nil
	})
	return r.Wire(), err
}

// candidate fetches the item to share as p sees it, and the facts of what it uses.
func (s *Service) candidate(ctx context.Context, p authn.Principal, kind wire.SharedKind, ref resource.Ref) (candidate, error) {
	it := Item{Shared: wire.Shared{Kind: kind, Ref: ref}}
	switch kind {
	case wire.SharedWorkspace:
		w, err := s.workspaces.Owned(ctx, p, ref.ID)
		if err != nil {
			return candidate{}, err
		}
		it.Name, it.Usage, it.SourceVersion = w.Name, usageOfWorkspace(w), w.Version
	case wire.SharedWorkflow:
		w, err := s.workflows.Get(ctx, p.Token, ref.ID)
		if err != nil {
			return candidate{}, err
		}
		it.Name, it.Usage, it.SourceVersion = w.Name, workflow.UsageOf(w.Graph), w.Version
	case wire.SharedResource:
		res := s.resolver.Resolve(ctx, p.Token, []resource.Ref{ref})[0]
		if res.Resource == nil {
			return candidate{}, fmt.Errorf("resource %s (%s): %w", ref, res.Reason, errs.NotFound("resource"))
		}
		it.Name = res.Resource.Name
		it.Usage = workflow.Usage{Resources: []resource.Ref{ref}, Writes: []resource.Ref{}}
	}
	known := s.resolve(ctx, p.Token, usageRefs(it.Usage))
	it.Facts = factsOf(known, it.Usage)
	return candidate{item: it, known: known}, nil
}

// Unshare removes an item from area id (any member).
func (s *Service) Unshare(ctx context.Context, p authn.Principal, id string, kind wire.SharedKind, ref resource.Ref) (wire.Area, error) {
	r, err := s.change(ctx, id, p.Subject, 0, s.guardRead(p), func(r *Record, st wire.Stamp) (wire.OpType, any, error) {
		i := slices.IndexFunc(r.Items, func(x Item) bool { return x.Kind == kind && x.Ref == ref })
		if i < 0 {
			return "", nil, errs.NotFound("shared item")
		}
		r.Items = slices.Delete(r.Items, i, i+1)
		return wire.OpUnshared, map[string]any{"kind": kind, "ref": ref}, nil
	})
	return r.Wire(), err
}

// SetRules replaces area id's rule book at version ifMatch or in.Version,
// then re-checks everything the area holds against it. Contents breaking
// the new rules do not stop the change: the report lists them.
func (s *Service) SetRules(ctx context.Context, p authn.Principal, id string, in api.RulesInput, ifMatch int64) (wire.RulesResult, error) {
	want, err := version(ifMatch, in.Version)
	if err != nil {
		return wire.RulesResult{}, err
	}
	var probs errs.Problems
	if in.Rules == nil {
		probs.Add("rules", "required: the whole new rule book ([] for none)")
	}
	CheckRules(&probs, "rules", in.Rules)
	if err := probs.Err(); err != nil {
		return wire.RulesResult{}, err
	}
	cur, err := s.load(ctx, id, s.guardAdmin(p))
	if err != nil {
		return wire.RulesResult{}, err
	}
	if want != cur.Version {
		return wire.RulesResult{}, &errs.ConflictError{Given: want, Current: cur.Version}
	}
	subjects, known := s.gather(ctx, p, cur)
	var report wire.Report
	r, err := s.change(ctx, id, p.Subject, want, s.guardAdmin(p), func(r *Record, st wire.Stamp) (wire.OpType, any, error) {
		old := make(map[string]wire.RuleEntry, len(r.Rules))
		for _, e := range r.Rules {
			old[e.ID] = e
		}
		book := make([]wire.RuleEntry, len(in.Rules))
		changed := len(in.Rules) != len(r.Rules)
		for i, rule := range in.Rules {
			if rule.ID == "" {
				rule.ID = uuid.NewString()
			}
			e, ok := old[rule.ID]
			if !ok || !sameRule(e.Rule, rule) {
				e = wire.RuleEntry{Rule: rule, Stamp: st}
				changed = true
			}
			if r.Rules != nil && i < len(r.Rules) && r.Rules[i].ID != rule.ID {
				changed = true // reordered
			}
			book[i] = e
		}
		r.Rules = book
		report = s.evaluate(*r, subjects, known)
		refreshFacts(r, known)
		if !changed {
			return "", nil, nil
		}
		return wire.OpRulesChanged, map[string]any{"rules": book}, nil
	})
	if err != nil {
		return wire.RulesResult{}, err
	}
	return wire.RulesResult{Area: r.Wire(), Report: report}, nil
}

// Violations re-checks everything area id holds against its rules now.
func (s *Service) Violations(ctx context.Context, p authn.Principal, id string) (wire.Report, error) {
	r, err := s.load(ctx, id, s.guardRead(p))
	if err != nil {
		return wire.Report{}, err
	}
	subjects, known := s.gather(ctx, p, r)
	return s.evaluate(r, subjects, known), nil
}

// CheckWorkflow evaluates usage against the rules of every area that holds
// workflow in.WorkflowID: what oc-workflow asks before saving a workflow.
// The caller need not be a member of those areas (they are editing the
// workflow); the answer names areas and rules, nothing else of them.
func (s *Service) CheckWorkflow(ctx context.Context, p authn.Principal, in wire.WorkflowCheck) (wire.Report, error) {
	var probs errs.Problems
	if !workspace.ValidIdentifier(in.WorkflowID) {
		probs.Add("workflow_id", "expected the workflow's id: 1 to %d characters without spaces or '/'", maxAreaIdentifier)
	}
	refs := workspace.NormalizeRefs(&probs, "usage.resources", in.Usage.Resources, s.peerID, 2*workflowMaxNodes)
	writes := workspace.NormalizeRefs(&probs, "usage.writes", in.Usage.Writes, s.peerID, 2*workflowMaxNodes)
	if err := probs.Err(); err != nil {
		return wire.Report{}, err
	}
	usage := workflow.Usage{Resources: refs, Writes: writes}
	recs, err := s.holders(ctx, wire.SharedWorkflow, resource.Ref{Peer: s.peerID, ID: in.WorkflowID})
	if err != nil || len(recs) == 0 {
		return wire.Report{Violations: []wire.Violation{}, Unchecked: []wire.Unchecked{}}, err
	}
	// Areas holding it name themselves and their rules only to those who
	// may read the workflow (its owner editing it, first of all).
	if !p.IsAdmin() {
		if _, err := s.workflows.Get(ctx, p.Token, in.WorkflowID); err != nil {
			return wire.Report{}, err
		}
	}
	return s.checkHolders(ctx, p, wire.SharedWorkflow, in.WorkflowID, usage)
}

// CheckWorkspace evaluates the resources workspace workspaceID would hold
// against the rules of every area sharing it: a shared workspace may not
// take in what its areas refuse. refs are normalised already.
func (s *Service) CheckWorkspace(ctx context.Context, p authn.Principal, workspaceID string, refs []resource.Ref) (wire.Report, error) {
	return s.checkHolders(ctx, p, wire.SharedWorkspace, workspaceID, workflow.Usage{Resources: refs, Writes: []resource.Ref{}})
}

// checkHolders evaluates usage as the new usage of this peer's item id
// against the rules of every area holding it.
func (s *Service) checkHolders(ctx context.Context, p authn.Principal, kind wire.SharedKind, id string, usage workflow.Usage) (wire.Report, error) {
	ref := resource.Ref{Peer: s.peerID, ID: id}
	recs, err := s.holders(ctx, kind, ref)
	if err != nil {
		return wire.Report{}, err
	}
	report := wire.Report{Violations: []wire.Violation{}, Unchecked: []wire.Unchecked{}}
	if len(recs) == 0 {
		return report, nil
	}
	known := s.resolve(ctx, p.Token, usageRefs(usage))
	seen := map[resource.Ref]bool{}
	for _, r := range recs {
		var snap []Fact
		if i := slices.IndexFunc(r.Items, func(x Item) bool { return x.Kind == kind && x.Ref == ref }); i >= 0 {
			snap = r.Items[i].Facts
		}
		vs, un := Evaluate(s.book(r), Subject{Kind: kind, Usage: usage, Snapshot: snap}, known)
		report.Violations = append(report.Violations, vs...)
		for _, u := range un {
			if !seen[u.Resource] {
				seen[u.Resource] = true
				report.Unchecked = append(report.Unchecked, u)
			}
		}
	}
	return report, nil
}

// holders returns the areas holding item ref of the given kind.
func (s *Service) holders(ctx context.Context, kind wire.SharedKind, ref resource.Ref) ([]Record, error) {
	q := Query{Workflow: Key(ref)}
	if kind == wire.SharedWorkspace {
		q = Query{Workspace: Key(ref)}
	}
	recs, _, err := s.repo.Find(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("areas holding %s %s: %w", kind, ref, err)
	}
	return recs, nil
}

// workflowMaxNodes bounds a usage's references as a graph bounds its nodes.
const workflowMaxNodes = workflow.MaxNodes

// WorkflowChanged keeps the areas holding workflow w in step with it: its
// name and usage (w deleted: the item is removed). by is who changed it. A
// w older than the version an area holds changes nothing.
func (s *Service) WorkflowChanged(ctx context.Context, by string, w workflow.Workflow, deleted bool) error {
	return s.itemChanged(ctx, by, wire.SharedWorkflow, w.ID, w.Version, w.Name, workflow.UsageOf(w.Graph), deleted)
}

// WorkspaceChanged keeps the areas sharing workspace w in step with it, as
// WorkflowChanged does for workflows.
func (s *Service) WorkspaceChanged(ctx context.Context, by string, w wire.Workspace, deleted bool) error {
	return s.itemChanged(ctx, by, wire.SharedWorkspace, w.ID, w.Version, w.Name, usageOfWorkspace(w), deleted)
}

// itemChanged carries version of item id (0: unknown) to the areas sharing it.
func (s *Service) itemChanged(ctx context.Context, by string, kind wire.SharedKind, id string, version int64, name string, usage workflow.Usage, deleted bool) error {
	ref := resource.Ref{Peer: s.peerID, ID: id}
	recs, err := s.holders(ctx, kind, ref)
	if err != nil {
		return err
	}
	var failed []error
	for _, rec := range recs {
		_, err := s.change(ctx, rec.ID, by, 0, func(Record) error { return nil }, func(r *Record, st wire.Stamp) (wire.OpType, any, error) {
			i := slices.IndexFunc(r.Items, func(x Item) bool { return x.Kind == kind && x.Ref == ref })
			if i < 0 {
				return "", nil, nil
			}
			if deleted {
				r.Items = slices.Delete(r.Items, i, i+1)
				return wire.OpUnshared, map[string]any{"kind": kind, "ref": ref}, nil
			}
			it := r.Items[i]
			if version != 0 && version < it.SourceVersion {
				return "", nil, nil
			}
			if it.Name == name && sameUsage(it.Usage, usage) {
				return "", nil, nil
			}
			it.Name, it.Usage, it.Stamp, it.SourceVersion = name, usage, st, max(version, it.SourceVersion)
			r.Items[i] = it
			return wire.OpItemUpdated, it.Shared, nil
		})
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			failed = append(failed, err)
		}
	}
	return errors.Join(failed...)
}

// change applies fn to area id at version want (0: whatever is current,
// retrying a lost race). fn returns the op type and data of the change, or
// "" when nothing changes. The area's clock advances by one; the change is
// stamped, kept as the area's LastOp, then appended to the log and announced.
func (s *Service) change(ctx context.Context, id, by string, want int64, guard func(Record) error,
	fn func(r *Record, st wire.Stamp) (wire.OpType, any, error),
) (Record, error) {
	return retry.OnConflict(ctx, func(ctx context.Context) (Record, error) {
		cur, err := s.load(ctx, id, guard)
		if err != nil {
			return Record{}, err
		}
		if want != 0 && want != cur.Version {
			return Record{}, &errs.ConflictError{Given: want, Current: cur.Version}
		}
		if err := s.logged(ctx, cur); err != nil {
			return Record{}, err
		}
		next := clone(cur)
		st := wire.Stamp{Clock: cur.Clock + 1, Peer: s.peerID, By: by, At: s.now()}
		typ, data, err := fn(&next, st)
		if err != nil {
			return Record{}, err
		}
		if typ == "" {
			return cur, nil
		}
		next.Clock, next.UpdatedAt = st.Clock, st.At
		op := s.op(id, seq(cur)+1, typ, st, data)
		if op.OriginSeq, err = s.nextOrigin(ctx, &next); err != nil {
			return Record{}, err
		}
		next.LastOp, next.Pending = &op, nil
		v, err := s.repo.Replace(ctx, next, cur.Version)
		if errors.Is(err, errs.ErrVersionConflict) || errors.Is(err, errs.ErrNotFound) {
			err = s.conflict(ctx, id, cur.Version)
			if want == 0 {
				err = retry.LostRace(err)
			}
			return Record{}, err
		}
		if err != nil {
			return Record{}, fmt.Errorf("update area %s: %w", id, err)
		}
		next.Version = v
		// The peers told are those before and after the change: a peer
		// removed learns it was.
		s.committed(ctx, op, next.Home, append(slices.Clone(cur.Peers), next.Peers...))
		return next, nil
	})
}

// load reads area id and lets guard decide whether the caller may go on.
func (s *Service) load(ctx context.Context, id string, guard func(Record) error) (Record, error) {
	r, err := s.repo.Get(ctx, id)
	if err != nil {
		return Record{}, fmt.Errorf("get area %s: %w", id, err)
	}
	if err := guard(r); err != nil {
		return Record{}, err
	}
	return r, nil
}

// logged makes sure the area's last op is in the log: a change that
// stopped between its replace and its append is completed here.
func (s *Service) logged(ctx context.Context, r Record) error {
	pending := r.Pending
	if r.LastOp != nil && !slices.ContainsFunc(pending, func(op wire.Op) bool { return op.ID == r.LastOp.ID }) {
		pending = append(slices.Clone(pending), *r.LastOp)
	}
	for _, op := range pending {
		if err := s.ops.Append(ctx, op); err != nil && !errors.Is(err, errs.ErrDuplicate) {
			return fmt.Errorf("log op %d of area %s: %w", op.Seq, r.ID, err)
		}
	}
	return nil
}

// committed appends a committed op to the log and announces it. A failed
// append is repaired by the next change (LastOp), a lost event by readers
// reconciling from the store, so neither fails the request.
func (s *Service) committed(ctx context.Context, op wire.Op, home string, peers []wire.PeerMember) {
	if err := s.ops.Append(ctx, op); err != nil && !errors.Is(err, errs.ErrDuplicate) {
		s.log.WarnContext(ctx, "area op not logged yet; the next change will", "area", op.AreaID, "seq", op.Seq, "err", err)
	}
	s.announce(op.AreaID, home, peers)
	if s.events == nil {
		return
	}
	s.publish(ctx, op)
}

// publish announces op on NATS.
func (s *Service) publish(ctx context.Context, op wire.Op) {
	if s.events == nil {
		return
	}
	if err := s.events.Publish(ctx, event.AreaChanged, op.AreaID, op.Stamp.By, op); err != nil {
		s.log.WarnContext(ctx, "area event not published", "area", op.AreaID, "seq", op.Seq, "err", err)
	}
}

func (s *Service) op(areaID string, seq int64, typ wire.OpType, st wire.Stamp, data any) wire.Op {
	raw, err := json.Marshal(data)
	if err != nil {
		// The data are the service's own types, which always encode.
		panic(fmt.Sprintf("area: encode op data: %v", err))
	}
	return wire.Op{ID: uuid.NewString(), AreaID: areaID, Seq: seq, Type: typ, Stamp: st, Data: raw}
}

func (s *Service) conflict(ctx context.Context, id string, given int64) error {
	now, err := s.repo.Get(ctx, id)
	if errors.Is(err, errs.ErrNotFound) {
		return fmt.Errorf("area %s: %w", id, errs.NotFound("area"))
	}
	if err != nil {
		return fmt.Errorf("area %s: %w", id, err)
	}
	return &errs.ConflictError{Given: given, Current: now.Version}
}

// ---- checking ----

func (s *Service) book(r Record) Book {
	b := Book{AreaID: r.ID, AreaName: r.Name, LocalPeer: s.peerID}
	for _, pm := range r.Peers {
		b.MemberPeers = append(b.MemberPeers, pm.Peer)
	}
	for _, e := range r.Rules {
		b.Rules = append(b.Rules, e.Rule)
	}
	return b
}

// resolve learns the facts of refs with token.
func (s *Service) resolve(ctx context.Context, token string, refs []resource.Ref) Known {
	k := Known{Facts: map[resource.Ref]Fact{}, Reasons: map[resource.Ref]string{}}
	if len(refs) == 0 {
		return k
	}
	now := s.now()
	for _, res := range s.resolver.Resolve(ctx, token, refs) {
		if res.Resource != nil {
			k.Facts[res.Ref] = FactOf(res.Ref, *res.Resource, now)
		} else {
			k.Reasons[res.Ref] = res.Reason
		}
	}
	return k
}

// gather reads the current usage of everything area r holds, as p may see
// it: workspaces from this service's store, workflows re-fetched when p may
// read them (else the usage stored), and the facts of every resource used.
func (s *Service) gather(ctx context.Context, p authn.Principal, r Record) ([]Subject, Known) {
	subjects := make([]Subject, len(r.Items))
	var refs []resource.Ref
	for i, it := range r.Items {
		ref := it.Ref
		sub := Subject{Kind: it.Kind, Ref: &ref, Usage: it.Usage, Snapshot: it.Facts}
		if it.Ref.Peer == s.peerID {
			switch it.Kind {
			case wire.SharedWorkspace:
				if w, err := s.workspaces.Stored(ctx, it.Ref.ID); err == nil {
					sub.Usage = usageOfWorkspace(w)
				}
			case wire.SharedWorkflow:
				if w, err := s.workflows.Get(ctx, p.Token, it.Ref.ID); err == nil {
					sub.Usage = workflow.UsageOf(w.Graph)
				}
			}
		}
		subjects[i] = sub
		refs = append(refs, usageRefs(sub.Usage)...)
	}
	return subjects, s.resolve(ctx, p.Token, dedup(refs))
}

func (s *Service) evaluate(r Record, subjects []Subject, known Known) wire.Report {
	report := wire.Report{Violations: []wire.Violation{}, Unchecked: []wire.Unchecked{}}
	seen := map[resource.Ref]bool{}
	b := s.book(r)
	for _, sub := range subjects {
		vs, un := Evaluate(b, sub, known)
		report.Violations = append(report.Violations, vs...)
		for _, u := range un {
			if !seen[u.Resource] {
				seen[u.Resource] = true
				report.Unchecked = append(report.Unchecked, u)
			}
		}
	}
	return report
}

// refreshFacts stores in each item the facts just learnt of what it uses.
func refreshFacts(r *Record, known Known) {
	for i, it := range r.Items {
		fresh := factsOf(known, it.Usage)
		if len(fresh) > 0 {
			r.Items[i].Facts = mergeFacts(it.Facts, fresh, it.Usage)
		}
	}
}

// ---- helpers ----

func version(ifMatch, body int64) (int64, error) {
	switch {
	case ifMatch == 0 && body == 0:
		return 0, errs.ErrPreconditionRequired
	case ifMatch != 0 && body != 0 && ifMatch != body:
		return 0, errs.Invalid("version", "the body names version %d but If-Match names %d; send one, or the same in both", body, ifMatch)
	}
	return max(ifMatch, body), nil
}

func seq(r Record) int64 {
	if r.LastOp == nil {
		return 0
	}
	return r.LastOp.Seq
}

func admins(r Record) int {
	n := 0
	for _, m := range r.Members {
		if m.Admin {
			n++
		}
	}
	return n
}

func lastAdmin() error {
	return &errs.StateError{Code: "last_admin",
		Message: "this is the area's last admin member: make another member an admin first"}
}

func count(items []Item, k wire.SharedKind) int {
	n := 0
	for _, it := range items {
		if it.Kind == k {
			n++
		}
	}
	return n
}

func clone(r Record) Record {
	r.Members = slices.Clone(r.Members)
	r.Peers = slices.Clone(r.Peers)
	r.Rules = slices.Clone(r.Rules)
	r.Items = slices.Clone(r.Items)
	return r
}

func usageOfWorkspace(w wire.Workspace) workflow.Usage {
	u := workflow.Usage{Resources: make([]resource.Ref, len(w.Resources)), Writes: []resource.Ref{}}
	for i, e := range w.Resources {
		u.Resources[i] = e.Ref
	}
	return u
}

func usageRefs(u workflow.Usage) []resource.Ref {
	return dedup(append(slices.Clone(u.Resources), u.Writes...))
}

func dedup(refs []resource.Ref) []resource.Ref {
	seen := make(map[resource.Ref]bool, len(refs))
	out := refs[:0:0]
	for _, r := range refs {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

func sameUsage(a, b workflow.Usage) bool {
	return slices.Equal(a.Resources, b.Resources) && slices.Equal(a.Writes, b.Writes)
}

func sameRule(a, b wire.Rule) bool {
	return a.ID == b.ID && a.Kind == b.Kind && a.Note == b.Note &&
		slices.Equal(a.Jurisdictions, b.Jurisdictions) && slices.Equal(a.Peers, b.Peers)
}

// factsOf is the facts known now of what u uses.
func factsOf(k Known, u workflow.Usage) []Fact {
	var out []Fact
	for _, ref := range usageRefs(u) {
		if f, ok := k.Facts[ref]; ok {
			out = append(out, f)
		}
	}
	return out
}

// mergeFacts keeps the newest facts of each resource u uses.
func mergeFacts(old, fresh []Fact, u workflow.Usage) []Fact {
	out := slices.Clone(fresh)
	have := make(map[resource.Ref]bool, len(fresh))
	for _, f := range fresh {
		have[f.Ref] = true
	}
	used := map[resource.Ref]bool{}
	for _, r := range usageRefs(u) {
		used[r] = true
	}
	for _, f := range old {
		if !have[f.Ref] && used[f.Ref] {
			out = append(out, f)
		}
	}
	return out
}
