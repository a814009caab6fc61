// Package store keeps what oc-scheduler alone writes — the booking lock —
// in the libs document store. The journal of booking requests is in the
// executions package, whose claims depend on it.
package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	ds "github.com/opencloud/opencloud/libs/store"
)

// ErrBusy: the lock could not be taken in time; the caller may retry.
var ErrBusy = errors.New("scheduler: the booking lock is busy")

// ErrLost: the lease ran out while held and another holder may have taken
// the lock; what was written under it must be undone.
var ErrLost = errors.New("scheduler: the booking lock was lost")

// LockSpec declares the lock collection: one document per lock.
var LockSpec = ds.Spec{
	Name: "scheduler_locks",
	Fields: []ds.Field{
		{Name: "version", Type: ds.Int},
		{Name: "holder", Type: ds.String},
		{Name: "expires_at", Type: ds.Time},
	},
}

// BookingLock is the id of the lock every booking takes.
const BookingLock = "booking"

type lockDoc struct {
	Holder    string    `json:"holder"`
	ExpiresAt time.Time `json:"expires_at"`
	// Next is a holder of another process waiting for the lock, which takes
	// it before this process's next waiter does, so that no process starves.
	Next   string    `json:"next"`
	NextAt time.Time `json:"next_at"`
}

// LockOptions tune a Lock; zero values take the defaults.
type LockOptions struct {
	Lease time.Duration // how long a holder may hold it without renewing; default 30 s
	Wait  time.Duration // how long Acquire waits; default 20 s
	// Poll is the mean pause between tries; default 5 ms, jittered.
	Poll time.Duration
	Now  func() time.Time
	// Holder names this process; default a random id.
	Holder string
	// OnTakeover runs, under the lock, when the previous holder's lease had
	// expired: it undoes what the crashed holder left half-done.
	OnTakeover func(ctx context.Context, previous string) error
}

// Lock is a lease lock kept in the store, shared by every process on it,
// with an in-process queue in front so that a process does not poll against
// itself.
type Lock struct {
	c     ds.Collection
	id    string
	o     LockOptions
	local chan struct{}
}

// OpenLock opens the lock id, creating its document if needed.
func OpenLock(ctx context.Context, st ds.Store, id string, o LockOptions) (*Lock, error) {
	if o.Lease == 0 {
		o.Lease = 30 * time.Second
	}
	if o.Wait == 0 {
		o.Wait = 20 * time.Second
	}
	if o.Poll == 0 {
		o.Poll = 5 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Holder == "" {
		o.Holder = uuid.NewString()
	}
	c, err := st.Collection(ctx, LockSpec)
	if err != nil {
		return nil, fmt.Errorf("open collection %s: %w", LockSpec.Name, err)
	}
	if _, err := c.Insert(ctx, id, lockDoc{ExpiresAt: time.Unix(0, 0).UTC(), NextAt: time.Unix(0, 0).UTC()}); err != nil && !errors.Is(err, ds.ErrDuplicate) {
		return nil, fmt.Errorf("create lock %s: %w", id, err)
	}
	return &Lock{c: c, id: id, o: o, local: make(chan struct{}, 1)}, nil
}

// Holder is this process's name on the lock.
func (l *Lock) Holder() string { return l.o.Holder }

// Lease is a held lock.
type Lease struct {
	l        *Lock
	released bool
}

// Acquire takes the lock, waiting up to the Wait option; ErrBusy after it.
func (l *Lock) Acquire(ctx context.Context) (*Lease, error) {
	ctx, cancel := context.WithTimeout(ctx, l.o.Wait)
	defer cancel()
	select {
	case l.local <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %d s waiting in this process", ErrBusy, int(l.o.Wait/time.Second))
	}
	for {
		took, previous, err := l.try(ctx)
		if err != nil {
			<-l.local
			// The MongoDB driver may give up a little before the deadline
			// (when the time left is below its round trip): that is the
			// wait running out too.
			if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("%w: %w", ErrBusy, err)
			}
			return nil, err
		}
		if took {
			lease := &Lease{l: l}
			if previous != "" && l.o.OnTakeover != nil {
				if err := l.o.OnTakeover(ctx, previous); err != nil {
					lease.Release(context.WithoutCancel(ctx))
					return nil, fmt.Errorf("clean up after holder %s: %w", previous, err)
				}
			}
			return lease, nil
		}
		pause := time.Duration(float64(l.o.Poll) * (0.5 + rand.Float64()))
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			<-l.local
			return nil, fmt.Errorf("%w: held by another process for %d s", ErrBusy, int(l.o.Wait/time.Second))
		}
	}
}

// try takes the lock if it is free, expired or already this process's,
// and no other process is first in line. previous is the holder whose
// lease had expired, if any.
func (l *Lock) try(ctx context.Context) (took bool, previous string, err error) {
	var d lockDoc
	v, err := l.c.Get(ctx, l.id, &d)
	if err != nil {
		return false, "", fmt.Errorf("read lock %s: %w", l.id, err)
	}
	now := l.o.Now().UTC().Truncate(time.Millisecond)
	me := l.o.Holder
	expired := d.Holder != "" && d.Holder != me && d.ExpiresAt.Before(now)
	free := d.Holder == "" || d.Holder == me || expired
	// A waiter that stopped asking (gone, or served) loses its turn.
	myTurn := d.Next == "" || d.Next == me || d.NextAt.Before(now.Add(-l.o.Poll*20-100*time.Millisecond))
	cond := ds.And(ds.Eq("version", v), ds.Or(ds.Eq("holder", ""), ds.Lt("expires_at", now), ds.Eq("holder", me)))
	if free && myTurn {
		set := map[string]any{"holder": me, "expires_at": now.Add(l.o.Lease)}
		if d.Next != "" {
			set["next"], set["next_at"] = "", time.Unix(0, 0).UTC()
		}
		_, err := l.c.UpdateIf(ctx, l.id, cond, set)
		if errors.Is(err, ds.ErrConditionFailed) {
			return false, "", nil
		}
		if err != nil {
			return false, "", fmt.Errorf("take lock %s: %w", l.id, err)
		}
		if expired {
			previous = d.Holder
		}
		return true, previous, nil
	}
	if myTurn {
		// Queue up, or say that this waiter is still there.
		_, err := l.c.UpdateIf(ctx, l.id, ds.Eq("version", v), map[string]any{"next": me, "next_at": now})
		if err != nil && !errors.Is(err, ds.ErrConditionFailed) {
			return false, "", fmt.Errorf("queue on lock %s: %w", l.id, err)
		}
	}
	return false, "", nil
}

// Renew extends the lease; ErrLost if it was taken over meanwhile.
func (s *Lease) Renew(ctx context.Context) error {
	l := s.l
	now := l.o.Now().UTC().Truncate(time.Millisecond)
	_, err := l.c.UpdateIf(ctx, l.id, ds.Eq("holder", l.o.Holder), map[string]any{"expires_at": now.Add(l.o.Lease)})
	if errors.Is(err, ds.ErrConditionFailed) {
		return ErrLost
	}
	if err != nil {
		return fmt.Errorf("renew lock %s: %w", l.id, err)
	}
	return nil
}

// Release frees the lock; it is safe to call twice. A failure leaves the
// lease to expire (the next holder then cleans up, finding nothing to do).
func (s *Lease) Release(ctx context.Context) {
	if s.released {
		return
	}
	s.released = true
	l := s.l
	_, _ = l.c.UpdateIf(ctx, l.id, ds.Eq("holder", l.o.Holder), map[string]any{"holder": "", "expires_at": time.Unix(0, 0).UTC()})
	<-l.local
}
