package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/nats-io/nats.go"
	"sigs.k8s.io/yaml"

	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/sqlitestore"
	"github.com/opencloud/opencloud/libs/testenv"
	wf "github.com/opencloud/opencloud/libs/workflow"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"

	"github.com/opencloud/opencloud/services/oc-monitord/internal/render"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const execID = "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"

// booked is an execution as oc-scheduler stores it: a 3-step workflow,
// the last step on a partner peer's compute, writing to a storage.
func booked() execution.Execution {
	now := executions.Stamp(time.Now())
	ref := func(peer, id string) resource.Ref { return resource.Ref{Peer: peer, ID: id} }
	proc := func(id string) resource.Resource {
		return resource.Resource{ID: id, PeerID: localID, Kind: resource.KindProcessing,
			Processing: &resource.Processing{Image: "alpine:3", Command: []string{"/bin/sh", "-c", "echo " + id}}}
	}
	return execution.Execution{
		ID: execID, WorkflowID: "wf-1", RequestID: "req-1", Name: "three steps", Owner: "alice",
		State: execution.Scheduled, Start: now.Add(time.Minute), End: now.Add(11 * time.Minute), CreatedAt: now, UpdatedAt: now,
		Graph: wf.Graph{
			Nodes: []wf.Node{
				{ID: "fetch", Kind: resource.KindProcessing, Resource: ref(localID, "p-fetch")},
				{ID: "ndvi", Kind: resource.KindProcessing, Resource: ref(localID, "p-ndvi")},
				{ID: "report", Kind: resource.KindProcessing, Resource: ref(localID, "p-report")},
				{ID: "k8s", Kind: resource.KindCompute, Resource: ref(localID, "c-local")},
				{ID: "lyon", Kind: resource.KindCompute, Resource: ref(peerC, "c-lyon")},
				{ID: "out", Kind: resource.KindStorage, Resource: ref("peer-b", "s-out")},
			},
			Links: []wf.Link{
				{ID: "l1", Kind: wf.LinkCompute, From: "fetch", To: "k8s"},
				{ID: "l2", Kind: wf.LinkCompute, From: "ndvi", To: "k8s"},
				{ID: "l3", Kind: wf.LinkCompute, From: "report", To: "lyon"},
				{ID: "l4", Kind: wf.LinkDependency, From: "fetch", To: "ndvi"},
				{ID: "l5", Kind: wf.LinkDependency, From: "ndvi", To: "report"},
				{ID: "l6", Kind: wf.LinkStorageWrite, From: "report", To: "out", Source: "/out/report.pdf", Destination: "reports/r.pdf"},
			},
		},
		Resources: []resource.Resource{
			proc("p-fetch"), proc("p-ndvi"), proc("p-report"),
			{ID: "c-local", PeerID: localID, Kind: resource.KindCompute, Compute: &resource.Compute{ClusterRef: "local", Architecture: "amd64",
				NodeSelector: []resource.Label{{Key: "node.opencloud.io/name", Value: "node-1"}}}},
			{ID: "c-lyon", PeerID: peerC, Kind: resource.KindCompute, Compute: &resource.Compute{ClusterRef: "dc-lyon", Architecture: "arm64"}},
			{ID: "s-out", PeerID: "peer-b", Kind: resource.KindStorage, Storage: &resource.Storage{Endpoint: "http://minio.peer-b:9000", Bucket: "results"}},
		},
	}
}

// The peer ids of the tests: this peer's and a partner's.
const (
	localID = "aejcavshlktviy2hjqbilx25x4v4vnz5uzitlcbz5g3xjans5kyqo4em"
	peerC   = "aejcaxvf3uwp4fsvqrz3wlvxe3zmabqtpvz3jebnyl7q3g7eqwegbmpl"
)

// publishSelf makes the store at path say this peer is id.
func publishSelf(t *testing.T, path, id string) {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), path, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	if err := federation.PublishSelf(context.Background(), st, federation.Self{ID: id}); err != nil {
		t.Fatal(err)
	}
}

func insert(t *testing.T, st store.Store, e execution.Execution) {
	t.Helper()
	s, err := executions.Open(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Insert(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

// backends yields the environment that points render at a store holding
// the booked execution. SQLite only: on FerretDB (the Mongo stand-in of the
// tests) a second Open of a collection whose indexes exist crashes
// FerretDB 1.18's createIndexes, and render necessarily opens the store
// again after the execution was inserted.
func backends(t *testing.T, fn func(t *testing.T, env map[string]string)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "oc.db")
		st, err := sqlitestore.Open(context.Background(), path, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		insert(t, st, booked())
		if err := federation.PublishSelf(context.Background(), st, federation.Self{ID: localID}); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		fn(t, map[string]string{"OC_STORE": "sqlite", "OC_SQLITE_PATH": path, "OC_LOG_LEVEL": "warn"})
	})
}

func runWith(env map[string]string, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
	return out.String(), errOut.String(), err
}

// render prints the stored execution's Workflow as YAML that Argo accepts.
func TestRenderPrintsTheWorkflow(t *testing.T) {
	backends(t, func(t *testing.T, env map[string]string) {
		out, logs, err := runWith(env, "render", execID)
		if err != nil {
			t.Fatalf("render: %v\n%s", err, logs)
		}
		var w wfv1.Workflow
		if err := yaml.UnmarshalStrict([]byte(out), &w); err != nil {
			t.Fatalf("output is not a Workflow: %v\n%s", err, out)
		}
		if w.Name != execution.WorkflowName(execID) || w.Namespace != execution.Namespace(execID) {
			t.Errorf("name %s namespace %s", w.Name, w.Namespace)
		}
		if err := render.Validate(&w); err != nil {
			t.Errorf("printed Workflow: %v", err)
		}
		var tasks []string
		for _, task := range w.Spec.Templates[0].DAG.Tasks {
			tasks = append(tasks, task.Name+"<"+strings.Join(task.Dependencies, ","))
		}
		if got := strings.Join(tasks, " "); got != "fetch< ndvi<fetch report<ndvi" {
			t.Errorf("tasks %s", got)
		}
		// The partner's compute is reached through Admiralty; with this
		// peer being peer-c, it is the local ones that are.
		if !strings.Contains(out, render.AnnotationElect) || !strings.Contains(out, render.TargetName(peerC, "dc-lyon")) {
			t.Errorf("no Admiralty election for the partner's compute:\n%s", out)
		}
		publishSelf(t, env["OC_SQLITE_PATH"], peerC)
		out, _, err = runWith(env, "render", execID)
		if err != nil || !strings.Contains(out, render.TargetName(localID, "local")) || strings.Contains(out, render.TargetName(peerC, "dc-lyon")) {
			t.Errorf("as peer-c: %v\n%s", err, out)
		}
	})
}

func TestRenderRefusesClearly(t *testing.T) {
	backends(t, func(t *testing.T, env map[string]string) {
		out, _, err := runWith(env, "render", "3c8e2a1b-0000-4000-8000-000000000000")
		if err == nil || !strings.Contains(err.Error(), `no execution "3c8e2a1b-0000-4000-8000-000000000000"`) || out != "" {
			t.Errorf("unknown id: %v, printed %q", err, out)
		}
	})
	t.Run("unrenderable", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "oc.db")
		st, err := sqlitestore.Open(context.Background(), path, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		e := booked()
		e.Graph.Links = e.Graph.Links[1:] // fetch loses its compute
		insert(t, st, e)
		if err := federation.PublishSelf(context.Background(), st, federation.Self{ID: localID}); err != nil {
			t.Fatal(err)
		}
		_ = st.Close(context.Background())
		out, _, err := runWith(map[string]string{"OC_STORE": "sqlite", "OC_SQLITE_PATH": path}, "render", execID)
		if err == nil || !strings.Contains(err.Error(), `node "fetch"`) || !strings.Contains(err.Error(), "no compute") || out != "" {
			t.Errorf("no compute: %v, printed %q", err, out)
		}
	})
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"render"}, "exactly one execution id"},
		{[]string{"render", "a", "b"}, "exactly one execution id"},
		{[]string{"submit", "a"}, `unknown command "submit"`},
	} {
		if _, _, err := runWith(nil, tc.args...); err == nil || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), "usage:") {
			t.Errorf("%v: %v", tc.args, err)
		}
	}
	if _, _, err := runWith(map[string]string{"OC_STORE": "oracle"}, "render", execID); err == nil || !strings.Contains(err.Error(), "OC_STORE") {
		t.Errorf("bad config: %v", err)
	}
}

// run follows an execution to its end on the cluster and exits 0 whatever
// the end; here the execution's namespace was never prepared, so it ends
// failed with the reason, and the end is announced on NATS.
func TestRunFollowsToTheEnd(t *testing.T) {
	c := testenv.Cluster(t)
	ns, err := broker.StartEmbedded(broker.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	sub, err := nc.SubscribeSync(event.ExecutionState(execID))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "oc.db")
	st, err := sqlitestore.Open(context.Background(), path, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	e := booked()
	e.State = execution.Starting // claimed by the daemon
	insert(t, st, e)
	if err := federation.PublishSelf(context.Background(), st, federation.Self{ID: localID}); err != nil {
		t.Fatal(err)
	}
	_ = st.Close(context.Background())
	env := map[string]string{"OC_STORE": "sqlite", "OC_SQLITE_PATH": path, "OC_NATS_URL": ns.ClientURL(), "OC_LOG_LEVEL": "warn"}
	if _, logs, err := runWith(env, "run", execID); err == nil || !strings.Contains(err.Error(), "OC_KUBECONFIG") {
		t.Fatalf("without a kubeconfig: %v\n%s", err, logs)
	}
	env["OC_KUBECONFIG"] = c.Kubeconfig
	if _, logs, err := runWith(env, "run", execID); err != nil {
		t.Fatalf("run: %v\n%s", err, logs)
	}
	st, err = sqlitestore.Open(context.Background(), path, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	execs, err := executions.Open(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	got, err := execs.Get(context.Background(), execID)
	if err != nil || got.State != execution.Failed || !strings.Contains(got.Reason, "oc-datacenter must prepare it first") {
		t.Fatalf("%s %q %v", got.State, got.Reason, err)
	}
	// The end is announced (after the execution's creation, which the
	// store may announce too: it was stored without its event).
	for {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("no event of the end: %v", err)
		}
		if strings.Contains(string(m.Data), `"from":"starting","to":"failed"`) {
			break
		}
		if !strings.Contains(string(m.Data), `"to":"starting"`) {
			t.Errorf("event %s", m.Data)
		}
	}
	// Run again: the execution is over, nothing to do.
	if _, _, err := runWith(env, "run", execID); err != nil {
		t.Errorf("on an ended execution: %v", err)
	}
	if _, _, err := runWith(env, "run", "3c8e2a1b-0000-4000-8000-000000000000"); err == nil || !strings.Contains(err.Error(), "no execution") {
		t.Errorf("unknown id: %v", err)
	}
	for _, args := range [][]string{{"run"}, {"run", "a", "b"}} {
		if _, _, err := runWith(env, args...); err == nil || !strings.Contains(err.Error(), "exactly one execution id") {
			t.Errorf("%v: %v", args, err)
		}
	}
}
