// Package federationtest plays oc-peer's relay for the tests of code that
// calls other peers through it: the relay's HTTP contract (its own error
// answers, the deadline header, X-OC-Peer on the other peer's answers) in
// front of peers each test describes.
package federationtest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/resource"
)

// PeerID is a valid peer id derived from name, the same for the same name.
func PeerID(name string) string {
	seed := sha256.Sum256([]byte(name))
	return string(peerid.FromPublicKey(ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)))
}

// Peer is a peer as the relay finds it.
type Peer struct {
	Blocked bool // the relay refuses with 409 peer_blocked
	Offline bool // the relay answers 502 peer_unreachable
	// Delay is how long the peer takes to answer: beyond the call's
	// deadline the relay answers 504 peer_timeout.
	Delay time.Duration
	// Stall keeps the relay from answering until the caller gives up.
	Stall bool
	// Handler is the peer itself, called with the path after the peer id.
	Handler http.Handler
}

// Call is one call the relay received.
type Call struct {
	Peer, Method, Path, Authorization, Timeout string
}

// Relay is a running relay on 127.0.0.1.
type Relay struct {
	// URL is the gateway's base URL: the relay is at URL/peer/relay/.
	URL   string
	peers map[string]Peer

	mu    sync.Mutex
	calls []Call
}

// NewRelay starts a relay in front of peers (by peer id), stopped when the
// test ends. A peer not among them is unknown: 404 not_found.
func NewRelay(t testing.TB, peers map[string]Peer) *Relay {
	t.Helper()
	r := &Relay{peers: peers}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// Calls returns the calls received so far.
func (r *Relay) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

func (r *Relay) serve(w http.ResponseWriter, req *http.Request) {
	rest, ok := strings.CutPrefix(req.URL.Path, federation.RelayPrefix)
	if !ok {
		fail(w, apierror.NotFound("no route "+req.URL.Path))
		return
	}
	id, path, _ := strings.Cut(rest, "/")
	// Read first, as the real relay does: the server notices a caller
	// giving up only once the body is read.
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.calls = append(r.calls, Call{Peer: id, Method: req.Method, Path: "/" + path,
		Authorization: req.Header.Get("Authorization"), Timeout: req.Header.Get(federation.TimeoutHeader)})
	r.mu.Unlock()
	p, known := r.peers[id]
	timeout := 15 * time.Second
	if ms, err := strconv.Atoi(req.Header.Get(federation.TimeoutHeader)); err == nil && ms >= 1 && ms <= 60000 {
		timeout = time.Duration(ms) * time.Millisecond
	}
	switch {
	case !known:
		fail(w, apierror.NotFound("peer "+id+" is not known"))
	case p.Blocked:
		fail(w, apierror.Conflict("peer_blocked", "peer "+id+" is blocked", nil))
	case p.Offline:
		fail(w, apierror.New(http.StatusBadGateway, "peer_unreachable", "peer "+id+" could not be reached: connection refused", nil))
	case p.Stall:
		<-req.Context().Done()
	case p.Delay >= timeout:
		select {
		case <-time.After(timeout):
			fail(w, apierror.New(http.StatusGatewayTimeout, "peer_timeout", "peer "+id+" did not answer within "+timeout.String(), nil))
		case <-req.Context().Done():
		}
	default:
		select {
		case <-time.After(p.Delay):
		case <-req.Context().Done():
			return
		}
		w.Header().Set(federation.PeerHeader, id)
		req.URL.Path = "/" + path
		p.Handler.ServeHTTP(w, req)
	}
}

// Catalog is a peer's catalog answering lookups with items (as the peer
// sends them, PeerID included) and every other id missing.
func Catalog(items ...resource.Resource) http.Handler {
	held := make(map[string]resource.Resource, len(items))
	for _, it := range items {
		held[it.ID] = it
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var in resource.Lookup
		if req.Method != http.MethodPost || req.URL.Path != "/catalog/resources/lookup" {
			fail(w, apierror.NotFound("no route "+req.URL.Path))
			return
		}
		if err := json.NewDecoder(req.Body).Decode(&in); err != nil || len(in.IDs) > resource.MaxLookup {
			fail(w, apierror.BadRequest("invalid_request", "expected at most 1000 ids"))
			return
		}
		res := resource.LookupResult{Items: []resource.Resource{}, Missing: []string{}}
		for _, id := range in.IDs {
			if it, ok := held[id]; ok {
				res.Items = append(res.Items, it)
			} else {
				res.Missing = append(res.Missing, id)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res)
	})
}

// Refusing is a peer refusing every call with status (401 or 403).
func Refusing(status int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fail(w, apierror.New(status, "unknown_peer", "the calling peer is not known here", nil))
	})
}

func fail(w http.ResponseWriter, e *apierror.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(apierror.Envelope{Error: e})
}
