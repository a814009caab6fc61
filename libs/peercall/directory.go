package peercall

import (
	"context"
	"fmt"
	"sync"

	"github.com/opencloud/opencloud/libs/peerid"
)

// Directory is a KeyResolver held in memory: the key sets this peer pinned
// and the peers it blocks. It is safe for concurrent use.
type Directory struct {
	mu      sync.RWMutex
	pinned  map[peerid.ID]*peerid.KeySet
	blocked map[peerid.ID]bool
}

// NewDirectory returns an empty directory.
func NewDirectory() *Directory {
	return &Directory{pinned: map[peerid.ID]*peerid.KeySet{}, blocked: map[peerid.ID]bool{}}
}

// Pin sets the key set of its peer, replacing the one held.
func (d *Directory) Pin(ks *peerid.KeySet) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pinned[ks.Peer()] = ks
}

// Forget removes a peer's key set.
func (d *Directory) Forget(peer peerid.ID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.pinned, peer)
}

// Block refuses every call of peer, known or not, until Unblock.
func (d *Directory) Block(peer peerid.ID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.blocked[peer] = true
}

// Unblock lifts Block.
func (d *Directory) Unblock(peer peerid.ID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.blocked, peer)
}

// ResolveKey implements KeyResolver.
func (d *Directory) ResolveKey(_ context.Context, peer peerid.ID, keyID string) (peerid.Key, error) {
	d.mu.RLock()
	blocked, ks := d.blocked[peer], d.pinned[peer]
	d.mu.RUnlock()
	if blocked {
		return peerid.Key{}, ErrBlocked
	}
	if ks == nil {
		return peerid.Key{}, fmt.Errorf("%w (%s)", ErrUnknownPeer, peer)
	}
	return ks.Key(keyID)
}
