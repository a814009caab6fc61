package workflow

import (
	"reflect"
	"slices"
	"testing"

	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/server"
	wf "github.com/opencloud/opencloud/libs/workflow"
)

// checkInvariants holds of every validation: problems are complete,
// ordered, and the answer is the same twice.
func checkInvariants(t *testing.T, in *wf.Input, facts Facts) wf.Validation {
	t.Helper()
	v := Validate(in, facts)
	again := Validate(in, facts)
	if !reflect.DeepEqual(v, again) {
		t.Fatalf("not deterministic:\n%+v\n%+v", v, again)
	}
	if v.Valid != (len(v.Problems) == 0) || v.Problems == nil {
		t.Fatalf("valid=%v with %d problems", v.Valid, len(v.Problems))
	}
	for _, p := range append(slices.Clone(v.Problems), v.Warnings...) {
		if p.Code == "" || p.Message == "" || p.Field == "" {
			t.Fatalf("incomplete problem %+v", p)
		}
		if p.Code == wf.ProblemCycle && (len(p.Path) < 3 || p.Path[0] != p.Path[len(p.Path)-1]) {
			t.Fatalf("cycle path %v", p.Path)
		}
	}
	sorted := slices.Clone(v.Problems)
	SortProblems(sorted)
	if !reflect.DeepEqual(sorted, v.Problems) {
		t.Fatal("problems not in order")
	}
	return v
}

// factsFor resolves every reference: those whose id starts with "x" are
// missing, the others have their node's kind.
func factsFor(in *wf.Input) Facts {
	f := Facts{Resources: map[resource.Ref]Fact{}}
	for _, n := range in.Graph.Nodes {
		f.Resources[n.Resource] = Fact{Found: len(n.Resource.ID) == 0 || n.Resource.ID[0] != 'x', Kind: n.Kind}
	}
	return f
}

func FuzzDecodeGraph(f *testing.F) {
	f.Add([]byte(`{"name":"a","graph":{"nodes":[{"id":"p","kind":"processing","resource":{"id":"r"}},{"id":"k","kind":"compute","resource":{"id":"c"}}],"links":[{"id":"l","kind":"compute","from":"p","to":"k"}]}}`))
	f.Add([]byte(`{"name":"loop","graph":{"nodes":[{"id":"a","kind":"processing","resource":{"id":"r"}},{"id":"b","kind":"processing","resource":{"id":"xr"}}],"links":[{"id":"1","kind":"dependency","from":"a","to":"b"},{"id":"2","kind":"dependency","from":"b","to":"a"},{"id":"2","kind":"storage_read","from":"b","to":"b","source":"\u0000"}]}}`))
	f.Add([]byte(`{"graph":{"nodes":[{"id":"","kind":"workflow","position":{"x":1e308,"y":-1e308}}],"links":[{"kind":"nope"}]},"extra":1}`))
	f.Add([]byte(`{"name":"x","graph":{"nodes":null,"links":[{"id":"l","kind":"data","from":"a","to":"b","destination":"d"}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var in wf.Input
		if err := server.DecodeBytes(body, &in); err != nil {
			return
		}
		Normalize(&in, peer)
		checkInvariants(t, &in, factsFor(&in))
	})
}

// FuzzValidate builds a graph from the bytes: a node per byte pair, a link
// per byte triple, ids drawn from a small alphabet so that duplicates,
// dangling links, self-loops and cycles are common. Besides the
// invariants, the cycle check is compared with Kahn's algorithm.
func FuzzValidate(f *testing.F) {
	f.Add([]byte{5, 1, 0, 2, 1, 3, 3, 0, 1, 1, 1, 2, 1, 2, 1, 1})
	f.Add([]byte{8, 1, 1, 1, 2, 1, 3, 3, 0, 0, 1, 1, 1, 2, 1, 2, 0, 1, 0, 4, 0, 3, 4, 1, 3, 4, 2})
	f.Add([]byte{3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	kinds := []resource.Kind{resource.KindData, resource.KindProcessing, resource.KindStorage, resource.KindCompute, resource.KindWorkflow, "junk"}
	links := []wf.LinkKind{wf.LinkData, wf.LinkDependency, wf.LinkStorageRead, wf.LinkStorageWrite, wf.LinkCompute, "junk"}
	ids := []string{"a", "b", "c", "d", "e", "f", "g", "h", "", "bad id"}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		nodes := int(data[0]) % 12
		data = data[1:]
		in := wf.Input{Name: "fuzz"}
		for i := 0; i < nodes && len(data) >= 2; i++ {
			in.Graph.Nodes = append(in.Graph.Nodes, wf.Node{ID: ids[int(data[0])%len(ids)], Kind: kinds[int(data[1])%len(kinds)],
				Resource: resource.Ref{ID: ids[int(data[1])%len(ids)]}})
			data = data[2:]
		}
		for j := 0; len(data) >= 3; j++ {
			l := wf.Link{ID: ids[j%len(ids)] + "l", Kind: links[int(data[0])%len(links)], From: ids[int(data[1])%len(ids)], To: ids[int(data[2])%len(ids)]}
			if data[0]&0x10 == 0 {
				l.Source, l.Destination = "s", "d"
			}
			in.Graph.Links = append(in.Graph.Links, l)
			data = data[3:]
		}
		Normalize(&in, peer)
		v := checkInvariants(t, &in, factsFor(&in))
		hasCycle := slices.ContainsFunc(v.Problems, func(p wf.Problem) bool { return p.Code == wf.ProblemCycle })
		if hasCycle != kahnCycle(&in) {
			t.Fatalf("cycle reported %v, Kahn says %v: %+v", hasCycle, !hasCycle, in.Graph)
		}
	})
}

// kahnCycle reports whether the dependency links between processings (as
// the validator counts them: first node per id, no self-loops, no
// duplicate) loop, by Kahn's algorithm.
func kahnCycle(in *wf.Input) bool {
	first := map[string]int{}
	for i, n := range in.Graph.Nodes {
		if _, ok := first[n.ID]; !ok && n.ID != "" {
			first[n.ID] = i
		}
	}
	type edge struct{ a, b int }
	seen := map[edge]bool{}
	indeg := map[int]int{}
	out := map[int][]int{}
	for _, l := range in.Graph.Links {
		a, okA := first[l.From]
		b, okB := first[l.To]
		if l.Kind != wf.LinkDependency || !okA || !okB || a == b ||
			in.Graph.Nodes[a].Kind != resource.KindProcessing || in.Graph.Nodes[b].Kind != resource.KindProcessing || seen[edge{a, b}] {
			continue
		}
		seen[edge{a, b}] = true
		out[a] = append(out[a], b)
		indeg[b]++
	}
	var queue []int
	for i := range in.Graph.Nodes {
		if indeg[i] == 0 {
			queue = append(queue, i)
		}
	}
	done := 0
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		done++
		for _, w := range out[u] {
			if indeg[w]--; indeg[w] == 0 {
				queue = append(queue, w)
			}
		}
	}
	return done != len(in.Graph.Nodes)
}
