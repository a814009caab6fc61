package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

// ProcessOptions configures the process launcher.
type ProcessOptions struct {
	// Path is the oc-monitord binary (a bare name is looked up in PATH).
	Path string
	// Args come before "run EXECUTION_ID" (the all-in-one binary runs
	// itself as "opencloud monitord run ID").
	Args []string
	// Env is the workers' configuration ("OC_STORE=sqlite", OC_NATS_URL,
	// OC_KUBECONFIG...). With the system variables of this process (PATH,
	// HOME, TZ, proxies: see systemEnv) it is all the environment a worker
	// gets: nothing else of the daemon's environment, its own secrets
	// included, reaches the workers.
	Env []string
	// Output receives the workers' standard output and error; nil: this
	// process's standard error.
	Output io.Writer
	// StopGrace is how long a worker asked to stop (SIGTERM) has before it
	// is killed; default 10 s.
	StopGrace time.Duration
	// Detach leaves the workers running when the daemon stops (a rolling
	// restart of oc-schedulerd that does not interrupt them): they keep
	// their leases, and the next daemon leaves their executions to them.
	Detach bool
}

// systemEnv names the variables of this process's environment that worker
// processes get as it has them: what any program may need to run and to
// reach its cluster (search path, home, user, time zone, locale, temporary
// directory, CA certificates, proxies).
var systemEnv = []string{"PATH", "HOME", "USER", "TZ", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"}

// workerEnv is a worker's environment: the system variables, Env, and its
// lease name.
func (p *process) workerEnv(worker string) []string {
	env := make([]string, 0, len(systemEnv)+len(p.o.Env)+1)
	for _, name := range systemEnv {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	env = append(env, p.o.Env...)
	return append(env, "OC_MONITORD_WORKER="+worker)
}

// Process runs each worker as an oc-monitord process: `PATH [ARGS] run ID`
// with the environment of Env and OC_MONITORD_WORKER set to the lease name.
// When the daemon stops,
// its workers are asked to stop (SIGTERM): each gives its lease up, for the
// next daemon to re-attach at once (unless Detach). A worker killed outright
// keeps its lease until it runs out.
func Process(o ProcessOptions) (Launcher, error) {
	if o.Path == "" {
		return nil, errors.New("process launcher: the oc-monitord binary is not set (OC_SCHEDULERD_MONITORD_PATH)")
	}
	// A binary not found now is not a reason to stop: each launch looks
	// for it again, and an execution that cannot be launched waits with
	// the reason (it may be installed later).
	if path, err := exec.LookPath(o.Path); err == nil {
		o.Path = path
	}
	if o.Output == nil {
		o.Output = os.Stderr
	}
	if o.StopGrace <= 0 {
		o.StopGrace = 10 * time.Second
	}
	return &process{o: o}, nil
}

type process struct{ o ProcessOptions }

func (*process) Name() string { return NameProcess }

func (p *process) Launch(ctx context.Context, id, worker string) (*Run, error) {
	args := append(slices.Clone(p.o.Args), "run", id)
	cctx := ctx
	if p.o.Detach {
		cctx = context.WithoutCancel(ctx)
	}
	cmd := exec.CommandContext(cctx, p.o.Path, args...)
	cmd.Env = p.workerEnv(worker)
	cmd.Stdout, cmd.Stderr = p.o.Output, p.o.Output
	// Its own process group: a terminal's Ctrl-C to the daemon does not
	// reach the workers, which the daemon stops itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = p.o.StopGrace
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s run %s (OC_SCHEDULERD_MONITORD_PATH): %w", p.o.Path, id, err)
	}
	r := NewRun()
	r.pid = cmd.Process.Pid
	go func() {
		err := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("oc-monitord run %s (pid %d): %w", id, cmd.Process.Pid, err)
		}
		r.End(err)
	}()
	if p.o.Detach {
		go func() {
			select {
			case <-ctx.Done():
				r.End(ErrDetached) // the process goes on; its waiter still reaps it
			case <-r.Done():
			}
		}()
	}
	return r, nil
}
