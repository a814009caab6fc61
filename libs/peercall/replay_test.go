package peercall

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestReplayCacheForgetsOnlyExpiredNonces(t *testing.T) {
	c := NewReplayCache(3)
	for i, n := range []string{"n1", "n2", "n3"} {
		if err := c.Check("peer", n, t0.Add(time.Duration(i+1)*time.Minute), t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Check("peer", "n2", t0.Add(time.Hour), t0.Add(30*time.Second)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("a nonce seen before: %v", err)
	}
	if err := c.Check("other peer", "n2", t0.Add(time.Minute), t0); err != ErrBusy {
		t.Fatalf("a full cache of live nonces: %v, want ErrBusy", err)
	}
	// n1 expires at t0+1m: its room is taken again, and the others stay.
	if err := c.Check("other peer", "n2", t0.Add(5*time.Minute), t0.Add(61*time.Second)); err != nil {
		t.Fatalf("after n1 expired: %v", err)
	}
	if err := c.Check("peer", "n3", t0.Add(time.Hour), t0.Add(62*time.Second)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("n3 forgotten before its expiry: %v", err)
	}
	if c.Len() != 3 {
		t.Fatalf("%d entries", c.Len())
	}
	if err := c.Check("peer", "n1", t0.Add(time.Hour), t0.Add(10*time.Minute)); err != nil || c.Len() != 1 {
		t.Fatalf("after every nonce expired: %v, %d entries", err, c.Len())
	}
}

func TestReplayCacheConcurrent(t *testing.T) {
	c := NewReplayCache(10_000)
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				// Every goroutine tries the same 500 nonces, and 500 of its own.
				if c.Check("p", fmt.Sprint("shared", i), t0.Add(time.Minute), t0) == nil {
					accepted.Add(1)
				}
				if c.Check("p", fmt.Sprint("own", g, "-", i), t0.Add(time.Minute), t0) == nil {
					accepted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if got := accepted.Load(); got != 500+8*500 {
		t.Fatalf("%d calls accepted, want %d", got, 500+8*500)
	}
}
