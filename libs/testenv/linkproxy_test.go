package testenv

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

// helloServer is a real net/http server answering its name.
func helloServer(t *testing.T, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// get asks url with a client of its own (no connection kept between calls)
// and a 500 ms timeout; it returns the body, the error and how long it took.
func get(url string) (string, time.Duration, error) {
	hc := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := hc.Get(url)
	if err != nil {
		return "", time.Since(start), err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), time.Since(start), err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestLinkProxyCutAndRestore(t *testing.T) {
	srv := helloServer(t, "hello")
	link := Link(t, srv.Listener.Addr().String())
	if !strings.HasPrefix(link.Addr(), "127.0.0.1:") || link.URL() != "http://"+link.Addr() {
		t.Fatalf("proxy at %s (%s), want 127.0.0.1", link.Addr(), link.URL())
	}
	pass := func(when string) {
		t.Helper()
		if body, _, err := get(link.URL()); err != nil || body != "hello" {
			t.Fatalf("%s: %q %v", when, body, err)
		}
	}
	pass("link up")

	link.Cut(Refuse)
	if link.State() != Refuse {
		t.Fatalf("state %v after Cut(Refuse)", link.State())
	}
	if _, took, err := get(link.URL()); err == nil || isTimeout(err) || took > time.Second {
		t.Fatalf("refused link: err %v after %s, want a fast failure that is no timeout", err, took)
	}
	link.Restore()
	if link.State() != LinkUp {
		t.Fatalf("state %v after Restore", link.State())
	}
	pass("restored after refuse")

	link.Cut(Blackhole)
	if _, took, err := get(link.URL()); !isTimeout(err) || took < 500*time.Millisecond {
		t.Fatalf("blackholed link: err %v after %s, want the client's 500 ms timeout", err, took)
	}
	link.Restore()
	pass("restored after blackhole")

	st := link.Stats()
	if st.Accepted < 5 || st.Forwarded < 3 || st.ToTarget == 0 || st.FromTarget == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A keep-alive client's open connection is broken by a cut too, not only
// new ones.
func TestLinkProxyCutBreaksOpenConnections(t *testing.T) {
	srv := helloServer(t, "hello")
	for _, mode := range []LinkState{Refuse, Blackhole} {
		t.Run(mode.String(), func(t *testing.T) {
			link := Link(t, srv.Listener.Addr().String())
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Timeout: 500 * time.Millisecond, Transport: tr}
			do := func() (string, time.Duration, error) {
				start := time.Now()
				resp, err := hc.Get(link.URL())
				if err != nil {
					return "", time.Since(start), err
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				return string(body), time.Since(start), err
			}
			for range 2 {
				if body, _, err := do(); err != nil || body != "hello" {
					t.Fatalf("link up: %q %v", body, err)
				}
			}
			if n := link.Stats().Accepted; n != 1 {
				t.Fatalf("%d connections for two requests, want one kept alive", n)
			}
			link.Cut(mode)
			_, took, err := do()
			switch {
			case mode == Refuse && (err == nil || isTimeout(err) || took > time.Second):
				t.Fatalf("kept-alive connection through a refused link: err %v after %s", err, took)
			case mode == Blackhole && !isTimeout(err):
				t.Fatalf("kept-alive connection through a blackholed link: err %v, want a timeout", err)
			case mode == Blackhole && link.Stats().Accepted != 1:
				t.Fatalf("the request did not use the open connection: %+v", link.Stats())
			}
			link.Restore()
			if body, _, err := do(); err != nil || body != "hello" {
				t.Fatalf("restored: %q %v", body, err)
			}
		})
	}
}

// On a raw connection: a refused link resets it at once; a blackholed one
// holds what is sent and delivers it when restored.
func TestLinkProxyConnectionAcrossCuts(t *testing.T) {
	srv := helloServer(t, "hello")
	link := Link(t, srv.Listener.Addr().String())
	request := "GET / HTTP/1.1\r\nHost: test\r\n\r\n"
	dial := func() (net.Conn, *bufio.Reader) {
		t.Helper()
		c, err := net.Dial("tcp", link.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c, bufio.NewReader(c)
	}
	roundTrip := func(c net.Conn, r *bufio.Reader, timeout time.Duration) error {
		t.Helper()
		if _, err := io.WriteString(c, request); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(timeout))
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err == nil && string(body) != "hello" {
			return errors.New("body " + string(body))
		}
		return err
	}

	c, r := dial()
	if err := roundTrip(c, r, time.Second); err != nil {
		t.Fatal(err)
	}
	link.Cut(Blackhole)
	if err := roundTrip(c, r, 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("blackholed: %v, want a read timeout", err)
	}
	// The request sent during the outage is answered once the link is back.
	link.Restore()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("held request after Restore: %v", err)
	}
	_ = resp.Body.Close()

	// Refuse breaks the same open connection at once.
	link.Cut(Refuse)
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	start := time.Now()
	if _, err := r.ReadByte(); err == nil || isTimeout(err) || time.Since(start) > 500*time.Millisecond {
		t.Fatalf("open connection across Cut(Refuse): %v after %s, want a reset or EOF at once", err, time.Since(start))
	}
}

func TestLinkProxySetTarget(t *testing.T) {
	a, b := helloServer(t, "a"), helloServer(t, "b")
	link := Link(t, "")
	if _, took, err := get(link.URL()); err == nil || took > time.Second {
		t.Fatalf("no target: err %v after %s, want a fast failure", err, took)
	}
	link.SetTarget(a.Listener.Addr().String())
	if body, _, err := get(link.URL()); body != "a" {
		t.Fatalf("target a: %q %v", body, err)
	}
	link.SetTarget(b.Listener.Addr().String())
	if body, _, err := get(link.URL()); body != "b" {
		t.Fatalf("target b: %q %v", body, err)
	}
}

// Close ends every goroutine the proxy started, whatever its connections
// are doing.
func TestLinkProxyCloseEndsItsGoroutines(t *testing.T) {
	// A target that only reads (and counts) what it gets.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	targetDone := make(chan struct{})
	go func() {
		defer close(targetDone)
		var open []net.Conn
		defer func() {
			for _, c := range open {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			open = append(open, c)
		}
	}()
	before := runtime.NumGoroutine()

	link, err := NewLinkProxy(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var clients []net.Conn
	open := func() net.Conn {
		c, err := net.Dial("tcp", link.Addr())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		return c
	}
	open()                                 // forwarded, idle both ways
	_, _ = open().Write([]byte("partial")) // forwarded, bytes on the way
	waitFor(t, func() bool { return link.Stats().Forwarded == 2 })
	link.Cut(Blackhole)
	_, _ = clients[0].Write([]byte("held")) // held by the blackhole
	open()                                  // waiting for the link
	waitFor(t, func() bool { return link.Stats().Accepted == 3 })

	closed := make(chan struct{})
	go func() {
		defer close(closed)
		link.Close()
	}()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("Close still waiting after 2s")
	}
	for _, c := range clients {
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Fatalf("a connection through the closed proxy still open: %v", err)
		}
		_ = c.Close()
	}
	if _, err := net.Dial("tcp", link.Addr()); err == nil {
		t.Fatal("the closed proxy still accepts connections")
	}
	waitFor(t, func() bool { return runtime.NumGoroutine() <= before })
	_ = ln.Close()
	<-targetDone
}

// waitFor polls cond for up to 2 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still not so after 2s (%d goroutines)", runtime.NumGoroutine())
		}
	}
}
