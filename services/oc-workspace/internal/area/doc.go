// Package area is the collaborative-area domain of oc-workspace: areas with
// member users and member peers, the workspaces, workflows and resources
// shared in them, a rule book that what they hold must satisfy, and the
// history of every change.
//
// # Rules
//
// Rules are data (libs/workspace.Rule) evaluated by Evaluate, a pure function
// of the rule book, what an item uses (workflow.Usage) and the facts the
// catalog gives about each resource used (Fact). Facts are resolved with the
// caller's own token, so a caller never learns through a rule check what the
// catalog would not show them. Each shared item keeps a snapshot of the
// facts it was last checked with; when a resource cannot be resolved later
// (its peer unreachable, deleted, hidden from this caller) the snapshot is
// used and violations say "as of" when it was taken; without a snapshot the
// resource is reported unchecked. Adding an item that breaks a rule is
// refused; changing the rule book is allowed and reports what breaks it.
//
// # Stored form and replication
//
// An area is one document, so that every change is one optimistic,
// versioned replace (the store has no transactions). It is laid out so that
// member peers can replicate it and merge their copies:
//
//   - every element has a stable identity: the area by id, a member by
//     subject, a member peer by peer id, a shared item by (kind, peer, id), a
//     rule by id (given by the server, kept across rule-book changes);
//   - every element carries a Stamp: the area's Lamport clock at the change
//     that last set it (+1 per change, and on merge max(local, remote)+1),
//     the peer that made it, who and when. Two peers merge an element
//     last-writer-wins by (clock, peer), the peer id breaking ties so that
//     both sides pick the same winner;
//   - members, peers, shared items and rules are sets of elements: an add
//     and a remove are ops with stamps, and a remove wins over an add only if
//     its stamp is higher (an add-wins observed-remove set can be had by
//     keeping removal tombstones; the op log already holds them);
//   - every change is an Op {id, area_id, seq, type, stamp, data} appended to
//     the area's log, a separate collection: ops are identified by id, so a
//     peer applying a partner's ops skips those it has, and seq numbers this
//     peer's log for paging the history.
//
// The log is lossless without transactions: a change writes its op into the
// area document itself (LastOp) in the same replace, then appends it to the
// log. If the process stops between the two, the next change of the area,
// or the next read of its history, finds LastOp missing from the log and
// appends it first (the log's unique (area_id, seq) index makes that
// idempotent).
package area
