// Package retry runs a read-modify-write made under optimistic concurrency
// again when another writer got ahead of it: plumbing the services' domain
// packages share, without the HTTP server's dependencies.
package retry

import (
	"context"
	"errors"
)

// Attempts bounds how many times OnConflict runs a change that keeps
// losing races with other writers.
const Attempts = 5

// lostRace marks the error of a write that lost a race.
type lostRace struct{ err error }

func (e *lostRace) Error() string { return e.err.Error() }
func (e *lostRace) Unwrap() error { return e.err }

// LostRace marks err as the failure of a write conditioned on a version
// that another writer replaced or removed after it was read: returned as
// is by the change given to OnConflict, it makes the change run again
// on what is current. A change whose caller named the version to change
// must not mark its conflict: the conflict is then the answer.
func LostRace(err error) error {
	if err == nil {
		return nil
	}
	return &lostRace{err: err}
}

// OnConflict runs change, a read-modify-write under optimistic
// concurrency, until it returns anything but an error made by LostRace, at
// most Attempts times, and not after ctx is done. It returns change's
// last result; an error made by LostRace comes back as the error it marked.
func OnConflict[T any](ctx context.Context, change func(ctx context.Context) (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := change(ctx)
		var lost *lostRace
		if !errors.As(err, &lost) {
			return v, err
		}
		if attempt >= Attempts || ctx.Err() != nil {
			return v, lost.err
		}
	}
}
