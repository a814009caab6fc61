package testenv

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestClusterStopsWithTheTest starts a cluster of the test's own (no Main
// here), asks its API server for its version, and checks that once the test
// is over the API no longer answers and the directory is gone.
func TestClusterStopsWithTheTest(t *testing.T) {
	var c *ClusterEnv
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	start := time.Now()
	t.Run("use", func(t *testing.T) {
		c = Cluster(t)
		t.Logf("cluster up in %s", time.Since(start).Round(time.Millisecond))
		if err := apiVersion(c.Kubeconfig); err != nil {
			t.Fatalf("API server: %v", err)
		}
		if _, err := os.Stat(filepath.Join(c.Bin, "kubectl")); err != nil {
			t.Errorf("kubectl in Bin: %v", err)
		}
		raw, err := os.ReadFile(c.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(kubeconfig, raw, 0o600); err != nil {
			t.Fatal(err)
		}
	})
	if c == nil {
		t.Skip(clusterSkipMessage)
	}
	if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory %s still there after its test: %v", c.Dir, err)
	}
	if err := apiVersion(kubeconfig); err == nil {
		t.Error("the API server still answers after its test")
	}
}

// TestClusterNotBuilt points cluster.sh at an empty binary cache: the test
// is skipped with the message saying what to run, or fails when the
// cluster is required.
func TestClusterNotBuilt(t *testing.T) {
	t.Setenv("OC_K8S_CACHE", t.TempDir())
	if _, err := startCluster(); !errors.Is(err, errClusterNotBuilt) {
		t.Fatalf("startCluster with no binaries: %v, want errClusterNotBuilt", err)
	}
	for _, tc := range []struct {
		setting        string
		skipped, fatal bool
	}{{"", true, false}, {"required", false, true}} {
		t.Run("OC_TEST_CLUSTER="+tc.setting, func(t *testing.T) {
			t.Setenv(ClusterEnvVar, tc.setting)
			rec := &recordingTB{TB: t}
			done := make(chan struct{})
			// Skip and Fatal end the goroutine they are called in.
			go func() { defer close(done); Cluster(rec) }()
			<-done
			if (rec.skip != "") != tc.skipped || (rec.fatal != "") != tc.fatal {
				t.Fatalf("skip %q, fatal %q", rec.skip, rec.fatal)
			}
			if tc.skipped && rec.skip != clusterSkipMessage {
				t.Errorf("skip message %q, want %q", rec.skip, clusterSkipMessage)
			}
			if tc.fatal && !strings.Contains(rec.fatal, "make cluster-build") {
				t.Errorf("failure %q does not say what to run", rec.fatal)
			}
		})
	}
}

// recordingTB records Skip and Fatal instead of acting on the real test.
type recordingTB struct {
	testing.TB
	skip, fatal string
}

func (r *recordingTB) Skip(args ...any) {
	r.skip = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recordingTB) Fatal(args ...any) {
	r.fatal = fmt.Sprint(args...)
	runtime.Goexit()
}

func TestNotBuilt(t *testing.T) {
	for out, want := range map[string]bool{
		"cluster: no binaries in /x/bin for these tool modules: run scripts/cluster.sh build first\n": true,
		"cluster: timed out after 60s waiting for etcd\n":                                             false,
		"": false,
	} {
		if got := notBuilt(out); got != want {
			t.Errorf("notBuilt(%q) = %v, want %v", out, got, want)
		}
	}
}

func TestBinFromEnv(t *testing.T) {
	out := "export KUBECONFIG=/tmp/c/kubeconfig\nexport PATH=/cache/abc/bin:$PATH\nexport OC_K8S_ETCD_PORT=1\n"
	if got := binFromEnv(out); got != "/cache/abc/bin" {
		t.Errorf("binFromEnv = %q", got)
	}
	if got := binFromEnv("nothing"); got != "" {
		t.Errorf("binFromEnv without PATH = %q", got)
	}
}

func TestFindUp(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "scripts", "cluster.sh"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "services", "oc-x", "service")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	rel := filepath.Join("scripts", "cluster.sh")
	if got, err := findUp(deep, rel); err != nil || got != root {
		t.Errorf("findUp from %s = %q, %v; want %q", deep, got, err, root)
	}
	if _, err := findUp(t.TempDir(), rel); err == nil {
		t.Error("findUp found a root where there is none")
	}
}

// apiVersion asks the API server of kubeconfig for /version, the way a
// client would: its server URL and bearer token.
func apiVersion(kubeconfig string) error {
	raw, err := os.ReadFile(kubeconfig)
	if err != nil {
		return err
	}
	var server, token string
	for line := range strings.Lines(string(raw)) {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "server: "); ok {
			server = v
		}
		if v, ok := strings.CutPrefix(line, "token: "); ok {
			token = v
		}
	}
	if server == "" || token == "" {
		return fmt.Errorf("no server or token in %s", kubeconfig)
	}
	req, err := http.NewRequest(http.MethodGet, server+"/version", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	// The test cluster's certificate is self-signed (its kubeconfig says insecure-skip-tls-verify).
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback test cluster
	}}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /version: %s", resp.Status)
	}
	return nil
}
