// Package workspace holds the wire types of oc-workspace: workspaces (a
// user's named selections of resources, local or a partner's) and
// collaborative areas (members, what they share, a rule book, a history).
// The rules themselves — what breaks them, who may change what — live in
// oc-workspace.
//
// A collaborative area is stored in a form that member peers can replicate
// and merge: the area, every member, every shared item and every rule has a stable
// id; every element carries the logical clock and peer of the change that
// last set it (per-element versions, merged last-writer-wins by (clock,
// peer)); and every change is an Op in the area's log, which is the history.
package workspace

import (
	"encoding/json"
	"time"

	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/workflow"
)

// Limits.
const (
	MaxNameLength        = 200
	MaxDescriptionLength = 10000
	MaxResources         = 10000 // per workspace
	MaxMembers           = 1000  // users and peers, each, per area
	MaxShared            = 10000 // workspaces, workflows and resources, each, per area
	MaxRules             = 100
)

// Entry is one resource of a workspace.
type Entry struct {
	Ref     resource.Ref `json:"ref"`
	AddedAt time.Time    `json:"added_at"`
}

// Input is what a caller writes to create or replace a workspace.
type Input struct {
	Name        string         `json:"name" validate:"required" example:"Paris NDVI study"`
	Description string         `json:"description,omitempty"`
	Resources   []resource.Ref `json:"resources,omitempty"`
	// Version, on a replace, is the version being replaced (or If-Match).
	Version int64 `json:"version,omitempty"`
}

// Workspace is a workspace as oc-workspace serves it.
type Workspace struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Owner       string  `json:"owner"`
	Resources   []Entry `json:"resources"`
	// WorkflowID is set on the workspace a workflow owns; only oc-workflow
	// changes its resources, following the graph.
	WorkflowID string    `json:"workflow_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	Version    int64     `json:"version"`
}

// Page is one page of workspaces.
type Page struct {
	Items  []Workspace `json:"items"`
	Total  int64       `json:"total"`
	Limit  int         `json:"limit"`
	Offset int         `json:"offset"`
}

// Resolved is a reference with what its catalog says about it now. A
// resource that cannot be resolved (its peer unreachable, deleted, no
// longer visible) stays listed, with Available false and the reason.
type Resolved struct {
	Ref       resource.Ref       `json:"ref"`
	AddedAt   time.Time          `json:"added_at,omitzero"`
	Available bool               `json:"available"`
	Reason    string             `json:"reason,omitempty" example:"peer \"partner-b\" is not reachable"`
	Resource  *resource.Resource `json:"resource,omitempty"`
}

// ResolvedPage is one page of a workspace's resolved resources.
type ResolvedPage struct {
	Items  []Resolved `json:"items"`
	Total  int64      `json:"total"`
	Limit  int        `json:"limit"`
	Offset int        `json:"offset"`
}

// WorkflowWorkspace is the body of PUT /workspace/workspaces/by-workflow/{id}:
// oc-workflow creating or updating the workspace a workflow owns.
type WorkflowWorkspace struct {
	// Name is the workflow's name; the workspace is named "<name>_workspace".
	Name string `json:"name" validate:"required"`
	// Owner is the workflow's owner; the caller must be it or an admin.
	Owner     string         `json:"owner" validate:"required"`
	Resources []resource.Ref `json:"resources"`
	// WorkflowVersion orders updates: one older than the last applied is ignored.
	WorkflowVersion int64 `json:"workflow_version" validate:"required"`
}

// RuleKind is what a rule of a collaborative area requires.
type RuleKind string

// Rule kinds.
const (
	// RuleOpenSource: every processing is open source (processing.open_source).
	RuleOpenSource RuleKind = "open_source_processings"
	// RuleNoPersonalData: no data set marked as personal (data.personal_data).
	RuleNoPersonalData RuleKind = "no_personal_data"
	// RuleJurisdictions: data, storages and computes are in one of
	// Jurisdictions (data/storage "jurisdiction", compute "country"; "EU"
	// covers the EU member states). A resource that states none breaks it.
	RuleJurisdictions RuleKind = "jurisdictions"
	// RuleResultsMembersOnly: storages that workflows write to belong to
	// this peer or a member peer and are visible to their owners or groups
	// only (not public, not partners).
	RuleResultsMembersOnly RuleKind = "results_members_only"
	// RuleComputePeers: every compute is provided by one of Peers.
	RuleComputePeers RuleKind = "compute_peers"
)

// RuleKinds lists every rule kind.
var RuleKinds = []RuleKind{RuleOpenSource, RuleNoPersonalData, RuleJurisdictions, RuleResultsMembersOnly, RuleComputePeers}

// Rule is one rule of a rule book: data, evaluated by oc-workspace.
type Rule struct {
	// ID is stable across changes; given by the server when empty.
	ID   string   `json:"id,omitempty" example:"r-eu-only"`
	Kind RuleKind `json:"kind" validate:"required" enums:"open_source_processings,no_personal_data,jurisdictions,results_members_only,compute_peers"`
	// Jurisdictions: ISO 3166-1 alpha-2 codes or "EU"; required by "jurisdictions" only.
	Jurisdictions []string `json:"jurisdictions,omitempty" example:"FR,DE"`
	// Peers: peer ids; required by "compute_peers" only.
	Peers []string `json:"peers,omitempty"`
	// Note is free text shown with violations (the legal basis, a contact).
	Note string `json:"note,omitempty"`
}

// Stamp is the per-element version of a replicated element: the logical
// clock and the peer of the change that last set it, who made it and when.
type Stamp struct {
	Clock int64     `json:"clock"`
	Peer  string    `json:"peer"`
	By    string    `json:"by"`
	At    time.Time `json:"at"`
}

// Member is a user member of an area: a user of one of its peers.
type Member struct {
	Subject string `json:"subject"`
	// Peer is the peer the user belongs to (its subject is that peer's);
	// empty in areas made before areas were shared between peers, where
	// it is the peer holding the area.
	Peer string `json:"peer,omitempty"`
	// Admin members may change the area's members, rules and description.
	Admin bool  `json:"admin"`
	Stamp Stamp `json:"stamp"`
}

// PeerMember is a peer member of an area.
type PeerMember struct {
	Peer  string `json:"peer"`
	Stamp Stamp  `json:"stamp"`
}

// SharedKind is what a shared item is.
type SharedKind string

// Shared item kinds.
const (
	SharedWorkspace SharedKind = "workspace"
	SharedWorkflow  SharedKind = "workflow"
	SharedResource  SharedKind = "resource" // a resource or a service of the catalog
)

// Shared is an item shared in an area.
type Shared struct {
	Kind SharedKind `json:"kind" enums:"workspace,workflow,resource"`
	// Ref is the item: for a resource, its catalog reference; for a
	// workspace or workflow, {peer, id} of the peer holding it.
	Ref  resource.Ref `json:"ref"`
	Name string       `json:"name"`
	// Usage is what the item uses, as rules see it: the workspace's
	// resources, the workflow's resources and written storages, or the
	// resource itself.
	Usage workflow.Usage `json:"usage"`
	Stamp Stamp          `json:"stamp"`
}

// RuleEntry is a rule of the area's book with its per-element version.
type RuleEntry struct {
	Rule
	Stamp Stamp `json:"stamp"`
}

// Area is a collaborative area as oc-workspace serves it.
type Area struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Members     []Member `json:"members"`
	// Home is the peer where the area was made; it holds the area with
	// the member peers.
	Home   string       `json:"home,omitempty"`
	Peers  []PeerMember `json:"peers"`
	Shared []Shared     `json:"shared"`
	Rules  []RuleEntry  `json:"rules"`
	// Clock is the area's logical clock: the highest Stamp.Clock it holds.
	Clock     int64     `json:"clock"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

// AreaPage is one page of areas.
type AreaPage struct {
	Items  []Area `json:"items"`
	Total  int64  `json:"total"`
	Limit  int    `json:"limit"`
	Offset int    `json:"offset"`
}

// AreaInput is what a caller writes to create an area or change its name,
// description and (on create) its first members, peers and rules.
type AreaInput struct {
	Name        string   `json:"name" validate:"required" example:"Urban heat consortium"`
	Description string   `json:"description,omitempty"`
	Members     []string `json:"members,omitempty"` // subjects; the creator is always an admin member
	Peers       []string `json:"peers,omitempty"`
	Rules       []Rule   `json:"rules,omitempty"`
	Version     int64    `json:"version,omitempty"`
}

// Violation is one way something held by an area breaks one of its rules.
type Violation struct {
	AreaID   string   `json:"area_id"`
	AreaName string   `json:"area_name"`
	RuleID   string   `json:"rule_id"`
	RuleKind RuleKind `json:"rule_kind"`
	// Item is the shared item concerned (absent when checking a candidate).
	Item *resource.Ref `json:"item,omitempty"`
	// ItemKind is the kind of Item.
	ItemKind SharedKind `json:"item_kind,omitempty"`
	// Resource is the resource that breaks the rule.
	Resource resource.Ref `json:"resource"`
	Message  string       `json:"message" example:"processing \"ndvi\" is not open source (rule \"open_source_processings\")"`
}

// Unchecked is a resource a rule could not be evaluated on, and why (its
// peer is unreachable, or the caller may not see it).
type Unchecked struct {
	Resource resource.Ref `json:"resource"`
	Reason   string       `json:"reason"`
}

// Report is the outcome of checking an area's rules.
type Report struct {
	Violations []Violation `json:"violations"`
	Unchecked  []Unchecked `json:"unchecked"`
}

// RulesResult answers a change of the rule book: the area as changed, and
// what it holds that breaks the new rules.
type RulesResult struct {
	Area   Area   `json:"area"`
	Report Report `json:"report"`
}

// WorkflowCheck is the body of POST /workspace/areas/check: would this
// usage of workflow WorkflowID break a rule of an area that holds it?
type WorkflowCheck struct {
	WorkflowID string         `json:"workflow_id" validate:"required"`
	Usage      workflow.Usage `json:"usage"`
}

// OpType names a change of an area.
type OpType string

// Op types.
const (
	OpCreated       OpType = "area.created"
	OpUpdated       OpType = "area.updated" // name or description
	OpDeleted       OpType = "area.deleted"
	OpMemberAdded   OpType = "member.added"
	OpMemberRemoved OpType = "member.removed"
	OpPeerAdded     OpType = "peer.added"
	OpPeerRemoved   OpType = "peer.removed"
	OpShared        OpType = "item.shared"
	OpUnshared      OpType = "item.unshared"
	OpItemUpdated   OpType = "item.updated" // a shared workflow or workspace changed
	OpRulesChanged  OpType = "rules.changed"
)

// Op is one change of an area: an entry of its history, and the unit in
// which an area's changes can be replicated between peers.
type Op struct {
	ID     string `json:"id"`
	AreaID string `json:"area_id"`
	// Seq numbers the area's ops on this peer: 1, 2, 3…
	Seq   int64  `json:"seq"`
	Type  OpType `json:"type"`
	Stamp Stamp  `json:"stamp"`
	// Data is the change: the element added, removed or set.
	Data json.RawMessage `json:"data,omitempty" swaggertype:"object"`
	// OriginSeq numbers the ops of the area its author peer (Stamp.Peer)
	// made: 1, 2, 3… Member peers compare them (version vectors) to find
	// what they miss of each other. 0 in ops made before areas were shared.
	OriginSeq int64 `json:"origin_seq,omitempty"`
	// KeyID and Sig are the author peer's signature of the op (see
	// OpSigningInput), checked by every member peer that receives it.
	KeyID string `json:"key_id,omitempty"`
	Sig   []byte `json:"sig,omitempty" swaggertype:"string" format:"base64"`
}

// OpSigningPurpose names what an op signature is for: oc-peer signs only
// payloads of known purposes, each prefixed with its name.
const OpSigningPurpose = "area-op"

// OpSigningInput is what the author peer signs of an op: every field but
// the local Seq and the signature itself, as JSON in a fixed field order.
func OpSigningInput(op Op) []byte {
	b, err := json.Marshal(struct {
		ID        string          `json:"id"`
		AreaID    string          `json:"area_id"`
		Type      OpType          `json:"type"`
		Stamp     Stamp           `json:"stamp"`
		Data      json.RawMessage `json:"data,omitempty"`
		OriginSeq int64           `json:"origin_seq"`
	}{op.ID, op.AreaID, op.Type, op.Stamp, op.Data, op.OriginSeq})
	if err != nil {
		// Data is already valid JSON and the rest always encodes.
		panic("workspace: encode op: " + err.Error())
	}
	return b
}

// OpPage is one page of an area's history, newest first.
type OpPage struct {
	Items  []Op  `json:"items"`
	Total  int64 `json:"total"`
	Limit  int   `json:"limit"`
	Offset int   `json:"offset"`
}
