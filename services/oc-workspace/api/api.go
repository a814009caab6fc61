// Package api holds the small request bodies of oc-workspace's REST API that
// are not shared with other services (those live in libs/workspace): adding
// a member, a peer or a shared item to an area, and replacing its rule book.
// oc-workspace's handlers read them and its Go client sends them.
package api

import (
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/workspace"
)

// MemberInput is the body of POST /workspace/areas/{id}/members.
type MemberInput struct {
	// Subject is the user's subject (its id in oc-auth).
	Subject string `json:"subject" validate:"required" example:"bob"`
	// Admin members may change the area's members, peers and rules.
	Admin bool `json:"admin,omitempty"`
	// Peer is the peer the user belongs to, for a user of a member peer
	// (default: this peer).
	Peer string `json:"peer,omitempty"`
}

// PeerInput is the body of POST /workspace/areas/{id}/peers.
type PeerInput struct {
	Peer string `json:"peer" validate:"required" example:"partner-b"`
}

// ShareInput is the body of POST /workspace/areas/{id}/shared.
type ShareInput struct {
	Kind workspace.SharedKind `json:"kind" validate:"required" enums:"workspace,workflow,resource" example:"resource"`
	Ref  resource.Ref         `json:"ref"`
}

// RulesInput is the body of PUT /workspace/areas/{id}/rules: the whole new
// rule book. A rule given with the id of an existing rule replaces it and
// keeps its id; one without an id is new.
type RulesInput struct {
	Rules []workspace.Rule `json:"rules"`
	// Version is the area's version being changed (or If-Match).
	Version int64 `json:"version,omitempty"`
}
