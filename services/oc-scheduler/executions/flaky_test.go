package executions_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencloud/opencloud/libs/store"
)

// errDown is the failure of a write while a flaky store is down.
var errDown = errors.New("test: the store refuses writes")

// flaky is a store whose collections refuse writes while down is set (all
// of them, or those of one collection): a store outage as one process
// sees it. Reads go through.
type flaky struct {
	store.Store
	down atomic.Bool
	only atomic.Value // string: the collection that fails ("": every one)
}

func (f *flaky) Collection(ctx context.Context, spec store.Spec) (store.Collection, error) {
	c, err := f.Store.Collection(ctx, spec)
	return flakyCollection{Collection: c, f: f, name: spec.Name}, err
}

// fail makes writes fail (to collection only, if not empty).
func (f *flaky) fail(only string) { f.only.Store(only); f.down.Store(true) }

func (f *flaky) recover() { f.down.Store(false) }

type flakyCollection struct {
	store.Collection
	f    *flaky
	name string
}

func (c flakyCollection) refuses() bool {
	if !c.f.down.Load() {
		return false
	}
	only, _ := c.f.only.Load().(string)
	return only == "" || only == c.name
}

func (c flakyCollection) Insert(ctx context.Context, id string, doc any) (int64, error) {
	if c.refuses() {
		return 0, errDown
	}
	return c.Collection.Insert(ctx, id, doc)
}

func (c flakyCollection) Replace(ctx context.Context, id string, version int64, doc any) (int64, error) {
	if c.refuses() {
		return 0, errDown
	}
	return c.Collection.Replace(ctx, id, version, doc)
}

func (c flakyCollection) UpdateIf(ctx context.Context, id string, cond store.Filter, set map[string]any) (int64, error) {
	if c.refuses() {
		return 0, errDown
	}
	return c.Collection.UpdateIf(ctx, id, cond, set)
}

func (c flakyCollection) Delete(ctx context.Context, id string, version int64) error {
	if c.refuses() {
		return errDown
	}
	return c.Collection.Delete(ctx, id, version)
}

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Millisecond)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
