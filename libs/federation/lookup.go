package federation

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/resource"
)

// LookupDeadline is how long another peer is given to answer a lookup of
// its resources (every batch of it): a slow peer leaves its references
// unresolved rather than holding up the caller's page.
const LookupDeadline = 3 * time.Second

// Relay paths and headers (oc-peer's relay).
const (
	RelayPrefix   = "/peer/relay/"
	TimeoutHeader = "X-OC-Timeout-Ms" // deadline of a relayed call, 1 to 60000 ms
	PeerHeader    = "X-OC-Peer"       // set on every answer that comes from the other peer
)

// lookupPath is the catalog route other peers open to lookups.
const lookupPath = "/catalog/resources/lookup"

// Lookups looks resources of other peers up in their own catalogs, through
// the relay of this peer's oc-peer, with the identity of the caller's
// token: each peer applies its visibility rules to that user of this peer.
type Lookups struct {
	// Gateway is where this peer's services, oc-peer's relay among them,
	// are reached.
	Gateway string
	// HTTP makes the calls (nil: a client with a 30 s timeout).
	HTTP *http.Client
	// Deadline bounds each peer's answer (0: LookupDeadline).
	Deadline time.Duration
}

// Resolved is what the owning peer said of one reference.
type Resolved struct {
	// Resource is the resource as the peer holds it, its PeerID that peer;
	// nil when Reason is set.
	Resource *resource.Resource
	// Missing is set when the peer answered that it has no such resource
	// the caller may see.
	Missing bool
	// Reason says why Resource is nil.
	Reason string
}

// Lookup resolves refs at their peers: one lookup per peer of at most
// resource.MaxLookup ids per call, every peer asked at once, each within
// the deadline. Every ref has an entry in the result: a peer that cannot
// answer leaves its refs with the reason, never an error.
func (l *Lookups) Lookup(ctx context.Context, token string, refs []resource.Ref) map[resource.Ref]Resolved {
	out := make(map[resource.Ref]Resolved, len(refs))
	byPeer := map[string][]string{}
	for _, r := range refs {
		if _, dup := out[r]; dup {
			continue
		}
		if !peerid.Valid(r.Peer) {
			// oc-peer knows valid ids only: no need to ask it.
			out[r] = Resolved{Reason: reasonUnknown(r.Peer)}
			continue
		}
		out[r] = Resolved{}
		byPeer[r.Peer] = append(byPeer[r.Peer], r.ID)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for peer, ids := range byPeer {
		wg.Go(func() {
			got := l.ask(ctx, token, peer, ids)
			mu.Lock()
			defer mu.Unlock()
			for id, r := range got {
				out[resource.Ref{Peer: peer, ID: id}] = r
			}
		})
	}
	wg.Wait()
	return out
}

// ask looks ids up at peer within the deadline, batch after batch; the
// first failure is the reason of every id not answered yet.
func (l *Lookups) ask(ctx context.Context, token, peer string, ids []string) map[string]Resolved {
	deadline := l.Deadline
	if deadline <= 0 {
		deadline = LookupDeadline
	}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	cl := RelayClient(l.Gateway, peer, apiclient.StaticToken(token), l.HTTP)
	out := make(map[string]Resolved, len(ids))
	for start := 0; start < len(ids); start += resource.MaxLookup {
		batch := ids[start:min(start+resource.MaxLookup, len(ids))]
		var res resource.LookupResult
		h, err := cl.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: lookupPath, Body: resource.Lookup{IDs: batch},
			Header: Deadline(ctx)}, &res)
		if err != nil {
			reason := failure(ctx, peer, deadline, h, err)
			for _, id := range ids[start:] {
				out[id] = Resolved{Reason: reason}
			}
			return out
		}
		asked := make(map[string]bool, len(batch))
		for _, id := range batch {
			asked[id] = true
		}
		for _, r := range res.Items {
			if !asked[r.ID] {
				continue
			}
			// A peer speaks for its own resources only.
			r.PeerID = peer
			out[r.ID] = Resolved{Resource: &r}
		}
		for _, id := range batch {
			if _, ok := out[id]; !ok {
				out[id] = Resolved{Missing: true, Reason: fmt.Sprintf("the resource does not exist on peer %q or is not visible to you there", peer)}
			}
		}
	}
	return out
}

func reasonUnknown(peer string) string {
	return fmt.Sprintf("peer %q is not known to this peer: an administrator adds it under Peers", peer)
}

// failure says why a relayed lookup failed.
func failure(ctx context.Context, peer string, deadline time.Duration, h http.Header, err error) string {
	switch Classify(ctx, h, err) {
	case Timeout:
		return fmt.Sprintf("peer %q did not answer within %s", peer, deadline)
	case NotKnown:
		return reasonUnknown(peer)
	case BlockedPeer:
		return fmt.Sprintf("peer %q is blocked by this peer's administrators", peer)
	case Unreachable:
		return fmt.Sprintf("peer %q cannot be reached (it may be offline)", peer)
	case Refused:
		return fmt.Sprintf("peer %q refused the lookup (%d): it may not know this peer yet, or not accept its calls", peer, apiclient.Status(err))
	case PeerNotFound:
		return fmt.Sprintf("peer %q does not offer resource lookups to other peers", peer)
	}
	var ae *apierror.Error
	switch {
	case !errors.As(err, &ae) && h != nil:
		return fmt.Sprintf("peer %q gave an answer that is not a lookup result", peer)
	case !errors.As(err, &ae):
		return "this peer's federation service could not be reached"
	case h.Get(PeerHeader) == "":
		return fmt.Sprintf("this peer could not relay the lookup to peer %q (%d)", peer, ae.Status)
	}
	return fmt.Sprintf("peer %q answered %d", peer, ae.Status)
}
