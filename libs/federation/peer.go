package federation

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/opencloud/opencloud/libs/store"
)

// Relation is what this peer's administrators decided about another peer.
type Relation string

// Relations.
const (
	Known     Relation = "known"
	Requested Relation = "requested"
	Invited   Relation = "invited"
	Partner   Relation = "partner"
	Blocked   Relation = "blocked"
)

// Relations lists every relation.
var Relations = []Relation{Known, Requested, Invited, Partner, Blocked}

// Valid reports whether r is one of Relations.
func (r Relation) Valid() bool { return slices.Contains(Relations, r) }

// Health is whether a peer answered its last heartbeats.
type Health string

// Healths.
const (
	Unknown Health = "unknown"
	Online  Health = "online"
	Offline Health = "offline"
)

// Status is what the heartbeats found of a peer.
type Status struct {
	Health Health `json:"health" enums:"unknown,online,offline"`
	// LastSeen is when the peer last answered.
	LastSeen *time.Time `json:"last_seen,omitempty"`
	// LastChecked is when it was last called.
	LastChecked *time.Time `json:"last_checked,omitempty"`
	// RTTMillis is the round-trip time of the last answered heartbeat.
	RTTMillis float64 `json:"rtt_ms,omitempty"`
	// LastError says why the last heartbeat failed.
	LastError string `json:"last_error,omitempty"`
}

// Peer is another peer as this one knows it.
type Peer struct {
	// ID is the peer's self-certifying id.
	ID string `json:"id" example:"aejcavshlktviy2hjqbilx25x4v4vnz5uzitlcbz5g3xjans5kyqo4em"`
	// Name is the peer's human name, from its self document.
	Name string `json:"name" example:"lab-b"`
	// URL is where this peer reaches it: the URL the administrator gave,
	// or the one in its self document.
	URL string `json:"url" example:"https://opencloud.lab-b.example.org"`
	// Fingerprint is the fingerprint of its current pinned key, to compare
	// with the other administrator's out of band.
	Fingerprint string   `json:"fingerprint" example:"5647 5AA7 5463 474C 0285 DF5D BF2B CAB7 3DA6 5135 8839 E9B7 7481 B2EA B107 708C"`
	Relation    Relation `json:"relation" enums:"known,requested,invited,partner,blocked"`
	// Groups are the peer groups this peer's administrators put it in,
	// for visibility "groups" and area rules.
	Groups []string `json:"groups"`
	// Offers is what the peer says it offers.
	Offers []string `json:"offers"`
	Status Status   `json:"status"`
	// Pending is a message to the peer not yet delivered (request,
	// accept or end of the partnership); it is sent again with every
	// heartbeat until the peer takes it.
	Pending string `json:"pending,omitempty" enums:"request,accept,end"`
	// SelfDoc is the peer's signed self document as pinned.
	SelfDoc   json.RawMessage `json:"self_doc,omitempty" swaggertype:"object"`
	AddedAt   time.Time       `json:"added_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	// Version grows by one on every change; it is the ETag.
	Version int64 `json:"version"`
}

// Spec is the collection of the peers this peer knows, one record per
// peer id.
var Spec = store.Spec{
	Name: "peers",
	Fields: []store.Field{
		{Name: "relation", Type: store.String},
		{Name: "groups", Type: store.StringArray},
		{Name: "name", Type: store.String},
		{Name: "added_at", Type: store.Time},
		{Name: "pending", Type: store.String},
		{Name: "url", Type: store.String},
	},
	Text: []string{"name", "url"},
}
