package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// ClusterEnv is a running test cluster of the project (scripts/cluster.sh):
// a real control plane with kwok's fake nodes and Argo's controller, on
// 127.0.0.1. Callers build their Kubernetes clients from Kubeconfig, which
// keeps client-go out of libs.
type ClusterEnv struct {
	// Dir is the cluster's directory (logs/, pids, ports, kubeconfig).
	Dir string
	// Kubeconfig is the path of a kubeconfig whose user is a cluster admin.
	Kubeconfig string
	// Bin is the directory of the cluster's binaries (kubectl among them).
	Bin string
}

// ClusterEnvVar, set to "required", makes Cluster fail instead of skip when
// the cluster's binaries are not built (CI, once it builds them).
const ClusterEnvVar = "OC_TEST_CLUSTER"

// clusterSkipMessage is what a test skipped for want of binaries says.
const clusterSkipMessage = "test cluster not built: run make cluster-build"

// clusterUpTimeout bounds `cluster.sh up`, whose own waits give up after 60 s each.
const clusterUpTimeout = 4 * time.Minute

// errClusterNotBuilt is cluster.sh's "run ... build first".
var errClusterNotBuilt = errors.New(clusterSkipMessage)

// sharedClusterState is the one cluster of a kind (with or without a real
// node) of a test binary whose TestMain calls Main.
type sharedClusterState struct {
	once sync.Once
	env  *ClusterEnv
	err  error
}

var sharedCluster, sharedRealCluster sharedClusterState

// Cluster returns the project's test cluster. Under Main one cluster is
// started on first use and shared by every test of the binary (tests keep
// apart by namespace), then stopped by Main; otherwise each call starts one
// that is stopped when t ends. When the binaries are not built the test is
// skipped, unless OC_TEST_CLUSTER=required, which fails it.
func Cluster(t testing.TB) *ClusterEnv {
	t.Helper()
	return clusterOf(t, &sharedCluster)
}

// clusterOf is Cluster for a kind of cluster: upArgs are given to
// `cluster.sh up DIR`.
func clusterOf(t testing.TB, sh *sharedClusterState, upArgs ...string) *ClusterEnv {
	t.Helper()
	var (
		env *ClusterEnv
		err error
	)
	if shared.enabled {
		sh.once.Do(func() {
			sh.env, sh.err = startCluster(upArgs...)
		})
		env, err = sh.env, sh.err
	} else {
		env, err = startCluster(upArgs...)
		if err == nil {
			t.Cleanup(func() {
				if err := env.stop(); err != nil {
					t.Errorf("testenv: stop the test cluster: %v", err)
				}
			})
		}
	}
	required := os.Getenv(ClusterEnvVar) == "required"
	switch {
	case errors.Is(err, errClusterNotBuilt) && !required:
		t.Skip(clusterSkipMessage)
	case errors.Is(err, errRealNodeUnavailable) && !required:
		t.Skip(err.Error())
	case err != nil:
		t.Fatal(err)
	}
	return env
}

// startCluster runs `scripts/cluster.sh up DIR upArgs...` in a fresh
// temporary directory.
func startCluster(upArgs ...string) (*ClusterEnv, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "testenv-cluster-")
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	script := filepath.Join(root, "scripts", "cluster.sh")
	out, err := runScript(clusterUpTimeout, script, append([]string{"up", dir}, upArgs...)...)
	if err != nil {
		_ = os.RemoveAll(dir)
		if notBuilt(out) {
			return nil, errClusterNotBuilt
		}
		if why := realNodeUnavailable(out); why != "" {
			return nil, fmt.Errorf("%w: %s", errRealNodeUnavailable, why)
		}
		return nil, fmt.Errorf("testenv: scripts/cluster.sh up: %w\n%s", err, out)
	}
	env := &ClusterEnv{Dir: dir, Kubeconfig: filepath.Join(dir, "kubeconfig")}
	envOut, err := runScript(time.Minute, script, "env", dir)
	if err != nil {
		_ = env.stop()
		return nil, fmt.Errorf("testenv: scripts/cluster.sh env: %w\n%s", err, envOut)
	}
	env.Bin = binFromEnv(envOut)
	return env, nil
}

// stop runs `scripts/cluster.sh down --clean`, which stops each piece by
// its PID and removes the directory.
func (c *ClusterEnv) stop() error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	out, err := runScript(2*time.Minute, filepath.Join(root, "scripts", "cluster.sh"), "down", c.Dir, "--clean")
	if err != nil {
		return fmt.Errorf("scripts/cluster.sh down: %w\n%s", err, out)
	}
	return nil
}

// stopSharedCluster is Main's teardown of the shared clusters, if any started.
func stopSharedCluster() error {
	var errs []error
	for _, sh := range []*sharedClusterState{&sharedCluster, &sharedRealCluster} {
		if sh.env != nil {
			errs = append(errs, sh.env.stop())
		}
	}
	return errors.Join(errs...)
}

func runScript(timeout time.Duration, script string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// The pieces it starts in the background inherit the pipes; without a
	// wait delay Wait would block until they exit.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil
	}
	return out.String(), err
}

// notBuilt reports whether cluster.sh refused to start for want of binaries.
func notBuilt(output string) bool {
	return strings.Contains(output, "scripts/cluster.sh build first")
}

// binFromEnv finds the binaries' directory in `cluster.sh env`'s
// "export PATH=DIR:$PATH" line.
func binFromEnv(output string) string {
	sc := bufio.NewScanner(strings.NewReader(output))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "export PATH="); ok {
			dir, _, _ := strings.Cut(rest, ":")
			return dir
		}
	}
	return ""
}

// repoRoot walks up from the working directory (a test runs in its
// package's directory) to the directory holding scripts/cluster.sh.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testenv: %w", err)
	}
	return findUp(wd, filepath.Join("scripts", "cluster.sh"))
}

func findUp(dir, rel string) (string, error) {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, rel)); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("testenv: no %s in %s or any directory above it", rel, dir)
		}
		d = parent
	}
}
