// Package event defines the envelope of every fact OpenCloud publishes on
// NATS and the subject names. Subjects are oc.<domain>.<event>; the store
// stays the source of truth, so a consumer that missed events reconciles
// from it.
package event

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Subjects.
const (
	ResourceCreated = "oc.resource.created"
	ResourceUpdated = "oc.resource.updated"
	ResourceDeleted = "oc.resource.deleted"

	UserCreated   = "oc.auth.user.created"
	UserUpdated   = "oc.auth.user.updated"
	UserDeleted   = "oc.auth.user.deleted"
	GroupChanged  = "oc.auth.group.changed"
	ClientChanged = "oc.auth.client.changed"

	WorkspaceCreated = "oc.workspace.created"
	WorkspaceUpdated = "oc.workspace.updated"
	WorkspaceDeleted = "oc.workspace.deleted"
	// AreaChanged carries every change of a collaborative area: the data is
	// the workspace.Op, whose type says what changed.
	AreaChanged = "oc.area.changed"

	WorkflowCreated   = "oc.workflow.created"
	WorkflowUpdated   = "oc.workflow.updated"
	WorkflowDeleted   = "oc.workflow.deleted"
	WorkflowPublished = "oc.workflow.published"

	// PeerChanged carries every change of a peer this peer knows: its
	// relation, groups or URL (the data is the federation.Peer).
	PeerChanged = "oc.peer.changed"
	// PeerRemoved is published when a peer is removed.
	PeerRemoved = "oc.peer.removed"
	// PeerHealth is published when a peer goes online or offline.
	PeerHealth = "oc.peer.health"

	// ExecutionStates matches the state changes of every execution (and
	// of their steps): ExecutionState of any id.
	ExecutionStates = "oc.execution.state.*"
)

// ExecutionState is the subject of one execution's state changes and of
// its steps': a follower of one execution hears no other's.
func ExecutionState(executionID string) string { return "oc.execution.state." + executionID }

// ExecutionLog is the subject of one execution's step logs.
func ExecutionLog(executionID string) string { return "oc.execution.log." + executionID }

// ExecutionEvents matches every event of one execution, its state changes
// and its log lines, and no other execution's: one subscription delivers
// them in the order each publisher sent them.
func ExecutionEvents(executionID string) string { return "oc.execution.*." + executionID }

// All matches every OpenCloud subject (the JetStream stream's filter).
const All = "oc.>"

// Envelope wraps every event.
type Envelope struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Source    string          `json:"source"`
	Time      time.Time       `json:"time"`
	Subject   string          `json:"subject,omitempty"`
	Actor     string          `json:"actor,omitempty"`
	RequestID string          `json:"request_id,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
}

// New builds an envelope; data is marshalled to JSON.
func New(typ, source, subject, actor string, data any) (Envelope, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Envelope{}, err
	}
	return Envelope{
		ID: uuid.NewString(), Type: typ, Source: source, Time: time.Now().UTC(),
		Subject: subject, Actor: actor, Data: raw,
	}, nil
}
