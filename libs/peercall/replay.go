package peercall

import (
	"container/heap"
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultReplayEntries is the capacity of a replay cache made by
// NewVerifier: with calls valid for at most 60 s plus the skew, it lets
// about a thousand calls a second through, in a few megabytes.
const DefaultReplayEntries = 100_000

// ReplayCache remembers the nonces of accepted calls until the calls
// expire. Each entry takes a fixed size (a 16-byte digest of issuer and
// nonce, and its expiry), so memory is bounded by the capacity. When the
// cache is full of unexpired entries, Check refuses new calls rather than
// forget a nonce early. It is safe for concurrent use.
type ReplayCache struct {
	mu    sync.Mutex
	max   int
	seen  map[[16]byte]int64
	order expiryHeap
}

// NewReplayCache returns a cache holding at most max entries.
func NewReplayCache(max int) *ReplayCache {
	if max < 1 {
		max = 1
	}
	return &ReplayCache{max: max, seen: make(map[[16]byte]int64)}
}

// Check records the nonce of issuer as used until until, and returns
// ErrReplayed if it was already recorded, or ErrBusy if the cache is full.
func (c *ReplayCache) Check(issuer, nonce string, until, now time.Time) error {
	h := sha256.New()
	h.Write([]byte(issuer))
	h.Write([]byte{0})
	h.Write([]byte(nonce))
	var key [16]byte
	copy(key[:], h.Sum(nil))

	c.mu.Lock()
	defer c.mu.Unlock()
	n := now.UnixNano()
	for len(c.order) > 0 && c.order[0].until < n {
		e := heap.Pop(&c.order).(entry)
		delete(c.seen, e.key)
	}
	if _, dup := c.seen[key]; dup {
		return ErrReplayed
	}
	if len(c.seen) >= c.max {
		return ErrBusy
	}
	u := until.UnixNano()
	c.seen[key] = u
	heap.Push(&c.order, entry{key: key, until: u})
	return nil
}

// Len returns the number of nonces held.
func (c *ReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

type entry struct {
	key   [16]byte
	until int64
}

type expiryHeap []entry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].until < h[j].until }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(entry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
