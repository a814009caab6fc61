package service_test

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/testenv"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"

	"github.com/opencloud/opencloud/services/oc-monitord/worker"
	"github.com/opencloud/opencloud/services/oc-schedulerd/internal/daemon"
	"github.com/opencloud/opencloud/services/oc-schedulerd/launch"

	"k8s.io/client-go/tools/clientcmd"
)

// BenchmarkWorkerMemory measures, side by side in one run on the test
// cluster, the memory one concurrently followed execution costs with each
// launcher: 20 executions are brought to a steady state (every one
// running, its middle step running for a while) and the memory is read
// then. process: the resident set of the oc-monitord processes, per
// execution. inprocess: the growth of this process's resident set and of
// its Go heap, per execution. kubernetes: a Job's pod runs the same
// oc-monitord process as the process launcher (its figure plus the
// container's overhead); the test cluster's fake nodes run no container,
// so it is not measured here.
//
//	go test -run '^$' -bench WorkerMemory -benchtime 1x ./service/
func BenchmarkWorkerMemory(b *testing.B) {
	const n = 20
	for range b.N {
		r := newRig(b, false)
		procPer := r.measureProcess(b, n)
		rssPer, heapPer := r.measureInProcess(b, n)
		b.ReportMetric(procPer, "B-rss/exec-process")
		b.ReportMetric(rssPer, "B-rss/exec-inprocess")
		b.ReportMetric(heapPer, "B-heap/exec-inprocess")
	}
}

// steady books n executions whose middle step runs long, starts a daemon
// with launcher l and waits until every one is running its middle step.
func (r *rig) steady(tb testing.TB, l launch.Launcher, n int) (ids []string, stop func()) {
	tb.Helper()
	ids = r.book(n, time.Minute)
	dm, err := daemon.New(daemon.Config{Name: l.Name(), Concurrency: n, Scan: 250 * time.Millisecond, LaunchTTL: time.Minute},
		daemon.Deps{Logger: testenv.Logger(tb), Executions: r.execs, Launcher: l, Provisioner: r.prov})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = dm.Run(ctx) }()
	stop = func() {
		// Cancel the executions so that their Argo Workflows stop, then the daemon.
		for _, id := range ids {
			_, _ = r.execs.RequestCancel(r.ctx, id)
		}
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) && slices.ContainsFunc(r.all(ids), func(x execution.Execution) bool { return !x.State.Terminal() }) {
			time.Sleep(200 * time.Millisecond)
		}
		cancel()
		<-done
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		all := r.all(ids)
		if !slices.ContainsFunc(all, func(x execution.Execution) bool {
			return x.State != execution.Running || !slices.ContainsFunc(x.Steps, func(s execution.Step) bool { return s.Node == "b" && s.State == execution.Running })
		}) {
			break
		}
		if time.Now().After(deadline) {
			stop()
			tb.Fatal("the executions did not all reach their long step")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // a few renewals and polls: the steady state
	return ids, stop
}

// measure is the process launcher's RSS per execution.
func (r *rig) measureProcess(tb testing.TB, n int) float64 {
	tb.Helper()
	l, err := launch.Process(launch.ProcessOptions{Path: r.bin, Env: r.env, Output: r.logFile})
	if err != nil {
		tb.Fatal(err)
	}
	_, stop := r.steady(tb, l, n)
	defer stop()
	procs := workers(r.bin)
	if len(procs) != n {
		tb.Fatalf("%d worker processes, want %d", len(procs), n)
	}
	var sum int64
	for _, pid := range procs {
		sum += rss(pid)
	}
	return float64(sum) / float64(n)
}

// measureInProcess is the in-process launcher's growth of RSS and Go heap
// per execution.
func (r *rig) measureInProcess(tb testing.TB, n int) (rssPer, heapPer float64) {
	tb.Helper()
	kcfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigOf(r.env))
	if err != nil {
		tb.Fatal(err)
	}
	nc := testenv.NATS(tb)
	pub := broker.NewPublisher(nc, "monitord")
	execs, err := executions.Open(r.ctx, r.store, executions.WithEvents(pub))
	if err != nil {
		tb.Fatal(err)
	}
	l := launch.InProcess(func(ctx context.Context, id, name string) error {
		return worker.Follow(ctx, worker.Deps{Executions: execs, Publisher: pub, Kube: kcfg, PeerID: selfID,
			Worker: name, LeaseTTL: 2 * time.Second}, id)
	})
	rss0, heap0 := selfMemory()
	_, stop := r.steady(tb, l, n)
	rss1, heap1 := selfMemory()
	stop()
	return float64(rss1-rss0) / float64(n), float64(heap1-heap0) / float64(n)
}

// selfMemory is this process's resident set and Go heap in use, after a GC.
func selfMemory() (rssBytes, heapBytes int64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return rss(os.Getpid()), int64(ms.HeapInuse)
}

// rss is a process's resident set in bytes (0 when it is gone).
func rss(pid int) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func kubeconfigOf(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "OC_KUBECONFIG="); ok {
			return v
		}
	}
	return ""
}
