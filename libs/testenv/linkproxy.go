package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// LinkState is what a LinkProxy does with the traffic it gets.
type LinkState int

const (
	// LinkUp forwards everything both ways.
	LinkUp LinkState = iota
	// Refuse is a link whose far end is down: open connections are reset at
	// once, and new ones are accepted and reset, so a caller fails within
	// milliseconds ("connection reset by peer" or EOF).
	Refuse
	// Blackhole is a dropped link: open connections stop carrying bytes
	// and new ones are accepted but carry nothing either way, so a caller
	// only sees its own timeout. When the link is restored the bytes held
	// flow on, as TCP's retransmissions deliver them after a short outage.
	Blackhole
)

func (s LinkState) String() string {
	switch s {
	case LinkUp:
		return "up"
	case Refuse:
		return "refuse"
	case Blackhole:
		return "blackhole"
	}
	return fmt.Sprintf("LinkState(%d)", int(s))
}

// LinkStats counts what a LinkProxy carried.
type LinkStats struct {
	// Accepted is the number of connections accepted, whatever the state.
	Accepted int64
	// Forwarded is the number of connections that reached the target.
	Forwarded int64
	// ToTarget and FromTarget are the bytes carried each way.
	ToTarget, FromTarget int64
}

// linkDialTimeout bounds a connection to the target.
const linkDialTimeout = 5 * time.Second

// LinkProxy is a TCP proxy on 127.0.0.1 standing for the network link to a
// target address, which a test can cut and restore while both ends keep
// running.
type LinkProxy struct {
	ln     net.Listener
	ctx    context.Context // done when the proxy is closed
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	target  string
	state   LinkState
	changed chan struct{} // closed and replaced at every change of state
	closed  bool
	conns   map[*proxiedConn]struct{}

	accepted, forwarded, toTarget, fromTarget atomic.Int64
}

// proxiedConn is one connection through the proxy: the caller's side and,
// once dialled, the target's.
type proxiedConn struct {
	client *net.TCPConn
	target net.Conn
}

// reset closes both sides; the caller's side with a TCP reset, as a peer
// that went away answers.
func (c *proxiedConn) reset() {
	_ = c.client.SetLinger(0)
	_ = c.client.Close()
	if c.target != nil {
		_ = c.target.Close()
	}
}

// Link starts a proxy to target (host:port; empty: set it later with
// SetTarget), up, closed when t ends.
func Link(t testing.TB, target string) *LinkProxy {
	t.Helper()
	p, err := NewLinkProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// NewLinkProxy starts a proxy to target (host:port; empty: set it later
// with SetTarget), up. Close stops it.
func NewLinkProxy(target string) (*LinkProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("testenv: link proxy: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &LinkProxy{ln: ln, ctx: ctx, cancel: cancel, target: target,
		changed: make(chan struct{}), conns: map[*proxiedConn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is where the proxy listens: 127.0.0.1:port.
func (p *LinkProxy) Addr() string { return p.ln.Addr().String() }

// URL is http:// followed by Addr.
func (p *LinkProxy) URL() string { return "http://" + p.Addr() }

// SetTarget changes where new connections go; open ones keep theirs.
func (p *LinkProxy) SetTarget(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = target
}

// State is what the link does now.
func (p *LinkProxy) State() LinkState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// Stats returns the counters so far.
func (p *LinkProxy) Stats() LinkStats {
	return LinkStats{Accepted: p.accepted.Load(), Forwarded: p.forwarded.Load(),
		ToTarget: p.toTarget.Load(), FromTarget: p.fromTarget.Load()}
}

// Cut breaks the link the way mode says (Refuse or Blackhole); Cut(LinkUp)
// is Restore.
func (p *LinkProxy) Cut(mode LinkState) {
	if mode != LinkUp && mode != Refuse && mode != Blackhole {
		panic(fmt.Sprintf("testenv: LinkProxy.Cut(%v): expected Refuse or Blackhole", mode))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = mode
	close(p.changed)
	p.changed = make(chan struct{})
	if mode == Refuse {
		for c := range p.conns {
			c.reset()
		}
	}
}

// Restore puts the link back up: new connections reach the target again,
// and those held by a Blackhole carry on.
func (p *LinkProxy) Restore() { p.Cut(LinkUp) }

// Close stops the proxy: its listener, every connection through it, and
// every goroutine it started, which it waits for.
func (p *LinkProxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.changed)
	p.changed = make(chan struct{})
	for c := range p.conns {
		c.reset()
	}
	p.mu.Unlock()
	p.cancel()
	_ = p.ln.Close()
	p.wg.Wait()
}

func (p *LinkProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.accepted.Add(1)
		pc := &proxiedConn{client: c.(*net.TCPConn)}
		if !p.track(pc) {
			pc.reset()
			return
		}
		p.wg.Add(1)
		go p.serve(pc)
	}
}

// track adds c to the open connections, unless the proxy is closed.
func (p *LinkProxy) track(c *proxiedConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *LinkProxy) untrack(c *proxiedConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

// pass waits while the link is blackholed; it reports whether bytes may
// go through (false: refused or closed).
func (p *LinkProxy) pass() bool {
	for {
		p.mu.Lock()
		state, changed, closed := p.state, p.changed, p.closed
		p.mu.Unlock()
		switch {
		case closed || state == Refuse:
			return false
		case state == LinkUp:
			return true
		}
		<-changed
	}
}

// serve carries one connection: it waits for the link before dialling the
// target, then copies both ways, each chunk waiting for the link.
func (p *LinkProxy) serve(c *proxiedConn) {
	defer p.wg.Done()
	defer p.untrack(c)
	if !p.pass() {
		c.reset()
		return
	}
	p.mu.Lock()
	addr := p.target
	p.mu.Unlock()
	if addr == "" {
		c.reset()
		return
	}
	d := net.Dialer{Timeout: linkDialTimeout}
	target, err := d.DialContext(p.ctx, "tcp", addr)
	if err != nil {
		c.reset() // what the caller would get from the target itself
		return
	}
	p.mu.Lock()
	c.target = target
	// A Cut or Close while dialling reset the client side only.
	refused := p.closed || p.state == Refuse
	p.mu.Unlock()
	if refused {
		c.reset()
		return
	}
	p.forwarded.Add(1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.pump(c, target, c.client, &p.fromTarget)
	}()
	p.pump(c, c.client, target, &p.toTarget)
	wg.Wait()
	_ = c.client.Close()
	_ = target.Close()
}

// pump copies src to dst until src ends (then it half-closes dst) or the
// link is refused or closed (then it resets both).
func (p *LinkProxy) pump(c *proxiedConn, dst, src net.Conn, count *atomic.Int64) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.pass() {
				c.reset()
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				c.reset()
				return
			}
			count.Add(int64(n))
		}
		if errors.Is(err, io.EOF) {
			if hc, ok := dst.(interface{ CloseWrite() error }); ok {
				_ = hc.CloseWrite()
			}
			return
		}
		if err != nil {
			c.reset()
			return
		}
	}
}
