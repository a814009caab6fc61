package render_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"

	"github.com/opencloud/opencloud/services/oc-monitord/internal/render"
)

// choices reads decisions from fuzz input; past its end every answer is 0,
// so any input makes a graph.
type choices struct {
	b []byte
	i int
}

func (c *choices) n(max int) int {
	if max <= 1 || c.i >= len(c.b) {
		return 0
	}
	v := int(c.b[c.i])
	c.i++
	return v % max
}

func (c *choices) pick(from []string) string { return from[c.n(len(from))] }

const idChars = "abcXYZ019_.-"

// id makes a node id of the characters valid graphs allow (dots, digits
// first, upper case: what the task names must cope with).
func (c *choices) id(taken map[string]bool) string {
	var b []byte
	for range 1 + c.n(6) {
		b = append(b, idChars[c.n(len(idChars))])
	}
	id := string(b)
	for i := 2; taken[id]; i++ {
		id = fmt.Sprintf("%s%d", b, i)
	}
	taken[id] = true
	return id
}

// validExecution builds a random graph valid at design time: a DAG of
// processings listed in random order, each on one of a few computes (some
// on other peers), with random data, storage_read and storage_write links.
func validExecution(raw []byte) execution.Execution {
	c := &choices{b: raw}
	f := newFixture()
	taken := map[string]bool{}
	node := func(add func(id string)) string {
		id := c.id(taken)
		add(id)
		return id
	}
	var computes, storages, datas []string
	for range 1 + c.n(3) {
		computes = append(computes, node(func(id string) {
			peer := c.pick([]string{"local", "local", "peer-b", ""})
			var labels []resource.Label
			for range c.n(3) {
				labels = append(labels, resource.Label{Key: c.pick([]string{"zone", "node.opencloud.io/name", "example.org/tier"}), Value: c.pick([]string{"a", "b-1", ""})})
			}
			// one value per key, as a valid compute has
			seen := map[string]bool{}
			labels = slices.DeleteFunc(labels, func(l resource.Label) bool { d := seen[l.Key]; seen[l.Key] = true; return d })
			f.compute(id, peer, resource.Compute{Architecture: resource.Architectures[c.n(len(resource.Architectures))],
				ClusterRef: c.pick([]string{"dc-1", "edge"}), NodeSelector: labels})
		}))
	}
	for range c.n(3) {
		storages = append(storages, node(func(id string) {
			f.storage(id, c.pick([]string{"local", "peer-b"}),
				c.pick([]string{"http://minio:9000", "https://s3.example.org", "https://s3.example.org:8443/"}),
				c.pick([]string{"results", "tiles"}), c.pick([]string{"", "eu-west-3"}))
		}))
	}
	for range c.n(4) {
		datas = append(datas, node(func(id string) {
			f.data(id, c.pick([]string{"https://example.org/tiles.zip", "http://10.0.0.1:8080/x", "s3://b/k", "/mnt/data", "ftp://x"}))
		}))
	}
	steps := make([]string, 1+c.n(12))
	for i := range steps {
		steps[i] = node(func(id string) {
			env := map[string]string{}
			for range c.n(3) {
				env[c.pick([]string{"A", "B_2", "OC_STEP", "lower.case", "x-y"})] = c.pick([]string{"", "v", "}}", "$(HOME)"})
			}
			var cmd []string
			if c.n(4) > 0 {
				cmd = []string{"/bin/sh", "-c", c.pick([]string{"echo hi", "exit 0", "awk '{print}'"})}
			}
			f.processing(id, resource.Processing{Image: c.pick([]string{"alpine:3", "ghcr.io/acme/x@sha256:0123"}), Command: cmd,
				Args: []string{c.pick([]string{"--a", "b", ""})}, Env: env,
				Requests: resource.Requests{CPUMillicores: int64(c.n(4000)), MemoryBytes: int64(c.n(200)) << 20, GPUs: int64(c.n(3))}})
		})
	}
	// Shuffle the node list so that graph order is not a topological order.
	nodes := f.e.Graph.Nodes
	for i := len(nodes) - 1; i > 0; i-- {
		j := c.n(i + 1)
		nodes[i], nodes[j] = nodes[j], nodes[i]
	}
	for _, s := range steps {
		f.runs(s, computes[c.n(len(computes))])
	}
	// Dependencies only from earlier to later steps: no cycle.
	for j := range steps {
		for i := range j {
			if c.n(4) == 0 {
				f.dep(steps[i], steps[j])
			}
		}
	}
	for _, s := range steps {
		for _, d := range datas {
			if c.n(3) == 0 {
				f.link(wf.LinkData, d, s)
			}
		}
		for k, st := range storages {
			if c.n(3) == 0 {
				f.link(wf.LinkStorageRead, st, s, c.pick([]string{"in/", "a/b.tif", "x"}), fmt.Sprintf("/in/r%d", k))
			}
			if c.n(3) == 0 {
				f.link(wf.LinkStorageWrite, s, st, c.pick([]string{"/out", "/out/x.tif", "/tmp/y"}), c.pick([]string{"out/", "res/x.tif"}))
			}
		}
	}
	return f.e
}

// FuzzRender: every valid graph renders, and Argo accepts the result.
func FuzzRender(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{2, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte("a fairly long seed that makes many steps, links and peers appear in the graph"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e := validExecution(raw)
		w, err := render.Render(e, render.Options{})
		if err != nil {
			t.Fatalf("valid graph refused: %v\n%s", err, dump(e))
		}
		if err := render.Validate(w); err != nil {
			t.Fatalf("argo refused: %v\n%s", err, dump(e))
		}
		tasks := tmpl(t, w, render.Entrypoint).DAG.Tasks
		procs := 0
		for _, n := range e.Graph.Nodes {
			if n.Kind == resource.KindProcessing {
				procs++
			}
		}
		if len(tasks) != procs || len(w.Spec.Templates) != procs+1 {
			t.Fatalf("%d tasks, %d templates for %d processings", len(tasks), len(w.Spec.Templates), procs)
		}
		edges := 0
		for _, task := range tasks {
			edges += len(task.Dependencies)
		}
		want := 0
		for _, l := range e.Graph.Links {
			if l.Kind == wf.LinkDependency {
				want++
			}
		}
		if edges != want {
			t.Fatalf("%d dependencies for %d dependency links", edges, want)
		}
	})
}

// FuzzRenderJSON: whatever execution a store hands back, Render refuses it
// with an *Error or renders a Workflow Argo accepts; it never panics.
func FuzzRenderJSON(f *testing.F) {
	for _, seed := range [][]byte{{}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, []byte("seed for a few storages and data links ......")} {
		b, _ := json.Marshal(validExecution(seed))
		f.Add(b)
	}
	f.Add([]byte(`{"id":"x","graph":{"nodes":[{"id":"a","kind":"processing","resource":{"id":"r"}}],"links":[{"id":"l","kind":"compute","from":"a","to":"a"}]},"resources":[{"id":"r","kind":"processing","peer_id":"local","processing":{"image":"i"}}]}`))
	f.Add([]byte(`{"id":"x","graph":{"nodes":[{"id":"a","kind":"processing","resource":{"id":"r"}},{"id":"c","kind":"compute","resource":{"id":"c"}}],"links":[{"id":"l","kind":"compute","from":"a","to":"c"},{"id":"d","kind":"dependency","from":"a","to":"a"}]},"resources":[{"id":"r","kind":"processing","processing":{"image":"i"}},{"id":"c","kind":"compute","compute":{"architecture":"amd64"}}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var e execution.Execution
		if json.Unmarshal(raw, &e) != nil {
			return
		}
		w, err := render.Render(e, render.Options{})
		if err != nil {
			var re *render.Error
			if !errors.As(err, &re) {
				t.Fatalf("error is not a *render.Error: %v", err)
			}
			return
		}
		if err := render.Validate(w); err != nil {
			t.Fatalf("rendered a Workflow argo refuses: %v\n%s", err, raw)
		}
	})
}

func dump(e execution.Execution) string {
	b, _ := json.MarshalIndent(e.Graph, "", " ")
	return string(b)
}
