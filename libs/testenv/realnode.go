package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RealNodeEnv is a test cluster whose nodes are kwok's fake ones and one
// real node: containerd and a kubelet on this machine, whose pods really
// run. Its pods use the host's network (there is no pod network; Argo's
// Workflows get spec.hostNetwork by default) and images imported into its
// containerd, never pulled: BusyboxImage for steps, or one brought with
// `make image-import`.
type RealNodeEnv struct {
	*ClusterEnv
	// NodeName is the real node's name, also its address: 127.0.0.1.
	NodeName string
	// NodeSelector pins a pod, or a Workflow (spec.nodeSelector), to the
	// real node: {"node.opencloud.io/real": "true"}. Pods without it may
	// land on a fake node.
	NodeSelector map[string]string
	// ContainerdAddress is the socket of the node's containerd; CtrPath is
	// containerd's client, which the Ctr method runs against the node.
	ContainerdAddress, CtrPath string
	// CgroupRoot is the cgroup (in every hierarchy) holding the node's pods.
	CgroupRoot string
	// BusyboxImage is an image for steps: a static busybox (sh and the
	// usual commands). ExecutorImage is Argo's executor.
	BusyboxImage, ExecutorImage string
}

// errRealNodeUnavailable is cluster.sh's "real node unavailable: ..." (not
// root, packages missing).
var errRealNodeUnavailable = errors.New("real node unavailable")

// ClusterWithRealNode returns a test cluster with a real node
// (`scripts/cluster.sh up --real-node`). Like Cluster: under Main one is
// started on first use and shared by every test of the binary (a namespace
// per test), otherwise each call starts one stopped when t ends; skipped
// when the binaries are not built or the machine cannot run the node (it
// needs root and Debian's containerd, runc, containernetworking-plugins and
// busybox-static), unless OC_TEST_CLUSTER=required, which fails it. It is
// a cluster of its own: a binary calling Cluster and ClusterWithRealNode
// runs two.
func ClusterWithRealNode(t testing.TB) *RealNodeEnv {
	t.Helper()
	c := clusterOf(t, &sharedRealCluster, "--real-node")
	n, err := readRealNode(c)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// readRealNode reads the node's facts from DIR/realnode (KEY=VALUE lines).
func readRealNode(c *ClusterEnv) (*RealNodeEnv, error) {
	file := filepath.Join(c.Dir, "realnode")
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("testenv: the real node's facts: %w", err)
	}
	defer func() { _ = f.Close() }()
	facts := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			facts[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("testenv: read %s: %w", file, err)
	}
	labelKey, labelValue, _ := strings.Cut(facts["NODE_LABEL"], "=")
	n := &RealNodeEnv{
		ClusterEnv:        c,
		NodeName:          facts["NODE_NAME"],
		NodeSelector:      map[string]string{labelKey: labelValue},
		ContainerdAddress: facts["CONTAINERD_ADDRESS"],
		CtrPath:           facts["CTR"],
		CgroupRoot:        facts["CGROUP_ROOT"],
		BusyboxImage:      facts["BUSYBOX_IMAGE"],
		ExecutorImage:     facts["EXECUTOR_IMAGE"],
	}
	if n.NodeName == "" || labelKey == "" || n.ContainerdAddress == "" || n.CtrPath == "" {
		return nil, fmt.Errorf("testenv: %s is incomplete", file)
	}
	return n, nil
}

// realNodeUnavailable returns cluster.sh's reasons for not starting a real
// node, or "".
func realNodeUnavailable(output string) string {
	var why []string
	for line := range strings.Lines(output) {
		if _, rest, ok := strings.Cut(line, "real node unavailable: "); ok {
			why = append(why, strings.TrimSpace(rest))
		}
	}
	return strings.Join(why, "; ")
}

// Ctr runs containerd's client against the node, in the kubelet's
// namespace (k8s.io), and returns what it printed.
func (n *RealNodeEnv) Ctr(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"--address", n.ContainerdAddress, "--namespace", "k8s.io"}, args...)
	out, err := exec.CommandContext(ctx, n.CtrPath, full...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// PodContainers returns the IDs of the containers containerd keeps for a
// pod, its sandbox among them. The kubelet removes them some time after the
// pod has ended (its garbage collection runs every minute); RunningContainers
// tells whether any still runs.
func (n *RealNodeEnv) PodContainers(ctx context.Context, namespace, pod string) ([]string, error) {
	filter := fmt.Sprintf(`labels."io.kubernetes.pod.namespace"==%s,labels."io.kubernetes.pod.name"==%s`, namespace, pod)
	out, err := n.Ctr(ctx, "containers", "list", "--quiet", filter)
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// RunningContainers returns the IDs of the pod's containers (its sandbox
// among them) whose process still runs: none once the pod has ended or
// been deleted and the kubelet has stopped it.
func (n *RealNodeEnv) RunningContainers(ctx context.Context, namespace, pod string) ([]string, error) {
	ids, err := n.PodContainers(ctx, namespace, pod)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	out, err := n.Ctr(ctx, "tasks", "list")
	if err != nil {
		return nil, err
	}
	running := map[string]bool{}
	for line := range strings.Lines(out) {
		// TASK  PID  STATUS
		if f := strings.Fields(line); len(f) == 3 && f[2] == "RUNNING" {
			running[f[0]] = true
		}
	}
	var live []string
	for _, id := range ids {
		if running[id] {
			live = append(live, id)
		}
	}
	return live, nil
}
