package daemon_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/store"

	"github.com/opencloud/opencloud/services/oc-schedulerd/internal/daemon"
)

// counted is a real store whose reads are counted: how often the daemon
// queries it.
type counted struct {
	store.Store
	reads atomic.Int64
}

func (c *counted) Collection(ctx context.Context, spec store.Spec) (store.Collection, error) {
	col, err := c.Store.Collection(ctx, spec)
	if err != nil {
		return nil, err
	}
	return countedCollection{Collection: col, reads: &c.reads}, nil
}

type countedCollection struct {
	store.Collection
	reads *atomic.Int64
}

func (c countedCollection) Get(ctx context.Context, id string, out any) (int64, error) {
	c.reads.Add(1)
	return c.Collection.Get(ctx, id, out)
}

func (c countedCollection) Find(ctx context.Context, q store.Query) ([]store.Record, int64, error) {
	c.reads.Add(1)
	return c.Collection.Find(ctx, q)
}

func (c countedCollection) Count(ctx context.Context, f store.Filter) (int64, error) {
	c.reads.Add(1)
	return c.Collection.Count(ctx, f)
}

// TestIdleWhileWaiting: a daemon whose due executions cannot start — the
// peer has no cluster, one execution's own preparation fails, or every
// worker is taken — sleeps until something can change: it reads the store
// a few times at most over two seconds, not a hundred times a second.
func TestIdleWhileWaiting(t *testing.T) {
	for _, tc := range []struct {
		name        string
		due         int
		concurrency int
		wait        string
		global      bool
		settled     func(e *env, ids []string, f *fakeWorkers, p *prepared) bool
	}{
		{"no cluster", 30, 0, "no Kubernetes cluster is configured on this peer", true,
			func(e *env, ids []string, _ *fakeWorkers, p *prepared) bool {
				return p.total() >= 1 && e.reasons(ids)["waiting: no Kubernetes cluster is configured on this peer"] == len(ids)
			}},
		{"its own reason", 1, 0, "its storage has no credentials", false,
			func(e *env, ids []string, _ *fakeWorkers, p *prepared) bool {
				return e.reasons(ids)["waiting: its storage has no credentials"] == 1
			}},
		{"every worker taken", 3, 1, "", false,
			func(e *env, ids []string, _ *fakeWorkers, _ *prepared) bool {
				s := e.states(ids)
				return s[execution.Running] == 1 && s[execution.Scheduled] == 2
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			backends(t, func(t *testing.T, st store.Store) {
				cs, p := &counted{Store: st}, &prepared{wait: tc.wait, global: tc.global}
				e := newEnv(t, cs, true)
				ids := e.book(tc.due, time.Now())
				f := newFake(e.execs)
				e.daemon(daemon.Config{Name: "d1", Concurrency: tc.concurrency, Scan: time.Hour, Retry: time.Hour}, f, p, true)
				e.until("the executions waiting", 20*time.Second, func() bool { return tc.settled(e, ids, f, p) })
				time.Sleep(300 * time.Millisecond) // the passes the daemon's own events cause
				before, prepares := cs.reads.Load(), p.total()
				time.Sleep(2 * time.Second)
				if n := cs.reads.Load() - before; n > 5 {
					t.Errorf("%d store reads in 2 s while nothing can change, want at most 5", n)
				}
				if n := p.total() - prepares; n != 0 {
					t.Errorf("%d preparations in 2 s with a retry an hour away", n)
				}
				if p.global && p.total() != 1 {
					t.Errorf("%d preparations for a cause every execution waits for, want 1", p.total())
				}
			})
		})
	}
}

// TestGlobalWaitTriesOnePerRetry: while the peer cannot prepare any
// execution, one is tried per retry delay and every due one says why it
// waits; once it can, all start.
func TestGlobalWaitTriesOnePerRetry(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, true)
		ids := e.book(10, time.Now())
		f, p := newFake(e.execs), &prepared{wait: "oc-datacenter is unreachable", global: true}
		e.daemon(daemon.Config{Name: "d1", Scan: time.Hour, Retry: 400 * time.Millisecond}, f, p, true)
		e.until("every execution saying why it waits", 10*time.Second, func() bool {
			return e.reasons(ids)["waiting: oc-datacenter is unreachable"] == len(ids)
		})
		time.Sleep(time.Second)
		// About one try per 400 ms: 3 or 4 by now, never one per execution.
		if n := p.total(); n > 6 {
			t.Fatalf("%d preparations in about 1.4 s with a retry delay of 400 ms", n)
		}
		// A booking while it waits gets the reason at the next try.
		more := e.book(1, time.Now())
		e.until("the new one saying why it waits", 5*time.Second, func() bool {
			return e.reasons(more)["waiting: oc-datacenter is unreachable"] == 1
		})
		p.setWait("")
		all := append(ids, more...)
		e.until("all running once the peer can prepare them", 10*time.Second, func() bool {
			return e.states(all)[execution.Running] == len(all)
		})
		for _, x := range all {
			if got, _ := e.execs.Get(e.ctx, x); got.Reason != "" {
				t.Errorf("%s still says %q", x, got.Reason)
			}
		}
	})
}

// TestRetriesAreForgotten: the retries of executions that no longer wait
// (cancelled here) are forgotten at the next scan, not kept until the
// retry delay or for ever.
func TestRetriesAreForgotten(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, true)
		ids := e.book(20, time.Now())
		p := &prepared{wait: "its storage has no credentials"}
		dm, _ := e.daemon(daemon.Config{Name: "d1", Scan: 100 * time.Millisecond, Retry: time.Hour}, newFake(e.execs), p, true)
		// Tried, and given back: the wait is recorded before the give-back is written.
		e.until("all 20 tried", 10*time.Second, func() bool {
			return dm.Retries() == 20 && e.states(ids)[execution.Scheduled] == 20
		})
		for _, id := range ids {
			if _, err := e.execs.Transition(e.ctx, id, []execution.State{execution.Scheduled}, execution.Cancelled, nil); err != nil {
				t.Fatal(err)
			}
		}
		e.until("the retries forgotten", 5*time.Second, func() bool { return dm.Retries() == 0 })
	})
}

// TestWakesForTheNextStart: with no event and no scan to wake it, a daemon
// whose due execution waits still claims the next one at its start.
func TestWakesForTheNextStart(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, false)
		waiting := e.book(1, time.Now())
		soon := e.book(1, time.Now().Add(1500*time.Millisecond))
		p := &prepared{wait: "its storage has no credentials"}
		f := newFake(e.execs)
		e.daemon(daemon.Config{Name: "d1", Scan: time.Hour, Retry: time.Hour, Lead: -1}, f, p, false)
		e.until("the due one waiting", 10*time.Second, func() bool { return e.reasons(waiting)["waiting: its storage has no credentials"] == 1 })
		p.setWait("")
		e.until("the next one running", 5*time.Second, func() bool { return e.states(soon)[execution.Running] == 1 })
		if x, _ := e.execs.Get(e.ctx, soon[0]); x.StartedAt != nil && x.StartedAt.Before(x.Start) {
			t.Errorf("started before its window")
		}
	})
}

// reasons counts the executions' reasons.
func (e *env) reasons(ids []string) map[string]int {
	out := map[string]int{}
	for _, id := range ids {
		x, err := e.execs.Get(e.ctx, id)
		if err != nil {
			e.t.Fatal(err)
		}
		out[x.Reason]++
	}
	return out
}
