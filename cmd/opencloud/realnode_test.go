package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/testenv"
	"github.com/opencloud/opencloud/libs/workflow"
	authclient "github.com/opencloud/opencloud/services/oc-auth/client"
	dcclient "github.com/opencloud/opencloud/services/oc-datacenter/client"
	"github.com/opencloud/opencloud/services/oc-datacenter/datacenter"
)

// TestRealContainers runs workflows whose steps are real containers, on the
// test cluster's real node (containerd and a kubelet on this machine),
// through the whole peer's REST API, booked in the seed's request shape:
//
//   - three steps: the first writes a file to an S3 storage of the catalog
//     (MinIO, which checks every request's signature), the last reads it
//     back and prints it, and that line is in the execution's logs; the
//     object is where the storage link says; the user's containers have no
//     Kubernetes token and no S3 credential in their environment;
//   - a storage whose credentials are wrong: the step writing to it fails;
//   - a container exiting 3: the execution fails naming the step and code;
//   - a cancel while a container runs: the container is gone from the node.
func TestRealContainers(t *testing.T) {
	node := testenv.ClusterWithRealNode(t)
	s3 := testenv.S3(t, testenv.S3Signed)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	const bucket = "results"
	if err := s3.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}

	p := startPeerEnv(t, t.TempDir(), "127.0.0.1:0", map[string]string{"OC_KUBECONFIG": node.Kubeconfig})
	adminToken := apiclient.StaticToken(p.login(t, "admin", adminPassword))
	admin := authclient.New(p.base, adminToken, nil)
	dc := dcclient.New(p.base, adminToken, nil)
	alice := p.designer(t, admin, "alice")

	kcfg, err := clientcmd.BuildConfigFromFlags("", node.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kube := kubernetes.NewForConfigOrDie(kcfg)

	create := func(in resource.Input) resource.Ref {
		t.Helper()
		r, err := alice.catalog.Create(ctx, in)
		if err != nil {
			t.Fatalf("create %s: %v", in.Name, err)
		}
		return resource.Ref{Peer: r.PeerID, ID: r.ID}
	}
	step := func(name, script string) resource.Ref {
		return create(resource.Input{Kind: resource.KindProcessing, Name: name, Processing: &resource.Processing{
			Image: node.BusyboxImage, Command: []string{"sh", "-c", script}, OpenSource: true,
			Requests: resource.Requests{CPUMillicores: 100, MemoryBytes: 64 << 20}}})
	}
	var selector []resource.Label
	for k, v := range node.NodeSelector {
		selector = append(selector, resource.Label{Key: k, Value: v})
	}
	real := create(resource.Input{Kind: resource.KindCompute, Name: "real-node", Compute: &resource.Compute{
		ClusterRef: "local", Architecture: "amd64", CPUCores: 2, MemoryBytes: 4 << 30, NodeSelector: selector}})
	storage := func(name, accessKey, secretKey string) resource.Ref {
		t.Helper()
		ref := create(resource.Input{Kind: resource.KindStorage, Name: name, Storage: &resource.Storage{
			Endpoint: s3.URL, Bucket: bucket, Region: s3.Region}})
		if _, err := dc.SetStorageCredentials(ctx, ref.ID, datacenter.StorageCredentialsInput{
			AccessKeyID: accessKey, SecretAccessKey: secretKey}); err != nil {
			t.Fatalf("credentials of %s: %v", name, err)
		}
		return ref
	}
	results := storage("results", s3.AccessKey, s3.SecretKey)
	forged := storage("forged", s3.AccessKey, s3.SecretKey+"x")

	// write → middle → read, all on the real node; write stores /out/x.txt
	// under the prefix x/ (the object x/x.txt), read fetches that key.
	threeSteps := func(name string, store resource.Ref) string {
		t.Helper()
		w := step(name+"-write", `mkdir -p /out && echo "hello from $(hostname) at $(date)" > /out/x.txt
if [ -e /var/run/secrets/kubernetes.io/serviceaccount/token ]; then echo "token: mounted"; else echo "token: none"; fi
echo "s3 variables: $(env | grep -ci -e secret -e access_key -e aws)"`)
		m := step(name+"-middle", `echo middle; sleep 3; echo middle done`)
		r := step(name+"-read", `echo "read: $(cat /in/x.txt)"`)
		wf, err := alice.workflows.Create(ctx, workflow.Input{Name: name, Graph: workflow.Graph{
			Nodes: []workflow.Node{
				{ID: "write", Kind: resource.KindProcessing, Resource: w}, {ID: "middle", Kind: resource.KindProcessing, Resource: m},
				{ID: "read", Kind: resource.KindProcessing, Resource: r}, {ID: "k8s", Kind: resource.KindCompute, Resource: real},
				{ID: "s3", Kind: resource.KindStorage, Resource: store}},
			Links: []workflow.Link{
				{ID: "wm", Kind: workflow.LinkDependency, From: "write", To: "middle"},
				{ID: "mr", Kind: workflow.LinkDependency, From: "middle", To: "read"},
				{ID: "wk", Kind: workflow.LinkCompute, From: "write", To: "k8s"},
				{ID: "mk", Kind: workflow.LinkCompute, From: "middle", To: "k8s"},
				{ID: "rk", Kind: workflow.LinkCompute, From: "read", To: "k8s"},
				{ID: "out", Kind: workflow.LinkStorageWrite, From: "write", To: "s3", Source: "/out/x.txt", Destination: "x/"},
				{ID: "in", Kind: workflow.LinkStorageRead, From: "s3", To: "read", Source: "x/x.txt", Destination: "/in/x.txt"}},
		}})
		if err != nil {
			t.Fatalf("create workflow %s: %v", name, err)
		}
		return wf.ID
	}
	oneStep := func(name, script string) string {
		t.Helper()
		s := step(name+"-step", script)
		wf, err := alice.workflows.Create(ctx, workflow.Input{Name: name, Graph: workflow.Graph{
			Nodes: []workflow.Node{{ID: "only", Kind: resource.KindProcessing, Resource: s}, {ID: "k8s", Kind: resource.KindCompute, Resource: real}},
			Links: []workflow.Link{{ID: "ok", Kind: workflow.LinkCompute, From: "only", To: "k8s"}},
		}})
		if err != nil {
			t.Fatalf("create workflow %s: %v", name, err)
		}
		return wf.ID
	}
	book := func(workflowID string, in time.Duration, seconds int) execution.Execution {
		t.Helper()
		return bookOnce(t, ctx, alice, workflowID, in, 2*time.Minute, seconds)
	}

	// All at once: the real node's compute has room for the four.
	okRun := book(threeSteps("hello", results), 5*time.Second, 90)
	forgedRun := book(threeSteps("forged", forged), 5*time.Second, 90)
	exitRun := book(oneStep("exit3", `echo "about to fail"; exit 3`), 5*time.Second, 90)
	longRun := book(oneStep("long", `echo started; sleep 300`), 5*time.Second, 90)
	live, err := alice.scheduler.Live(ctx, okRun.ID)
	if err != nil {
		t.Fatal(err)
	}

	// The live stream: the middle step's first line while it still runs
	// (before its second, written 3 s later, and before its end), and every
	// line before the execution's terminal state.
	var events []string
	for m := range live {
		switch m.Event {
		case "log":
			var l execution.LogLine
			if err := json.Unmarshal(m.Data, &l); err != nil {
				t.Fatal(err)
			}
			events = append(events, "log "+l.Step+": "+l.Line)
		case "state":
			ch := decodeState(t, m)
			events = append(events, "state "+ch.Step+": "+string(ch.To))
		}
	}
	at := func(e string) int { return slices.Index(events, e) }
	if first, second, end := at("log middle: middle"), at("log middle: middle done"), at("state middle: succeeded"); first < 0 || first > second || first > end {
		t.Errorf("the middle step's log did not stream while it ran: %q", events)
	}
	if len(events) == 0 || events[len(events)-1] != "state : succeeded" ||
		!slices.ContainsFunc(events, func(e string) bool { return strings.HasPrefix(e, "log read: read: hello from ") }) {
		t.Errorf("the live stream was %q: the last step's line, then the execution's end", events)
	}

	// The file went through S3 and came back.
	done := waitState(t, ctx, alice, okRun.ID, execution.Succeeded)
	logs := stepLogs(t, ctx, alice, done.ID)
	if read := logs["read"]; !slices.ContainsFunc(read, func(l string) bool { return strings.HasPrefix(l, "read: hello from ") }) {
		t.Errorf("the read step printed %q, want the file the write step stored", read)
	}
	if write := logs["write"]; !slices.Contains(write, "token: none") || !slices.Contains(write, "s3 variables: 0") {
		t.Errorf("the write step saw %q: its container must have no Kubernetes token and no S3 variable", write)
	}
	if got := logs["middle"]; !slices.Contains(got, "middle") {
		t.Errorf("the middle step printed %q", got)
	}
	body, err := s3.GetObject(ctx, bucket, "x/x.txt")
	if err != nil || !strings.HasPrefix(string(body), "hello from ") {
		t.Errorf("object x/x.txt: %q %v", body, err)
	}
	if _, err := s3.GetObject(ctx, bucket, "x/"); err == nil {
		t.Errorf("an object named x/ was written: the destination x/ is a prefix")
	}

	// Wrong credentials: MinIO refuses the upload, the write step fails.
	failed := waitState(t, ctx, alice, forgedRun.ID, execution.Failed)
	if failed.FailedStep != "write" {
		t.Errorf("forged credentials: failed step %q (%s), want write", failed.FailedStep, failed.Reason)
	}

	// Exit code 3.
	failed = waitState(t, ctx, alice, exitRun.ID, execution.Failed)
	if failed.FailedStep != "only" || !strings.Contains(failed.Reason, "exit code 3") {
		t.Errorf("exit 3: failed step %q, reason %q", failed.FailedStep, failed.Reason)
	}
	if got := stepLogs(t, ctx, alice, exitRun.ID)["only"]; !slices.Contains(got, "about to fail") {
		t.Errorf("the failing step's log: %q", got)
	}

	// Cancel while the container runs: the container is gone from the node.
	ns := execution.Namespace(longRun.ID)
	var pod string
	for pod == "" {
		x, err := alice.scheduler.Get(ctx, longRun.ID)
		if err != nil {
			t.Fatal(err)
		}
		if x.State.Terminal() {
			t.Fatalf("the long run is %s (%s)", x.State, x.Reason)
		}
		if x.State == execution.Running {
			pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pods.Items {
				if running, _ := node.RunningContainers(ctx, ns, p.Name); len(running) > 1 {
					pod = p.Name // the sandbox and the step's containers run
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal("the long run's container never ran")
		case <-time.After(300 * time.Millisecond):
		}
	}
	if _, err := alice.scheduler.Cancel(ctx, longRun.ID); err != nil {
		t.Fatal(err)
	}
	waitState(t, ctx, alice, longRun.ID, execution.Cancelled)
	for {
		running, err := node.RunningContainers(ctx, ns, pod)
		if err != nil {
			t.Fatal(err)
		}
		if len(running) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("after the cancel, containers %v of pod %s still run", running, pod)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// stepLogs returns the lines each step of an execution wrote, as
// GET /scheduler/executions/{id} keeps them.
func stepLogs(t *testing.T, ctx context.Context, d designer, id string) map[string][]string {
	t.Helper()
	x, err := d.scheduler.Detail(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, l := range x.Logs {
		for _, line := range l.Lines {
			out[l.Step] = append(out[l.Step], line.Line)
		}
	}
	return out
}
