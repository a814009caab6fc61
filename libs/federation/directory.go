package federation

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/peercall"
	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/store"
)

// DefaultCacheTTL is how long a Directory keeps what it read of a peer:
// a peer blocked by oc-peer of another process is refused after at most
// this long (at once in the process that blocked it, see Forget).
const DefaultCacheTTL = 2 * time.Second

// Directory reads the peers collection for every service: it resolves
// pinned keys (peercall.KeyResolver) and tells what a calling peer may see.
// It is safe for concurrent use.
type Directory struct {
	col store.Collection
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	cache map[peerid.ID]cached
}

type cached struct {
	peer *Peer // nil: not known
	keys *peerid.KeySet
	at   time.Time
}

// OpenDirectory opens the peers collection of st.
func OpenDirectory(ctx context.Context, st store.Store) (*Directory, error) {
	col, err := st.Collection(ctx, Spec)
	if err != nil {
		return nil, fmt.Errorf("federation: open %s: %w", Spec.Name, err)
	}
	return &Directory{col: col, ttl: DefaultCacheTTL, now: time.Now, cache: map[peerid.ID]cached{}}, nil
}

// Collection is the peers collection.
func (d *Directory) Collection() store.Collection { return d.col }

// Forget drops what the directory holds of peer, so that its next call
// reads the store.
func (d *Directory) Forget(peer string) {
	d.mu.Lock()
	delete(d.cache, peerid.ID(peer))
	d.mu.Unlock()
}

// Get returns the record of peer, read from the store at most TTL ago;
// store.ErrNotFound when this peer does not know it.
func (d *Directory) Get(ctx context.Context, peer peerid.ID) (Peer, *peerid.KeySet, error) {
	now := d.now()
	d.mu.Lock()
	c, ok := d.cache[peer]
	d.mu.Unlock()
	if !ok || now.Sub(c.at) >= d.ttl {
		var p Peer
		v, err := d.col.Get(ctx, string(peer), &p)
		switch {
		case errors.Is(err, store.ErrNotFound):
			c = cached{at: now}
		case err != nil:
			return Peer{}, nil, err
		default:
			p.Version = v
			c = cached{peer: &p, at: now}
			if len(p.SelfDoc) > 0 {
				ks, err := peerid.NewKeySet(p.SelfDoc)
				if err != nil {
					return Peer{}, nil, fmt.Errorf("federation: the pinned self document of %s does not verify: %w", peer, err)
				}
				c.keys = ks
			}
		}
		d.mu.Lock()
		if len(d.cache) > 10000 {
			clear(d.cache)
		}
		d.cache[peer] = c
		d.mu.Unlock()
	}
	if c.peer == nil {
		return Peer{}, nil, fmt.Errorf("peer %s: %w", peer, store.ErrNotFound)
	}
	return *c.peer, c.keys, nil
}

// ResolveKey implements peercall.KeyResolver: a blocked peer is refused,
// an unknown one too.
func (d *Directory) ResolveKey(ctx context.Context, peer peerid.ID, keyID string) (peerid.Key, error) {
	p, ks, err := d.Get(ctx, peer)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return peerid.Key{}, fmt.Errorf("%w (%s)", peercall.ErrUnknownPeer, peer)
	case err != nil:
		return peerid.Key{}, err
	case p.Relation == Blocked:
		return peerid.Key{}, peercall.ErrBlocked
	case ks == nil:
		return peerid.Key{}, fmt.Errorf("%w (%s has no pinned key)", peercall.ErrUnknownPeer, peer)
	}
	return ks.Key(keyID)
}

// Remote returns what this peer grants peer: nil when it is unknown or
// blocked.
func (d *Directory) Remote(ctx context.Context, peer string) (*authn.Remote, error) {
	p, _, err := d.Get(ctx, peerid.ID(peer))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil || p.Relation == Blocked {
		return nil, err
	}
	return &authn.Remote{Peer: p.ID, Partner: p.Relation == Partner, Groups: slices.Clone(p.Groups)}, nil
}

// Authenticator verifies signed calls to any service of this peer and
// turns them into principals: the user the calling peer asserts, with the
// Remote part saying what this peer grants that peer.
type Authenticator struct {
	v   *peercall.Verifier
	dir *Directory
}

// NewAuthenticator checks calls addressed to self against dir's pinned keys.
// publicURL is where other peers reach this one (OC_PUBLIC_URL; "" or one
// with a path: only the URL as received counts).
func NewAuthenticator(self, publicURL string, dir *Directory, replay *peercall.ReplayCache) (*Authenticator, error) {
	v, err := peercall.NewVerifier(peercall.Config{Self: peerid.ID(self), Keys: dir, Replay: replay, PublicURL: Origin(publicURL)})
	if err != nil {
		return nil, err
	}
	return &Authenticator{v: v, dir: dir}, nil
}

// Directory is the directory the authenticator reads.
func (a *Authenticator) Directory() *Directory { return a.dir }

// Verifier is the signed-call verifier the authenticator uses.
func (a *Authenticator) Verifier() *peercall.Verifier { return a.v }

// Authenticate verifies the signed call r and returns its principal.
// Errors are peercall refusals, or failures of the store.
func (a *Authenticator) Authenticate(r *http.Request) (authn.Principal, error) {
	c, err := a.v.Verify(r)
	if err != nil {
		return authn.Principal{}, err
	}
	return a.Principal(r.Context(), c)
}

// Principal is the principal of a verified caller.
func (a *Authenticator) Principal(ctx context.Context, c *peercall.Caller) (authn.Principal, error) {
	remote, err := a.dir.Remote(ctx, string(c.Peer))
	if err != nil {
		return authn.Principal{}, err
	}
	if remote == nil {
		// Blocked or removed between the key lookup and now.
		return authn.Principal{}, peercall.ErrBlocked
	}
	p := authn.Principal{Remote: remote, Expiry: c.ExpiresAt}
	if c.User != nil {
		p.Subject, p.Groups = c.User.Subject, slices.Clone(c.User.Groups)
	}
	return p, nil
}

// WriteRefusal answers a call Authenticate refused.
func (a *Authenticator) WriteRefusal(w http.ResponseWriter, r *http.Request, err error) {
	a.v.WriteRefusal(w, r, err)
}
