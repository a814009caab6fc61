// Package replica keeps the collaborative areas shared between peers in
// step: it signs this peer's ops through oc-peer, checks other peers'
// signatures against their pinned keys, exchanges ops with member peers
// (through oc-peer's relay, so every call is signed by this peer), and
// serves the routes member peers call.
//
// An exchange with a member peer is one pull and one push: this peer sends
// its version vector and gets the ops the other holds beyond it, then
// sends the ops the other's vector says it lacks. An exchange runs after
// every change of a shared area (with each member peer told of it) and,
// as anti-entropy, with every member peer of every shared area each
// interval, so that edits made on both sides of a partition meet once the
// link is back.
package replica

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/peerid"
	wire "github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/internal/area"
)

// DefaultInterval is how often every shared area is exchanged with every
// member peer.
const DefaultInterval = 10 * time.Second

// errNotHeld is the answer of a member peer that does not hold the area.
var errNotHeld = errors.New("the peer does not hold the area")

// callTimeout bounds one call to another peer.
const callTimeout = 10 * time.Second

// SyncRequest is the body of POST /workspace/federation/areas/{id}/sync.
type SyncRequest struct {
	// Vector is the caller's version vector of the area.
	Vector area.Vector `json:"vector"`
}

// SyncResponse answers a SyncRequest.
type SyncResponse struct {
	// Ops are ops the caller lacks, at most 1000.
	Ops []wire.Op `json:"ops"`
	// Vector is the callee's version vector of the area.
	Vector area.Vector `json:"vector"`
	// More is true when the callee holds more ops the caller lacks.
	More bool `json:"more"`
}

// OpsRequest is the body of POST /workspace/federation/areas/{id}/ops.
type OpsRequest struct {
	Ops []wire.Op `json:"ops"`
}

// Replicator exchanges the shared areas' ops with their member peers.
type Replicator struct {
	areas    *area.Service
	gateway  string
	token    apiclient.TokenSource
	client   *http.Client
	interval time.Duration
	log      *slog.Logger

	mu    sync.Mutex
	dirty map[[2]string]bool // (area, peer) to exchange soon
	wake  chan struct{}
}

// New returns a replicator of areas calling other peers through the
// relay of oc-peer at gateway, with the services' own token.
func New(areas *area.Service, gateway string, token apiclient.TokenSource, interval time.Duration, log *slog.Logger) *Replicator {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Replicator{areas: areas, gateway: gateway, token: token, client: &http.Client{Timeout: callTimeout},
		interval: interval, log: log, dirty: map[[2]string]bool{}, wake: make(chan struct{}, 1)}
}

// Announce implements area.Announcer: the peers are exchanged with soon.
func (r *Replicator) Announce(areaID string, peers []string) {
	r.mu.Lock()
	for _, p := range peers {
		r.dirty[[2]string{areaID, p}] = true
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run exchanges announced areas at once and every shared area each
// interval, until ctx ends.
func (r *Replicator) Run(ctx context.Context) error {
	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	r.all(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
			r.flush(ctx)
		case <-tick.C:
			r.all(ctx)
		}
	}
}

// all marks every member peer of every shared area dirty, then flushes.
func (r *Replicator) all(ctx context.Context) {
	recs, err := r.areas.Shared(ctx)
	if err != nil {
		r.log.WarnContext(ctx, "replication: list the shared areas", "err", err)
		return
	}
	r.mu.Lock()
	for _, rec := range recs {
		for _, peer := range area.MemberPeers(rec, r.areas.PeerID()) {
			r.dirty[[2]string{rec.ID, peer}] = true
		}
	}
	r.mu.Unlock()
	r.flush(ctx)
}

// flush exchanges every dirty (area, peer), a few at once.
func (r *Replicator) flush(ctx context.Context) {
	r.mu.Lock()
	todo := make([][2]string, 0, len(r.dirty))
	for k := range r.dirty {
		todo = append(todo, k)
	}
	clear(r.dirty)
	r.mu.Unlock()
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, k := range todo {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := r.Exchange(ctx, k[0], k[1]); err != nil {
				r.log.DebugContext(ctx, "replication: exchange postponed", "area", k[0], "peer", k[1], "err", err)
			}
		})
	}
	wg.Wait()
}

// Exchange pulls from peer the ops of area id this peer lacks and pushes
// those peer lacks.
func (r *Replicator) Exchange(ctx context.Context, id, peer string) error {
	for range 100 {
		mine, err := r.areas.VectorOf(ctx, id)
		if err != nil {
			return err
		}
		var resp SyncResponse
		err = r.call(ctx, peer, "/workspace/federation/areas/"+id+"/sync", SyncRequest{Vector: mine}, &resp)
		switch {
		case errors.Is(err, errNotHeld):
			// The peer does not hold the area yet: it gets all of it.
			resp = SyncResponse{Vector: area.Vector{}}
		case err != nil:
			return err
		}
		if len(resp.Ops) > 0 {
			if _, err := r.areas.Merge(ctx, peer, id, resp.Ops); err != nil {
				return fmt.Errorf("merge what %s sent: %w", peer, err)
			}
		}
		theirs := resp.Vector
		for {
			ops, err := r.areas.Since(ctx, id, theirs)
			if err != nil || len(ops) == 0 {
				break
			}
			var res area.MergeResult
			if err := r.call(ctx, peer, "/workspace/federation/areas/"+id+"/ops", OpsRequest{Ops: ops}, &res); err != nil {
				return err
			}
			if res.Added == 0 {
				break
			}
			theirs = res.Vector
		}
		if !resp.More {
			return nil
		}
	}
	return nil
}

// call POSTs body to path on peer through the relay and decodes the answer.
func (r *Replicator) call(ctx context.Context, peer, path string, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	cl := federation.RelayClient(r.gateway, peer, r.token, r.client)
	h, err := cl.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: path, Body: body, Header: federation.Deadline(ctx)}, out)
	if err != nil && federation.Classify(ctx, h, err) == federation.PeerNotFound {
		return fmt.Errorf("%s %s: %w", peer, path, errNotHeld)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", peer, path, err)
	}
	return nil
}

// Signer signs ops through oc-peer's POST /peer/sign.
type Signer struct {
	Gateway string
	Token   apiclient.TokenSource
	Client  *http.Client
}

// SignOps implements area.Signer.
func (s Signer) SignOps(ctx context.Context, inputs [][]byte) (string, [][]byte, error) {
	var out struct {
		KeyID      string   `json:"key_id"`
		Signatures [][]byte `json:"signatures"`
	}
	cl := apiclient.New(s.Gateway, s.Token, s.Client)
	if _, err := cl.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: "/peer/sign",
		Body: map[string]any{"purpose": wire.OpSigningPurpose, "payloads": inputs}}, &out); err != nil {
		return "", nil, fmt.Errorf("oc-peer signs nothing: %w", err)
	}
	if len(out.Signatures) != len(inputs) {
		return "", nil, errors.New("oc-peer answered another number of signatures")
	}
	return out.KeyID, out.Signatures, nil
}

// Keys checks ops' signatures against the keys this peer pinned.
type Keys struct{ Dir *federation.Directory }

// VerifyOp implements area.Keys.
func (k Keys) VerifyOp(ctx context.Context, peer, keyID string, input, sig []byte) error {
	p, ks, err := k.Dir.Get(ctx, peerid.ID(peer))
	if err != nil {
		return fmt.Errorf("peer %s is not known here: %w", peer, err)
	}
	if p.Relation == federation.Blocked {
		return fmt.Errorf("peer %s is blocked", peer)
	}
	if ks == nil {
		return fmt.Errorf("peer %s has no pinned key", peer)
	}
	key, err := ks.Key(keyID)
	if err != nil {
		return err
	}
	if !ed25519.Verify(key.PublicKey, federation.SigningMessage(wire.OpSigningPurpose, input), sig) {
		return errors.New("bad signature")
	}
	return nil
}

// Partner implements area.Keys.
func (k Keys) Partner(ctx context.Context, peer string) error {
	p, _, err := k.Dir.Get(ctx, peerid.ID(peer))
	if err != nil {
		return fmt.Errorf("peer %s is not known to this peer", peer)
	}
	if p.Relation != federation.Partner {
		return fmt.Errorf("peer %s is %s, not a partner", peer, p.Relation)
	}
	return nil
}
