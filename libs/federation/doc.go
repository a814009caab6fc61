// Package federation is what every service of a peer shares about the
// other peers: the records of the peers this peer knows (kept by oc-peer in
// the store's "peers" collection, read by every service), this peer's own
// public identity, the key resolver and authenticator that let any service
// accept a partner's signed call, and the client services use to call other
// peers through oc-peer, which alone holds the peer's private key.
//
// A relationship goes through these states:
//
//	known      the peer's self document was fetched and its key pinned
//	requested  this peer's administrator accepted; the other's has not yet
//	invited    the other peer's administrator asked; this one's has not yet
//	partner    both administrators accepted
//	blocked    every call of the peer is refused
//
// Calls from a known, requested or invited peer are accepted and see what
// is public; partners also see what is shared with partners; a blocked
// peer is refused with 403 before anything else is read.
package federation
