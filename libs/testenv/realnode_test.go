package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRealNodeRunsPods runs real containers on the real node: a pod's log
// is what its command printed, a command exiting 3 fails its pod with exit
// code 3, and a deleted pod's containers stop in containerd. Once the test
// is over nothing of the node is left: its cgroups, its socket, its mounts,
// and the host's sysctls are back (when no other real node runs).
func TestRealNodeRunsPods(t *testing.T) {
	othersBefore := otherRealNodes()
	sysctlsBefore := kubeletSysctls(t)
	var n *RealNodeEnv
	t.Run("use", func(t *testing.T) {
		start := time.Now()
		n = ClusterWithRealNode(t)
		t.Logf("cluster with a real node up in %s", time.Since(start).Round(time.Millisecond))
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		const ns = "realnode"
		kubectl(t, ctx, n.ClusterEnv, nil, "create", "namespace", ns)

		kubectl(t, ctx, n.ClusterEnv, podManifest(t, n, ns, "hello", "echo hello from a real container"), "create", "-f", "-")
		waitPhase(t, ctx, n.ClusterEnv, ns, "hello", "Succeeded")
		if got := kubectl(t, ctx, n.ClusterEnv, nil, "logs", "-n", ns, "hello"); got != "hello from a real container\n" {
			t.Errorf("log of pod hello: %q", got)
		}
		if got := kubectl(t, ctx, n.ClusterEnv, nil, "get", "pod", "-n", ns, "hello", "-o", "jsonpath={.spec.nodeName}"); got != n.NodeName {
			t.Errorf("pod hello ran on %q, want the real node %q", got, n.NodeName)
		}

		kubectl(t, ctx, n.ClusterEnv, podManifest(t, n, ns, "three", "exit 3"), "create", "-f", "-")
		waitPhase(t, ctx, n.ClusterEnv, ns, "three", "Failed")
		code := kubectl(t, ctx, n.ClusterEnv, nil, "get", "pod", "-n", ns, "three", "-o",
			"jsonpath={.status.containerStatuses[0].state.terminated.exitCode}")
		if code != "3" {
			t.Errorf("pod three's container exit code %q, want 3", code)
		}

		kubectl(t, ctx, n.ClusterEnv, podManifest(t, n, ns, "sleeper", "sleep 600"), "create", "-f", "-")
		waitPhase(t, ctx, n.ClusterEnv, ns, "sleeper", "Running")
		running, err := n.RunningContainers(ctx, ns, "sleeper")
		if err != nil {
			t.Fatal(err)
		}
		if len(running) != 2 {
			t.Fatalf("running containers of pod sleeper: %v, want its sandbox and its container", running)
		}
		kubectl(t, ctx, n.ClusterEnv, nil, "delete", "pod", "-n", ns, "sleeper", "--grace-period=1", "--wait=true")
		for {
			if running, err = n.RunningContainers(ctx, ns, "sleeper"); err != nil {
				t.Fatal(err)
			}
			if len(running) == 0 {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("containers of the deleted pod sleeper still run: %v", running)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	if n == nil {
		t.Skip("no real node")
	}

	if _, err := os.Stat(n.ContainerdAddress); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("containerd's socket still there: %v", err)
	}
	for _, m := range cgroupMounts(t) {
		if _, err := os.Stat(filepath.Join(m, n.CgroupRoot)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cgroup %s still there: %v", filepath.Join(m, n.CgroupRoot), err)
		}
	}
	if mounts, err := os.ReadFile("/proc/self/mountinfo"); err == nil && strings.Contains(string(mounts), n.Dir) {
		t.Errorf("mounts under %s left behind", n.Dir)
	}
	othersAfter := otherRealNodes()
	if slices.Contains(othersAfter, strings.TrimPrefix(n.CgroupRoot, "/")) {
		t.Errorf("the real node is still registered on the machine: %v", othersAfter)
	} else if len(othersBefore) == 0 && len(othersAfter) == 0 {
		if after := kubeletSysctls(t); after != sysctlsBefore {
			t.Errorf("sysctls not restored:\nbefore %s\nafter  %s", sysctlsBefore, after)
		}
	}
}

// TestRealNodeUnavailable makes cluster.sh find no busybox for the node:
// the test is skipped saying why, or fails when the cluster is required.
func TestRealNodeUnavailable(t *testing.T) {
	if _, err := clusterBin(); err != nil {
		t.Skip(clusterSkipMessage)
	}
	t.Setenv("OC_K8S_BUSYBOX", filepath.Join(t.TempDir(), "no-busybox"))
	for _, tc := range []struct {
		setting        string
		skipped, fatal bool
	}{{"", true, false}, {"required", false, true}} {
		t.Run("OC_TEST_CLUSTER="+tc.setting, func(t *testing.T) {
			t.Setenv(ClusterEnvVar, tc.setting)
			rec := &recordingTB{TB: t}
			done := make(chan struct{})
			// Skip and Fatal end the goroutine they are called in.
			go func() { defer close(done); ClusterWithRealNode(rec) }()
			<-done
			if (rec.skip != "") != tc.skipped || (rec.fatal != "") != tc.fatal {
				t.Fatalf("skip %q, fatal %q", rec.skip, rec.fatal)
			}
			if msg := rec.skip + rec.fatal; !strings.Contains(msg, "busybox-static") {
				t.Errorf("%q does not say what is missing", msg)
			}
		})
	}
}

func TestRealNodeUnavailableReasons(t *testing.T) {
	out := "cluster: real node unavailable: it must run as root (cgroups, mounts)\n" +
		"cluster: real node unavailable: Debian packages missing: runc\n"
	want := "it must run as root (cgroups, mounts); Debian packages missing: runc"
	if got := realNodeUnavailable(out); got != want {
		t.Errorf("realNodeUnavailable = %q, want %q", got, want)
	}
	if got := realNodeUnavailable("cluster: timed out after 60s waiting for etcd\n"); got != "" {
		t.Errorf("realNodeUnavailable of another failure = %q", got)
	}
}

// podManifest is a pod pinned to the real node running sh -c script in busybox.
func podManifest(t *testing.T, n *RealNodeEnv, ns, name, script string) []byte {
	t.Helper()
	raw, err := json.Marshal(map[string]any{
		"apiVersion": "v1",
		"kind":       "Pod",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"hostNetwork":                   true,
			"nodeSelector":                  n.NodeSelector,
			"restartPolicy":                 "Never",
			"terminationGracePeriodSeconds": 1,
			"containers": []map[string]any{{
				"name":    "main",
				"image":   n.BusyboxImage,
				"command": []string{"sh", "-c", script},
			}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func waitPhase(t *testing.T, ctx context.Context, c *ClusterEnv, ns, pod, phase string) {
	t.Helper()
	for {
		got := kubectl(t, ctx, c, nil, "get", "pod", "-n", ns, pod, "-o", "jsonpath={.status.phase}")
		if got == phase {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("pod %s is %q, want %s:\n%s", pod, got,
				phase, kubectl(t, context.Background(), c, nil, "describe", "pod", "-n", ns, pod))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kubectl runs the cluster's kubectl and returns its output.
func kubectl(t *testing.T, ctx context.Context, c *ClusterEnv, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(c.Bin, "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// kubeletSysctls are the host settings the kubelet changes, as one string.
func kubeletSysctls(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, k := range []string{"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
		"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"} {
		v, err := os.ReadFile("/proc/sys/" + k)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(k + "=" + strings.TrimSpace(string(v)) + " ")
	}
	return b.String()
}

// otherRealNodes lists the real nodes registered on this machine.
func otherRealNodes() []string {
	entries, _ := os.ReadDir("/run/opencloud-k8s/nodes")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// cgroupMounts are the machine's cgroup hierarchies.
func cgroupMounts(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var mounts []string
	for line := range strings.Lines(string(raw)) {
		fields := strings.Fields(line)
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) && (fields[i+1] == "cgroup" || fields[i+1] == "cgroup2") {
				mounts = append(mounts, fields[4])
			}
		}
	}
	return mounts
}
