// Package launch starts the monitord workers oc-schedulerd hands executions
// to. A launcher starts one worker per execution: inside this process
// (the all-in-one binary), as an oc-monitord process, or as a Kubernetes
// Job. Every worker is told the name under which the daemon claimed the
// execution (its lease, see executions.Acquire), so that the worker, and
// only it, follows the execution.
package launch

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrDetached ends the Run of a worker that goes on without the daemon
// (a Job, when the daemon stops): its lease is its own.
var ErrDetached = errors.New("launch: the worker goes on without the daemon")

// Launchers by configuration name.
const (
	NameInProcess  = "inprocess"
	NameProcess    = "process"
	NameKubernetes = "kubernetes"
)

// Launcher starts workers.
type Launcher interface {
	// Name is the launcher's configuration name.
	Name() string
	// Launch starts a worker following execution id under the lease name
	// worker. The worker goes on when ctx ends only where the launcher
	// says so (a Kubernetes Job does; a process is asked to stop and
	// releases the lease; an in-process worker stops).
	Launch(ctx context.Context, id, worker string) (*Run, error)
}

// Run is one launched worker.
type Run struct {
	// pid is the worker's process (process launcher), for tests and logs.
	pid  int
	done chan struct{}
	once sync.Once
	mu   sync.Mutex
	err  error
}

// NewRun is a run that ends when End is called.
func NewRun() *Run { return &Run{done: make(chan struct{})} }

// Go runs fn in a goroutine; the run ends with fn's error.
func Go(fn func() error) *Run {
	r := NewRun()
	go func() {
		var err error
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("worker panicked: %v", p)
			}
			r.End(err)
		}()
		err = fn()
	}()
	return r
}

// End ends the run with err; later calls do nothing.
func (r *Run) End(err error) {
	r.once.Do(func() {
		r.mu.Lock()
		r.err = err
		r.mu.Unlock()
		close(r.done)
	})
}

// PID is the worker's process id (0 when it is not a process of its own).
func (r *Run) PID() int { return r.pid }

// Done is closed when the worker has ended.
func (r *Run) Done() <-chan struct{} { return r.done }

// Err is how the worker ended (nil: the execution ended); valid once Done
// is closed.
func (r *Run) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// InProcess runs workers as goroutines of this process, calling follow
// (the all-in-one binary passes oc-monitord's worker.Follow).
func InProcess(follow func(ctx context.Context, id, worker string) error) Launcher {
	return inProcess(follow)
}

type inProcess func(ctx context.Context, id, worker string) error

func (inProcess) Name() string { return NameInProcess }

func (f inProcess) Launch(ctx context.Context, id, worker string) (*Run, error) {
	return Go(func() error { return f(ctx, id, worker) }), nil
}
