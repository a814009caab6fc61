package launch_test

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencloud/opencloud/services/oc-schedulerd/launch"
)

// actAsWorker makes this test binary a stand-in for oc-monitord when a
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

// workerEnv launches a worker with l and returns its environment, once it
// has written it; the worker is stopped when the test ends.
func workerEnv(t *testing.T, l launch.Launcher) map[string]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	file := filepath.Join(t.TempDir(), "environ")
	r, err := l.Launch(ctx, file, "d1/abc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-r.Done() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		raw, err := os.ReadFile(file)
		if err == nil && len(raw) > 0 {
			env := map[string]string{}
			for _, kv := range strings.Split(string(raw), "\n") {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			return env
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestProcessWorkerEnvironment: a worker process gets its configuration,
// its lease name and the system variables, and nothing else of the
// daemon's environment: not the services' client secret, not the
// administrator's password.
func TestProcessWorkerEnvironment(t *testing.T) {
	t.Setenv("OC_SERVICE_CLIENT_SECRET", "the-services-secret")
	t.Setenv("OC_ADMIN_PASSWORD", "the-admin-password")
	t.Setenv("OC_STORE", "mongo") // the daemon's own; the worker's comes from Env
	t.Setenv("TZ", "Europe/Paris")
	l, err := launch.Process(launch.ProcessOptions{Path: os.Args[0],
		Env: []string{"OC_STORE=sqlite", "OC_NATS_URL=nats://127.0.0.1:4222"}})
	if err != nil {
		t.Fatal(err)
	}
	env := workerEnv(t, l)
	for _, name := range []string{"OC_SERVICE_CLIENT_SECRET", "OC_ADMIN_PASSWORD"} {
		if _, ok := env[name]; ok {
			t.Errorf("the worker can read %s", name)
		}
	}
	want := map[string]string{"OC_STORE": "sqlite", "OC_NATS_URL": "nats://127.0.0.1:4222", "OC_MONITORD_WORKER": "d1/abc",
		"TZ": "Europe/Paris", "PATH": os.Getenv("PATH")}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	var names []string
	for k := range env {
		names = append(names, k)
	}
	slices.Sort(names)
	t.Logf("the worker's environment: %v", names)
}
