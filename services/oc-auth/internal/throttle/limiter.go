package throttle

import (
	"fmt"
	"hash/maphash"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Policy sets the limits of a Limiter. Three counters see every failed
// password check, each closing a different door:
//
//   - one user name from one address (the pair): PairFailures within Window
//     block that pair for the rest of the window. This is what stops a
//     guesser on one machine; it never touches the user elsewhere.
//   - one address, whatever the user names: AddrFailures within Window
//     block that address for the rest of the window (password spraying).
//   - one user name, whatever the address: past UserFailures, each further
//     attempt from an unfamiliar address must wait twice as long as the
//     last, up to MaxDelay (guessing from many addresses). A delay, not a
//     lockout: it bounds a distributed guesser to one try per MaxDelay and
//     leaves the account usable.
//
// An address from which the user signed in within Familiar is familiar for
// that user: the address and user counters do not slow it down (as in the
// "familiar location" rule of large identity providers), so a stranger
// cannot keep a user out of an address the user works from; only that
// pair's own failures block it.
type Policy struct {
	PairFailures int
	AddrFailures int
	UserFailures int
	Window       time.Duration
	MaxDelay     time.Duration
	Familiar     time.Duration
	// MaxEntries bounds each table (pairs, addresses, users, familiar
	// addresses); past it, expired entries are pruned, then arbitrary ones
	// dropped.
	MaxEntries int
}

// DefaultPolicy: 10 failures per user and address, 50 per address, then a
// delay per user from 1 s doubling to 1 min past 20, in windows of 15 min;
// an address stays familiar 30 days; 50,000 entries per table (about 20 MiB
// with every table full).
func DefaultPolicy() Policy {
	return Policy{PairFailures: 10, AddrFailures: 50, UserFailures: 20, Window: 15 * time.Minute,
		MaxDelay: time.Minute, Familiar: 30 * 24 * time.Hour, MaxEntries: 50_000}
}

// familiarPerUser is how many addresses are remembered per user.
const familiarPerUser = 8

// Limiter counts password checks. It is per process: with several
// replicas a guesser gets that many times the budget, which still rules
// out online guessing; a restart forgets counters and familiar addresses.
type Limiter struct {
	p   Policy
	now func() time.Time

	// Tables are keyed by a keyed hash of the user name and address:
	// fixed-size keys whatever the names tried, and collisions nobody can
	// aim at without the seed.
	seed      maphash.Seed
	mu        sync.Mutex
	pairs     map[uint64]*window
	addrs     map[uint64]*window
	users     map[uint64]*userFailures
	familiar  map[uint64][]seenAt
	lastPrune time.Time
}

// window counts failures from the first one on, for Policy.Window.
type window struct {
	count int
	since time.Time
}

// userFailures counts failures until none came for Policy.Window.
type userFailures struct {
	count int
	last  time.Time
}

type seenAt struct {
	addr uint64
	at   time.Time
}

// New returns a limiter; now nil means the system clock.
func New(p Policy, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{p: p, now: now, seed: maphash.MakeSeed(), pairs: map[uint64]*window{}, addrs: map[uint64]*window{},
		users: map[uint64]*userFailures{}, familiar: map[uint64][]seenAt{}}
}

// Attempt is one password check counted by Begin. Exactly one of its
// methods is called once the check is made.
type Attempt struct {
	l                *Limiter
	user, addr, pair uint64
}

// Begin counts a password check for user from addr before it is made, so
// that guesses sent in parallel count as well, and returns it; or, when a
// limit is reached, no attempt and how long to wait.
func (l *Limiter) Begin(user string, addr netip.Addr) (*Attempt, time.Duration) {
	at := l.attempt(user, addr)
	u, a := at.user, at.addr
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	wait := time.Duration(0)
	if w := l.live(l.pairs, at.pair, now); w != nil && w.count >= l.p.PairFailures {
		wait = max(wait, w.since.Add(l.p.Window).Sub(now))
	}
	if !l.isFamiliar(u, a, now) {
		if w := l.live(l.addrs, a, now); w != nil && w.count >= l.p.AddrFailures {
			wait = max(wait, w.since.Add(l.p.Window).Sub(now))
		}
		if f := l.liveUser(u, now); f != nil && f.count >= l.p.UserFailures {
			wait = max(wait, f.last.Add(l.delay(f.count)).Sub(now))
		}
	}
	if wait > 0 {
		return nil, wait
	}
	l.count(l.pairs, at.pair, now)
	l.count(l.addrs, a, now)
	f := l.liveUser(u, now)
	if f == nil {
		makeRoom(l, l.users, now)
		f = &userFailures{}
		l.users[u] = f
	}
	f.count++
	f.last = now
	return at, 0
}

func (l *Limiter) attempt(user string, addr netip.Addr) *Attempt {
	a := key(addr)
	var h maphash.Hash
	h.SetSeed(l.seed)
	h.WriteString(user)
	u := h.Sum64()
	h.WriteByte(0)
	h.WriteString(a)
	pair := h.Sum64()
	return &Attempt{l: l, user: u, pair: pair, addr: maphash.String(l.seed, a)}
}

// Failed records that the password was wrong: the attempt stays counted.
func (at *Attempt) Failed() {}

// Succeeded records that the password was right: the pair's failures are
// forgotten, the attempt no longer counts, and the address becomes
// familiar for the user.
func (at *Attempt) Succeeded() {
	l := at.l
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.pairs, at.pair)
	l.uncount(at)
	now := l.now()
	seen := l.familiar[at.user]
	if seen == nil {
		makeRoom(l, l.familiar, now)
	}
	kept := []seenAt{{at.addr, now}}
	for _, s := range seen {
		if s.addr != at.addr && now.Sub(s.at) < l.p.Familiar && len(kept) < familiarPerUser {
			kept = append(kept, s)
		}
	}
	l.familiar[at.user] = kept
}

// Abandon uncounts an attempt whose check could not be made, or whose
// answer says nothing about the password.
func (at *Attempt) Abandon() {
	at.l.mu.Lock()
	defer at.l.mu.Unlock()
	if w := at.l.pairs[at.pair]; w != nil && w.count > 0 {
		w.count--
	}
	at.l.uncount(at)
}

func (l *Limiter) uncount(at *Attempt) {
	if w := l.addrs[at.addr]; w != nil && w.count > 0 {
		w.count--
	}
	if f := l.users[at.user]; f != nil && f.count > 0 {
		f.count--
	}
}

// delay is how long after the last failure an unfamiliar address waits
// once a user has count failures.
func (l *Limiter) delay(count int) time.Duration {
	n := count - l.p.UserFailures
	if n >= 30 {
		return l.p.MaxDelay
	}
	return min(l.p.MaxDelay, time.Second<<n)
}

func (l *Limiter) live(m map[uint64]*window, k uint64, now time.Time) *window {
	w := m[k]
	if w != nil && !now.Before(w.since.Add(l.p.Window)) {
		delete(m, k)
		return nil
	}
	return w
}

func (l *Limiter) liveUser(u uint64, now time.Time) *userFailures {
	f := l.users[u]
	if f != nil && now.Sub(f.last) >= l.p.Window {
		delete(l.users, u)
		return nil
	}
	return f
}

func (l *Limiter) count(m map[uint64]*window, k uint64, now time.Time) {
	w := l.live(m, k, now)
	if w == nil {
		makeRoom(l, m, now)
		w = &window{since: now}
		m[k] = w
	}
	w.count++
}

func (l *Limiter) isFamiliar(u, a uint64, now time.Time) bool {
	for _, s := range l.familiar[u] {
		if s.addr == a && now.Sub(s.at) < l.p.Familiar {
			return true
		}
	}
	return false
}

// makeRoom keeps table m within MaxEntries before it grows: expired
// entries go first (a full sweep at most once a second); if m is still
// full, an arbitrary entry goes, so that a flood of new keys forgets some
// counts rather than growing the table.
func makeRoom[V any](l *Limiter, m map[uint64]V, now time.Time) {
	if len(m) < l.p.MaxEntries {
		return
	}
	if now.Sub(l.lastPrune) >= time.Second {
		l.prune(now)
	}
	for k := range m {
		if len(m) < l.p.MaxEntries {
			return
		}
		delete(m, k)
	}
}

// Prune deletes every expired entry; a service calls it periodically.
func (l *Limiter) Prune() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(l.now())
}

func (l *Limiter) prune(now time.Time) {
	l.lastPrune = now
	for k, w := range l.pairs {
		if !now.Before(w.since.Add(l.p.Window)) {
			delete(l.pairs, k)
		}
	}
	for k, w := range l.addrs {
		if !now.Before(w.since.Add(l.p.Window)) {
			delete(l.addrs, k)
		}
	}
	for k, f := range l.users {
		if now.Sub(f.last) >= l.p.Window {
			delete(l.users, k)
		}
	}
	for u, seen := range l.familiar {
		kept := seen[:0]
		for _, s := range seen {
			if now.Sub(s.at) < l.p.Familiar {
				kept = append(kept, s)
			}
		}
		if len(kept) == 0 {
			delete(l.familiar, u)
		} else {
			l.familiar[u] = kept
		}
	}
}

// Size returns the number of entries of each table: pairs, addresses,
// users, users with familiar addresses.
func (l *Limiter) Size() (pairs, addrs, users, familiar int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pairs), len(l.addrs), len(l.users), len(l.familiar)
}

// RetryAfter sets the Retry-After header to wait, in whole seconds (at
// least 1).
func RetryAfter(h http.Header, wait time.Duration) {
	h.Set("Retry-After", strconv.Itoa(seconds(wait)))
}

// InWords says how long wait is, for a person: "in 40 seconds", "in 12
// minutes".
func InWords(wait time.Duration) string {
	if s := seconds(wait); s < 60 {
		return fmt.Sprintf("in %d second%s", s, plural(s))
	}
	m := int(math.Ceil(wait.Minutes()))
	return fmt.Sprintf("in %d minute%s", m, plural(m))
}

func seconds(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
