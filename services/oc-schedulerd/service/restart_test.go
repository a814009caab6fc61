package service_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	argo "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"github.com/google/uuid"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/opencloud/opencloud/libs/authn/authntest"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/sqlitestore"
	"github.com/opencloud/opencloud/libs/testenv"
	wf "github.com/opencloud/opencloud/libs/workflow"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"

	dcclient "github.com/opencloud/opencloud/services/oc-datacenter/client"
	dcservice "github.com/opencloud/opencloud/services/oc-datacenter/service"
	"github.com/opencloud/opencloud/services/oc-schedulerd/internal/daemon"
	"github.com/opencloud/opencloud/services/oc-schedulerd/launch"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// buildMonitord builds the oc-monitord binary once per test binary.
var buildMonitord = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "oc-monitord-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "oc-monitord")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/opencloud/opencloud/services/oc-monitord")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build oc-monitord: %v\n%s", err, out)
	}
	return bin, nil
})

// rig is a peer's execution side on the test cluster: a SQLite store file
// and a NATS the worker processes reach too, oc-datacenter behind a
// gateway, and the oc-monitord binary.
type rig struct {
	t       testing.TB
	ctx     context.Context
	store   store.Store
	execs   *executions.Store
	prov    daemon.Provisioner
	bin     string
	env     []string
	kube    kubernetes.Interface
	argo    argo.Interface
	logFile *os.File
	// real, when set, is the cluster's real node, where the steps run as
	// real containers; otherwise they run on kwok's fake nodes.
	real *testenv.RealNodeEnv
}

// newRig starts the rig on the test cluster; with realNode, on a cluster
// with a real node, where steps run as real containers.
func newRig(t testing.TB, realNode bool) *rig {
	t.Helper()
	var (
		cluster *testenv.ClusterEnv
		real    *testenv.RealNodeEnv
	)
	if realNode {
		real = testenv.ClusterWithRealNode(t)
		cluster = real.ClusterEnv
	} else {
		cluster = testenv.Cluster(t)
	}
	bin, err := buildMonitord()
	if err != nil {
		t.Fatal(err)
	}
	// Detached workers outlive their daemon by design: whatever happens to
	// the test, none of this binary's workers outlives the test (stopped by
	// PID; this cleanup runs after the daemons have stopped).
	t.Cleanup(func() {
		for _, pid := range workers(bin) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	log := testenv.Logger(t)
	dbPath := filepath.Join(dir, "store.db")
	st, err := sqlitestore.Open(ctx, dbPath, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	// The worker processes read this peer's id from the store.
	if err := federation.PublishSelf(ctx, st, federation.Self{ID: selfID}); err != nil {
		t.Fatal(err)
	}
	nc := testenv.NATS(t)
	iss := authntest.New(t)
	gw := testenv.NewGateway(t)
	dc, err := dcservice.New(ctx, dcservice.Deps{Logger: log, Store: st, NATS: nc, Verifier: iss.Verifier(ctx), PeerID: selfID,
		GatewayURL: gw.URL, Kubeconfig: cluster.Kubeconfig, Cluster: "local", Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	gw.Mount(dc)
	execs, err := executions.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	kcfg, err := clientcmd.BuildConfigFromFlags("", cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "workers.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("workers' output:\n%s", lastLines(b, 80))
			}
		}
	})
	token := dcclient.StaticToken(iss.Token(authntest.Admin("oc-services")))
	return &rig{t: t, ctx: ctx, store: st, execs: execs, bin: bin, logFile: logFile,
		prov: daemon.Datacenter{Client: dcclient.New(gw.URL, token, nil)},
		env: []string{"OC_STORE=sqlite", "OC_SQLITE_PATH=" + dbPath, "OC_NATS_URL=" + nc.ConnectedUrl(),
			"OC_KUBECONFIG=" + cluster.Kubeconfig, "OC_MONITORD_LEASE_TTL=2s", "OC_LOG_LEVEL=info"},
		kube: kubernetes.NewForConfigOrDie(kcfg), argo: argo.NewForConfigOrDie(kcfg), real: real}
}

// selfID is the peer id of the rig's peer.
const selfID = "aejcavshlktviy2hjqbilx25x4v4vnz5uzitlcbz5g3xjans5kyqo4em"

func lastLines(b []byte, n int) []byte {
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return bytes.Join(lines, []byte("\n"))
}

// book stores n 3-step executions due now; step b runs for runFor.
func (r *rig) book(n int, runFor time.Duration) []string {
	r.t.Helper()
	ids := make([]string, n)
	for i := range ids {
		x := threeSteps(runFor, r.real)
		if _, err := r.execs.Insert(r.ctx, x); err != nil {
			r.t.Fatal(err)
		}
		ids[i] = x.ID
		r.t.Cleanup(func() {
			_ = r.kube.CoreV1().Namespaces().Delete(context.Background(), execution.Namespace(x.ID), metav1.DeleteOptions{})
		})
	}
	return ids
}

// threeSteps is an execution of three steps in a row, the second running
// for runFor: on kwok's fake nodes (real nil), or as real containers on the
// real node.
func threeSteps(runFor time.Duration, real *testenv.RealNodeEnv) execution.Execution {
	now := executions.Stamp(time.Now())
	ref := func(id string) resource.Ref { return resource.Ref{Peer: selfID, ID: id} }
	proc := func(id string, sleep time.Duration) resource.Resource {
		p := &resource.Processing{Image: "alpine:3", Command: []string{"/bin/sh", "-c", "echo " + id},
			Requests: resource.Requests{CPUMillicores: 10, MemoryBytes: 16 << 20}}
		switch {
		case real != nil:
			p.Image = real.BusyboxImage
			p.Command = []string{"sh", "-c", fmt.Sprintf("echo %s; sleep %d", id, int(sleep.Seconds()))}
		case sleep > 0:
			p.Annotations = []resource.Label{{Key: "opencloud.io/run-for", Value: sleep.String()}}
		}
		return resource.Resource{ID: id, PeerID: selfID, Kind: resource.KindProcessing, Processing: p}
	}
	compute := &resource.Compute{ClusterRef: "local", Architecture: "amd64"}
	if real != nil {
		for k, v := range real.NodeSelector {
			compute.NodeSelector = append(compute.NodeSelector, resource.Label{Key: k, Value: v})
		}
	}
	return execution.Execution{
		ID: uuid.NewString(), WorkflowID: uuid.NewString(), RequestID: uuid.NewString(), Name: "three steps", Owner: "alice",
		State: execution.Scheduled, Start: now, End: now.Add(10 * time.Minute), CreatedAt: now, UpdatedAt: now,
		Graph: wf.Graph{
			Nodes: []wf.Node{
				{ID: "a", Kind: resource.KindProcessing, Resource: ref("p-a")},
				{ID: "b", Kind: resource.KindProcessing, Resource: ref("p-b")},
				{ID: "c", Kind: resource.KindProcessing, Resource: ref("p-c")},
				{ID: "k8s", Kind: resource.KindCompute, Resource: ref("c-local")},
			},
			Links: []wf.Link{
				{ID: "l1", Kind: wf.LinkCompute, From: "a", To: "k8s"},
				{ID: "l2", Kind: wf.LinkCompute, From: "b", To: "k8s"},
				{ID: "l3", Kind: wf.LinkCompute, From: "c", To: "k8s"},
				{ID: "l4", Kind: wf.LinkDependency, From: "a", To: "b"},
				{ID: "l5", Kind: wf.LinkDependency, From: "b", To: "c"},
			},
		},
		Resources: []resource.Resource{
			proc("p-a", 0), proc("p-b", runFor), proc("p-c", 0),
			{ID: "c-local", PeerID: selfID, Kind: resource.KindCompute, Compute: compute},
		},
	}
}

// daemon starts a daemon with the process launcher; stop ends it.
func (r *rig) daemon(name string, detach bool) (*daemon.Daemon, func()) {
	r.t.Helper()
	l, err := launch.Process(launch.ProcessOptions{Path: r.bin, Env: r.env, Output: r.logFile, Detach: detach})
	if err != nil {
		r.t.Fatal(err)
	}
	dm, err := daemon.New(daemon.Config{Name: name, Concurrency: 20, Scan: 250 * time.Millisecond, Retry: 500 * time.Millisecond, LaunchTTL: 30 * time.Second},
		daemon.Deps{Logger: testenv.Logger(r.t), Executions: r.execs, Launcher: l, Provisioner: r.prov})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = dm.Run(ctx) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	r.t.Cleanup(stop)
	return dm, stop
}

func (r *rig) until(what string, timeout time.Duration, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (r *rig) all(ids []string) []execution.Execution {
	r.t.Helper()
	out := make([]execution.Execution, len(ids))
	for i, id := range ids {
		x, err := r.execs.Get(r.ctx, id)
		if err != nil {
			r.t.Fatal(err)
		}
		out[i] = x
	}
	return out
}

// workers finds the running oc-monitord processes of bin: execution id → pid.
func workers(bin string) map[string]int {
	out := map[string]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if len(args) == 3 && args[0] == bin && args[1] == "run" {
			out[args[2]] = pid
		}
	}
	return out
}

// TestKillAndRestart is the crash test: 20 executions running on the test
// cluster's fake nodes, each followed by an oc-monitord process;
// oc-schedulerd goes away without a word (its workers left running, as
// after a kill -9 of the daemon alone) and 5 workers are killed outright;
// a new daemon starts. All 20 finish, and none ran twice: each has the one
// Argo Workflow submitted before the crash, each of its steps ran in one
// pod, and only the 5 killed ones needed a second worker.
func TestKillAndRestart(t *testing.T) {
	killAndRestart(t, newRig(t, false), 20, 5)
}

// TestKillAndRestartRealContainers is the same crash with real containers
// running on the real node while the daemon and workers die.
func TestKillAndRestartRealContainers(t *testing.T) {
	killAndRestart(t, newRig(t, true), 4, 2)
}

func killAndRestart(t *testing.T, r *rig, n, kill int) {
	ids := r.book(n, 10*time.Second)
	_, stopA := r.daemon("a", true)
	r.until("the executions running with step b running", 2*time.Minute, func() bool {
		for _, x := range r.all(ids) {
			if x.State != execution.Running || !slices.ContainsFunc(x.Steps, func(s execution.Step) bool { return s.Node == "b" && s.State == execution.Running }) {
				return false
			}
		}
		return true
	})
	uids := map[string]types.UID{}
	for _, id := range ids {
		w, err := r.argo.ArgoprojV1alpha1().Workflows(execution.Namespace(id)).Get(r.ctx, execution.WorkflowName(id), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		uids[id] = w.UID
	}
	// The daemon goes; five of its workers are killed.
	stopA()
	procs := workers(r.bin)
	if len(procs) != n {
		t.Fatalf("%d worker processes, want %d", len(procs), n)
	}
	killed := map[string]bool{}
	for _, id := range ids[:kill] {
		if err := syscall.Kill(procs[id], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed[id] = true
	}
	t.Logf("daemon a stopped, workers of %d executions killed", len(killed))

	_, stopB := r.daemon("b", false)
	r.until("all ended", 2*time.Minute, func() bool {
		for _, x := range r.all(ids) {
			if !x.State.Terminal() {
				return false
			}
		}
		return true
	})
	stopB()
	for _, x := range r.all(ids) {
		want, prefix := 1, "a/"
		if killed[x.ID] {
			want, prefix = 2, "b/"
		}
		if x.State != execution.Succeeded || x.Attempts != want || !strings.HasPrefix(x.Worker, prefix) {
			t.Errorf("%s: %s (%s) after %d workers, last %q; want succeeded after %d, last from daemon %s",
				x.ID, x.State, x.Reason, x.Attempts, x.Worker, want, prefix)
		}
		if len(x.Steps) != 3 || slices.ContainsFunc(x.Steps, func(s execution.Step) bool { return s.State != execution.Succeeded }) {
			t.Errorf("%s: steps %+v", x.ID, x.Steps)
		}
		w, err := r.argo.ArgoprojV1alpha1().Workflows(execution.Namespace(x.ID)).Get(r.ctx, execution.WorkflowName(x.ID), metav1.GetOptions{})
		if err != nil || w.UID != uids[x.ID] || w.Status.Phase != wfv1.WorkflowSucceeded {
			t.Errorf("%s: Argo Workflow %v (uid %s, before the crash %s)", x.ID, err, w.UID, uids[x.ID])
			continue
		}
		list, err := r.argo.ArgoprojV1alpha1().Workflows(execution.Namespace(x.ID)).List(r.ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) != 1 {
			t.Errorf("%s: %d Argo Workflows", x.ID, len(list.Items))
		}
		pods, err := r.kube.CoreV1().Pods(execution.Namespace(x.ID)).List(r.ctx, metav1.ListOptions{})
		if err != nil || len(pods.Items) != 3 {
			t.Errorf("%s: %d pods, want one per step", x.ID, len(pods.Items))
		}
	}
	if left := workers(r.bin); len(left) != 0 {
		t.Errorf("%d worker processes left: %v", len(left), left)
	}
}
