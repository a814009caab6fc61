package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
)

// LoopCheck is the name of the readiness check of a component's background loop.
const LoopCheck = "background"

// Loop is a component's background work (its Run) in a goroutine of its
// own. It remembers how the work ended, so that /readyz can tell a service
// whose loop has died from a healthy one, and so that shutdown can wait for
// the work to finish before closing what it uses.
type Loop struct {
	name string
	done chan struct{}
	mu   sync.Mutex
	err  error
}

// StartLoop runs run(ctx) in a new goroutine; name says whose work it is
// ("workspace").
func StartLoop(ctx context.Context, name string, run func(context.Context) error) *Loop {
	l := &Loop{name: name, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		err := run(ctx)
		// Ending because it was asked to is not dying.
		if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			err = nil
		}
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
	}()
	return l
}

// Done is closed once the work has returned.
func (l *Loop) Done() <-chan struct{} { return l.done }

// Err is the error the work died of: nil while it runs, and when it
// returned nil or because its context ended.
func (l *Loop) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Check is the loop's readiness check: it fails, naming the loop and its
// error, once the work has died.
func (l *Loop) Check() Check {
	return Check{Name: LoopCheck, Check: func(context.Context) error {
		if err := l.Err(); err != nil {
			return fmt.Errorf("the background loop of %s stopped: %w", l.name, err)
		}
		return nil
	}}
}

type checksKey struct{}

// WithChecks returns h with checks added to the readiness checks of its
// /readyz (a service built with New): what the process running a
// component knows of it, such as its Loop, beside what the component checks
// itself.
func WithChecks(h http.Handler, checks ...Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		prev, _ := r.Context().Value(checksKey{}).([]Check)
		all := append(append([]Check(nil), prev...), checks...)
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), checksKey{}, all)))
	})
}

// extraChecks are the checks WithChecks put in ctx.
func extraChecks(ctx context.Context) []Check {
	cs, _ := ctx.Value(checksKey{}).([]Check)
	return cs
}
