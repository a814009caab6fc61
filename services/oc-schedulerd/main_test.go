package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/config"
	"github.com/opencloud/opencloud/services/oc-schedulerd/launch"
)

func TestMain(m *testing.M) {
	actAsWorker()
	os.Exit(m.Run())
}

// actAsWorker makes this test binary a stand-in for oc-monitord when the
// process launcher starts it as `BINARY run FILE`: it writes its
// environment to FILE and waits to be stopped (a minute at most).
func actAsWorker() {
	if len(os.Args) != 3 || os.Args[1] != "run" {
		return
	}
	if err := os.WriteFile(os.Args[2], []byte(strings.Join(os.Environ(), "\n")), 0o600); err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case <-time.After(time.Minute):
	}
	os.Exit(0)
}

// configured is the launcher oc-schedulerd builds from its environment,
// with this test binary as oc-monitord.
func configured(t *testing.T, env map[string]string) launch.Launcher {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	t.Setenv("OC_SCHEDULERD_MONITORD_PATH", os.Args[0])
	var cfg appConfig
	if err := config.Load(os.Getenv, &cfg); err != nil {
		t.Fatal(err)
	}
	l, err := launcher(cfg, slog.New(slog.DiscardHandler), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// started launches a worker and waits until it has written its
// environment, which it returns.
func started(t *testing.T, ctx context.Context, l launch.Launcher) (*launch.Run, map[string]string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "environ")
	r, err := l.Launch(ctx, file, "d1/abc")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if raw, err := os.ReadFile(file); err == nil && len(raw) > 0 {
			env := map[string]string{}
			for _, kv := range strings.Split(string(raw), "\n") {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			return r, env
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWorkerEnvironment: a process-launched worker gets what oc-monitord
// run reads, as the daemon has it, and the variables the daemon is told to
// pass; never the services' client secret nor anything else.
func TestWorkerEnvironment(t *testing.T) {
	l := configured(t, map[string]string{
		"OC_SERVICE_CLIENT_SECRET": "the-services-secret", "OC_ADMIN_PASSWORD": "the-admin-password",
		"OC_STORE": "mongo", "OC_MONGO_URI": "mongodb://user:pw@mongo:27017", "OC_MONGO_DB": "peer1",
		"OC_NATS_URL": "nats://nats:4222", "OC_KUBECONFIG": "/etc/opencloud/kubeconfig",
		"OC_LOG_FORMAT": "json", "OC_MONITORD_LEASE_TTL": "45s",
		"OC_SCHEDULERD_WORKER_ENV": "AWS_PROFILE", "AWS_PROFILE": "cluster", "UNRELATED": "x",
	})
	ctx, cancel := context.WithCancel(context.Background())
	r, env := started(t, ctx, l)
	defer func() { cancel(); <-r.Done() }()
	for _, name := range []string{"OC_SERVICE_CLIENT_SECRET", "OC_ADMIN_PASSWORD", "UNRELATED", "OC_SCHEDULERD_MONITORD_PATH"} {
		if _, ok := env[name]; ok {
			t.Errorf("the worker can read %s", name)
		}
	}
	for k, v := range map[string]string{"OC_STORE": "mongo", "OC_MONGO_URI": "mongodb://user:pw@mongo:27017", "OC_MONGO_DB": "peer1",
		"OC_NATS_URL": "nats://nats:4222", "OC_KUBECONFIG": "/etc/opencloud/kubeconfig",
		"OC_LOG_FORMAT": "json", "OC_MONITORD_LEASE_TTL": "45s", "OC_MONITORD_WORKER": "d1/abc",
		"AWS_PROFILE": "cluster", "PATH": os.Getenv("PATH")} {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
}

// TestWorkerEnvNeverTheSecret: the daemon refuses to pass its own secret.
func TestWorkerEnvNeverTheSecret(t *testing.T) {
	getenv := func(name string) string {
		return map[string]string{"OC_SCHEDULERD_WORKER_ENV": "AWS_PROFILE,OC_SERVICE_CLIENT_SECRET,not a name"}[name]
	}
	var cfg appConfig
	err := config.Load(getenv, &cfg)
	if err == nil || !strings.Contains(err.Error(), "OC_SERVICE_CLIENT_SECRET is the daemon's own secret") ||
		!strings.Contains(err.Error(), `"not a name" is not a variable name`) {
		t.Fatalf("got %v", err)
	}
}

// TestDetach: OC_SCHEDULERD_DETACH reaches the process launcher: with it,
// a worker goes on when the daemon stops; without it, it is stopped.
func TestDetach(t *testing.T) {
	for _, tc := range []struct {
		value    string
		detached bool
	}{{"", false}, {"false", false}, {"true", true}} {
		t.Run("OC_SCHEDULERD_DETACH="+tc.value, func(t *testing.T) {
			l := configured(t, map[string]string{"OC_SCHEDULERD_DETACH": tc.value})
			ctx, cancel := context.WithCancel(context.Background())
			r, _ := started(t, ctx, l)
			pid := r.PID()
			cancel() // the daemon stops
			select {
			case <-r.Done():
			case <-time.After(20 * time.Second):
				t.Fatal("the worker's run did not end with the daemon")
			}
			alive := syscall.Kill(pid, 0) == nil
			if tc.detached {
				if !errors.Is(r.Err(), launch.ErrDetached) || !alive {
					t.Fatalf("run ended with %v, process alive %v; want it detached and alive", r.Err(), alive)
				}
				if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(10 * time.Second)
				for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				return
			}
			if errors.Is(r.Err(), launch.ErrDetached) || alive {
				t.Fatalf("run ended with %v, process alive %v; want it stopped", r.Err(), alive)
			}
		})
	}
}
