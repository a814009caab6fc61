package throttle

import (
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestLimiter() (*Limiter, *fakeClock) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	return New(DefaultPolicy(), clk.now), clk
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// fail makes n failed checks of user from a.
func fail(t *testing.T, l *Limiter, user string, a netip.Addr, n int) {
	t.Helper()
	for i := range n {
		at, wait := l.Begin(user, a)
		if at == nil {
			t.Fatalf("failure %d of %s from %s refused (wait %s)", i+1, user, a, wait)
		}
		at.Failed()
	}
}

func allowed(l *Limiter, user string, a netip.Addr) (bool, time.Duration) {
	at, wait := l.Begin(user, a)
	if at == nil {
		return false, wait
	}
	at.Succeeded()
	return true, 0
}

// One guesser blocks its own pair only.
func TestPairLimit(t *testing.T) {
	l, clk := newTestLimiter()
	attacker, user := addr("203.0.113.9"), addr("198.51.100.7")
	fail(t, l, "admin", attacker, 10)
	if ok, wait := allowed(l, "admin", attacker); ok || wait != 15*time.Minute {
		t.Fatalf("11th attempt from the same address: allowed %v, wait %s", ok, wait)
	}
	if ok, _ := allowed(l, "admin", user); !ok {
		t.Fatal("the user from another address is blocked")
	}
	if ok, _ := allowed(l, "ada", attacker); !ok {
		t.Fatal("another user from the attacker's address is blocked by the pair limit")
	}
	clk.advance(15 * time.Minute)
	if ok, _ := allowed(l, "admin", attacker); !ok {
		t.Fatal("still blocked after the window")
	}
}

// Guesses from many addresses slow down unfamiliar addresses, with a delay
// that doubles and stays under MaxDelay; the user's familiar address is
// never slowed, and an unfamiliar one gets in after the delay.
func TestDistributedGuessing(t *testing.T) {
	l, clk := newTestLimiter()
	home := addr("198.51.100.7")
	if ok, _ := allowed(l, "admin", home); !ok {
		t.Fatal("first sign-in")
	}
	for i := range 20 {
		fail(t, l, "admin", addr(fmt.Sprintf("203.0.113.%d", i+1)), 1)
	}
	var waits []time.Duration
	for i := range 8 {
		a := addr(fmt.Sprintf("192.0.2.%d", i+1))
		at, wait := l.Begin("admin", a)
		if at != nil {
			t.Fatalf("attempt %d past the user limit not delayed", i)
		}
		waits = append(waits, wait)
		clk.advance(wait)
		fail(t, l, "admin", a, 1)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
	if ok, wait := allowed(l, "admin", home); !ok {
		t.Fatalf("the user's familiar address is slowed: %s", wait)
	}
	newPlace := addr("192.0.2.200")
	ok, wait := allowed(l, "admin", newPlace)
	if ok || wait <= 0 || wait > time.Minute {
		t.Fatalf("an unfamiliar address: allowed %v, wait %s", ok, wait)
	}
	clk.advance(wait)
	if ok, _ := allowed(l, "admin", newPlace); !ok {
		t.Fatal("an unfamiliar address after the delay")
	}
	if ok, _ := allowed(l, "ada", newPlace); !ok {
		t.Fatal("another user is slowed")
	}
	// Once the guessing stops for a window, the counter is gone.
	clk.advance(15 * time.Minute)
	if ok, _ := allowed(l, "admin", addr("192.0.2.201")); !ok {
		t.Fatal("slowed after the guessing stopped")
	}
}

// One address trying many users is blocked for every user it is not
// familiar to.
func TestAddressLimit(t *testing.T) {
	l, _ := newTestLimiter()
	office := addr("198.51.100.1")
	if ok, _ := allowed(l, "ada", office); !ok {
		t.Fatal("ada's sign-in")
	}
	for i := range 50 {
		fail(t, l, fmt.Sprintf("user%d", i), office, 1)
	}
	if ok, wait := allowed(l, "grace", office); ok || wait != 15*time.Minute {
		t.Fatalf("51st user from the address: %v %s", ok, wait)
	}
	if ok, _ := allowed(l, "ada", office); !ok {
		t.Fatal("a user who signs in from that address is blocked")
	}
	if ok, _ := allowed(l, "grace", addr("198.51.100.2")); !ok {
		t.Fatal("another address is blocked")
	}
}

// A success forgets the pair's failures; an abandoned check does not count.
func TestSuccessAndAbandon(t *testing.T) {
	l, _ := newTestLimiter()
	a := addr("198.51.100.7")
	fail(t, l, "admin", a, 9)
	if ok, _ := allowed(l, "admin", a); !ok {
		t.Fatal("10th attempt")
	}
	fail(t, l, "admin", a, 9)
	for range 20 {
		at, _ := l.Begin("admin", a)
		if at == nil {
			t.Fatal("abandoned checks were counted")
		}
		at.Abandon()
	}
	fail(t, l, "admin", a, 1)
	if ok, _ := allowed(l, "admin", a); ok {
		t.Fatal("11th failure since the success allowed")
	}
}

// Guesses sent in parallel are counted before they are checked.
func TestParallelGuesses(t *testing.T) {
	l, _ := newTestLimiter()
	var granted atomic.Int32
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			if at, _ := l.Begin("admin", addr("203.0.113.9")); at != nil {
				granted.Add(1)
				time.Sleep(time.Millisecond) // the password check
				at.Failed()
			}
		})
	}
	wg.Wait()
	if n := granted.Load(); n != 10 {
		t.Fatalf("%d parallel guesses checked, want 10", n)
	}
}

// IPv6 addresses count per /64.
func TestIPv6Prefix(t *testing.T) {
	l, _ := newTestLimiter()
	for i := range 10 {
		fail(t, l, "admin", addr(fmt.Sprintf("2001:db8:1:2::%x", i+1)), 1)
	}
	if ok, _ := allowed(l, "admin", addr("2001:db8:1:2:ffff::1")); ok {
		t.Fatal("a new address of the same /64 is not blocked")
	}
	if ok, _ := allowed(l, "admin", addr("2001:db8:1:3::1")); !ok {
		t.Fatal("another /64 is blocked")
	}
}

// However many names and addresses are tried, the tables stay bounded,
// and Prune empties them once the windows are over.
func TestBoundedMemory(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := DefaultPolicy()
	p.MaxEntries = 500
	l := New(p, clk.now)
	long := make([]byte, 10_000)
	for i := range long {
		long[i] = 'x'
	}
	for i := range 20_000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		name := fmt.Sprintf("u%d-%s", i, long)
		if at, _ := l.Begin(name, a); at != nil {
			if i%100 == 0 {
				at.Succeeded()
			} else {
				at.Failed()
			}
		}
		if i%1000 == 0 {
			clk.advance(time.Second)
		}
	}
	pairs, addrs, users, familiar := l.Size()
	if pairs > 500 || addrs > 500 || users > 500 || familiar > 500 {
		t.Fatalf("tables %d %d %d %d, want at most 500 each", pairs, addrs, users, familiar)
	}
	clk.advance(31 * 24 * time.Hour)
	l.Prune()
	if pairs, addrs, users, familiar := l.Size(); pairs+addrs+users+familiar != 0 {
		t.Fatalf("after Prune: %d %d %d %d", pairs, addrs, users, familiar)
	}
}

func TestRetryAfter(t *testing.T) {
	for _, c := range []struct {
		wait   time.Duration
		header string
		words  string
	}{
		{300 * time.Millisecond, "1", "in 1 second"},
		{40 * time.Second, "40", "in 40 seconds"},
		{90 * time.Second, "90", "in 2 minutes"},
		{15 * time.Minute, "900", "in 15 minutes"},
	} {
		h := http.Header{}
		RetryAfter(h, c.wait)
		if h.Get("Retry-After") != c.header || InWords(c.wait) != c.words {
			t.Errorf("%s: %q %q", c.wait, h.Get("Retry-After"), InWords(c.wait))
		}
	}
}
