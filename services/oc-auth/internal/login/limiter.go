package login

import (
	"sync"
	"time"
)

// limiter counts failed sign-ins per (user name, client address) and locks
// the pair out for the rest of the window once it has too many. Keying on
// the pair, not the user name alone, keeps a stranger from locking an
// administrator out. It is per process: with several replicas an attacker
// gets that many times the budget, which still rules out online guessing.
type limiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	seen map[string]*failures
}

type failures struct {
	count int
	since time.Time
}

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, now: time.Now, seen: map[string]*failures{}}
}

// blocked reports whether key is locked out, and for how long.
func (l *limiter) blocked(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.seen[key]
	if !ok {
		return false, 0
	}
	left := f.since.Add(l.window).Sub(l.now())
	if left <= 0 {
		delete(l.seen, key)
		return false, 0
	}
	return f.count >= l.max, left
}

// fail records a failed attempt.
func (l *limiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.seen) > 100_000 {
		for k, f := range l.seen {
			if now.Sub(f.since) > l.window {
				delete(l.seen, k)
			}
		}
	}
	f, ok := l.seen[key]
	if !ok || now.Sub(f.since) > l.window {
		f = &failures{since: now}
		l.seen[key] = f
	}
	f.count++
}

// reset forgets key after a successful sign-in.
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.seen, key)
}
