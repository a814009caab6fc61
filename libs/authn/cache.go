package authn

import (
	"sync"
	"time"
)

// tokenCache remembers verified tokens until they expire; a nil cache
// remembers nothing. Keys are the whole
// raw tokens, so a hit is the very token that was verified.
type tokenCache struct {
	mu  sync.Mutex
	max int
	now func() time.Time
	m   map[string]Principal
}

func newTokenCache(max int, now func() time.Time) *tokenCache {
	return &tokenCache{max: max, now: now, m: make(map[string]Principal)}
}

func (c *tokenCache) get(raw string) (Principal, bool) {
	if c == nil {
		return Principal{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[raw]
	if !ok {
		return Principal{}, false
	}
	if !c.now().Before(p.Expiry) {
		delete(c.m, raw)
		return Principal{}, false
	}
	return p, true
}

func (c *tokenCache) put(raw string, p Principal) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		c.evict()
	}
	c.m[raw] = p
}

// evict drops the expired tokens and, if that is not enough, a quarter of the
// others (map order is random, which is as good as any order here: a dropped
// token is only verified again).
func (c *tokenCache) evict() {
	now := c.now()
	for k, p := range c.m {
		if !now.Before(p.Expiry) {
			delete(c.m, k)
		}
	}
	for k := range c.m {
		if len(c.m) < c.max*3/4 {
			return
		}
		delete(c.m, k)
	}
}
