package render_test

import (
	"strconv"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"

	"github.com/opencloud/opencloud/services/oc-monitord/internal/render"
)

const (
	execID = "0b6f3a52-9d1e-4c3b-8f7a-2e5d6c7b8a90"
	wfID   = "6b0e3c6c-4d0a-4d21-9a43-0e4c1d7b9f10"
)

// fixture builds an execution node by node: each node references a
// resource of its own, put in the execution's snapshot.
type fixture struct {
	e     execution.Execution
	links int
}

func newFixture() *fixture {
	start := time.Date(2026, 11, 21, 14, 30, 0, 0, time.UTC)
	return &fixture{e: execution.Execution{
		ID: execID, WorkflowID: wfID, RequestID: "r", Name: "ndvi", Owner: "alice", State: execution.Starting,
		Start: start, End: start.Add(time.Hour),
		Graph: wf.Graph{Nodes: []wf.Node{}, Links: []wf.Link{}},
	}}
}

func (f *fixture) add(id, peer string, kind resource.Kind, fill func(*resource.Resource)) *fixture {
	r := resource.Resource{ID: "res-" + id, Kind: kind, Name: id, PeerID: peer}
	fill(&r)
	f.e.Resources = append(f.e.Resources, r)
	f.e.Graph.Nodes = append(f.e.Graph.Nodes, wf.Node{ID: id, Kind: kind, Resource: resource.Ref{Peer: peer, ID: r.ID}})
	return f
}

func (f *fixture) processing(id string, p resource.Processing) *fixture {
	if p.Image == "" {
		p.Image = "ghcr.io/acme/" + id + ":1.0"
	}
	if p.Command == nil {
		p.Command = []string{"/bin/run"}
	}
	return f.add(id, "local", resource.KindProcessing, func(r *resource.Resource) { r.Processing = &p })
}

func (f *fixture) compute(id, peer string, c resource.Compute) *fixture {
	if c.ClusterRef == "" {
		c.ClusterRef = "cluster-" + id
	}
	if c.Architecture == "" {
		c.Architecture = "amd64"
	}
	return f.add(id, peer, resource.KindCompute, func(r *resource.Resource) { r.Compute = &c })
}

func (f *fixture) storage(id, peer, endpoint, bucket, region string) *fixture {
	return f.add(id, peer, resource.KindStorage, func(r *resource.Resource) {
		r.Storage = &resource.Storage{Endpoint: endpoint, Bucket: bucket, Region: region}
	})
}

func (f *fixture) data(id, location string) *fixture {
	return f.add(id, "local", resource.KindData, func(r *resource.Resource) { r.Data = &resource.Data{Location: location} })
}

func (f *fixture) link(kind wf.LinkKind, from, to string, srcDst ...string) *fixture {
	f.links++
	l := wf.Link{ID: "l" + strconv.Itoa(f.links), Kind: kind, From: from, To: to}
	if len(srcDst) == 2 {
		l.Source, l.Destination = srcDst[0], srcDst[1]
	}
	f.e.Graph.Links = append(f.e.Graph.Links, l)
	return f
}

func (f *fixture) runs(proc, compute string) *fixture { return f.link(wf.LinkCompute, proc, compute) }
func (f *fixture) dep(from, to string) *fixture       { return f.link(wf.LinkDependency, from, to) }

// mustRender renders e and runs Argo's validation on the result.
func mustRender(t testing.TB, e execution.Execution, opts render.Options) *wfv1.Workflow {
	t.Helper()
	w, err := render.Render(e, opts)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	if err := render.Validate(w); err != nil {
		y, _ := render.YAML(w)
		t.Fatalf("validate: %v\n%s", err, y)
	}
	return w
}

func tmpl(t testing.TB, w *wfv1.Workflow, name string) *wfv1.Template {
	t.Helper()
	for i := range w.Spec.Templates {
		if w.Spec.Templates[i].Name == name {
			return &w.Spec.Templates[i]
		}
	}
	t.Fatalf("no template %q", name)
	return nil
}

// deps maps each task of the main DAG to its dependencies.
func deps(t testing.TB, w *wfv1.Workflow) map[string][]string {
	t.Helper()
	main := tmpl(t, w, render.Entrypoint)
	if main.DAG == nil {
		t.Fatal("main is not a DAG")
	}
	out := map[string][]string{}
	for _, task := range main.DAG.Tasks {
		if task.Template != task.Name {
			t.Errorf("task %s runs template %s", task.Name, task.Template)
		}
		out[task.Name] = append([]string{}, task.Dependencies...)
	}
	return out
}

func env(c *wfv1.Template) map[string]string {
	out := map[string]string{}
	for _, e := range c.Container.Env {
		out[e.Name] = e.Value
	}
	return out
}
