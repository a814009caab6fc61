// Package graphgen builds realistic workflow graphs of any size, for
// benchmarks and tests.
package graphgen

import (
	"fmt"

	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"
)

// Shape says how many nodes of each kind Realistic makes per processing.
// A quarter of the nodes are processings, each on one compute, in chains
// of ten with some fan-out, each reading one or two data sets, and one in
// two reading from and writing to a storage.
//
// Realistic returns a valid graph of about n nodes (n/4 processings, n/20
// computes, the rest data sets and storages); ref gives the resource of the
// i-th node of kind k.
func Realistic(n int, ref func(k resource.Kind, i int) resource.Ref) wf.Input {
	procs := max(n/4, 1)
	computes := max(n/20, 1)
	storages := max(n/10, 1)
	datas := max(n-procs-computes-storages, 0)
	in := wf.Input{Name: fmt.Sprintf("Realistic %d", n), Description: "A generated workflow", Tags: []string{"bench"}}
	g := &in.Graph
	g.Nodes = make([]wf.Node, 0, n)
	g.Links = make([]wf.Link, 0, 2*n)
	add := func(k resource.Kind, count int, prefix string) {
		for i := range count {
			g.Nodes = append(g.Nodes, wf.Node{ID: fmt.Sprintf("%s%d", prefix, i), Kind: k, Resource: ref(k, i),
				Name: fmt.Sprintf("%s %d", k, i), Position: wf.Position{X: float64(i * 40), Y: float64(len(prefix) * 100)}})
		}
	}
	add(resource.KindProcessing, procs, "p")
	add(resource.KindCompute, computes, "k")
	add(resource.KindStorage, storages, "s")
	add(resource.KindData, datas, "d")
	l := 0
	link := func(k wf.LinkKind, from, to string) *wf.Link {
		l++
		g.Links = append(g.Links, wf.Link{ID: fmt.Sprintf("l%d", l), Kind: k, From: from, To: to})
		return &g.Links[len(g.Links)-1]
	}
	for i := range procs {
		p := fmt.Sprintf("p%d", i)
		link(wf.LinkCompute, p, fmt.Sprintf("k%d", i%computes))
		if i%10 != 0 {
			link(wf.LinkDependency, fmt.Sprintf("p%d", i-1), p)
		}
		if i%10 >= 2 && i%3 == 0 {
			// Fan-out: also depends on the node two steps back.
			link(wf.LinkDependency, fmt.Sprintf("p%d", i-2), p)
		}
		if i%2 == 0 {
			s := fmt.Sprintf("s%d", (i/2)%storages)
			r := link(wf.LinkStorageRead, s, p)
			r.Source, r.Destination = fmt.Sprintf("inputs/%d/", i), "/data/in"
			w := link(wf.LinkStorageWrite, p, s)
			w.Source, w.Destination = "/data/out", fmt.Sprintf("results/%d/", i)
		}
	}
	for i := range datas {
		link(wf.LinkData, fmt.Sprintf("d%d", i), fmt.Sprintf("p%d", i%procs))
	}
	return in
}
