package workflow

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"
	"github.com/opencloud/opencloud/libs/workspace"
)

const peer = "local"

func ref(id string) resource.Ref { return resource.Ref{Peer: peer, ID: id} }

func node(id string, k resource.Kind) wf.Node {
	return wf.Node{ID: id, Kind: k, Resource: ref("r-" + string(k))}
}

func link(id string, k wf.LinkKind, from, to string) wf.Link {
	l := wf.Link{ID: id, Kind: k, From: from, To: to}
	switch k {
	case wf.LinkStorageRead:
		l.Source, l.Destination = "in/", "/data/in"
	case wf.LinkStorageWrite:
		l.Source, l.Destination = "/data/out/ndvi.tif", "results/"
	}
	return l
}

// valid is data → p1 → p2, both on a compute, p1 reading and p2 writing a storage.
func valid() wf.Input {
	return wf.Input{Name: "NDVI", Graph: wf.Graph{
		Nodes: []wf.Node{
			node("tiles", resource.KindData), node("p1", resource.KindProcessing), node("p2", resource.KindProcessing),
			node("k8s", resource.KindCompute), node("s3", resource.KindStorage),
		},
		Links: []wf.Link{
			link("l1", wf.LinkData, "tiles", "p1"), link("l2", wf.LinkDependency, "p1", "p2"),
			link("l3", wf.LinkCompute, "p1", "k8s"), link("l4", wf.LinkCompute, "p2", "k8s"),
			link("l5", wf.LinkStorageRead, "s3", "p1"), link("l6", wf.LinkStorageWrite, "p2", "s3"),
		},
	}}
}

// allFound says every reference exists with the kind its node has.
func allFound(in *wf.Input) Facts {
	f := Facts{Resources: map[resource.Ref]Fact{}}
	for _, n := range in.Graph.Nodes {
		f.Resources[n.Resource] = Fact{Found: true, Kind: n.Kind}
	}
	return f
}

func TestValidGraph(t *testing.T) {
	in := valid()
	v := Validate(&in, allFound(&in))
	if !v.Valid || len(v.Problems) != 0 || v.Problems == nil {
		t.Fatalf("valid graph: %+v", v)
	}
}

func TestProblems(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(in *wf.Input)
		facts  func(in *wf.Input) Facts
		want   []wf.Problem // code, node, link, field; message must contain Message
	}{
		{"empty name", func(in *wf.Input) { in.Name = "  " }, nil,
			[]wf.Problem{{Code: wf.ProblemInvalidField, Field: "name", Message: "give the workflow a name"}}},
		{"long name", func(in *wf.Input) { in.Name = strings.Repeat("é", 201) }, nil,
			[]wf.Problem{{Code: wf.ProblemInvalidField, Field: "name", Message: "at most 200"}}},
		{"bad tag", func(in *wf.Input) { in.Tags = []string{"ok", "Not OK"} }, nil,
			[]wf.Problem{{Code: wf.ProblemInvalidField, Field: "tags[1]", Message: "a-z"}}},
		{"cycle", func(in *wf.Input) {
			in.Graph.Links = append(in.Graph.Links, link("back", wf.LinkDependency, "p2", "p1"))
		}, nil, []wf.Problem{{Code: wf.ProblemCycle, Node: "p1", Link: "back", Field: "graph.links[6]", Path: []string{"p1", "p2", "p1"}, Message: `"p1" → "p2" → "p1"`}}},
		{"no compute", func(in *wf.Input) { in.Graph.Links = slices.Delete(in.Graph.Links, 3, 4) }, nil,
			[]wf.Problem{{Code: wf.ProblemNoCompute, Node: "p2", Field: "graph.nodes[2]", Message: "add one compute link"}}},
		{"two computes", func(in *wf.Input) {
			in.Graph.Nodes = append(in.Graph.Nodes, node("k2", resource.KindCompute))
			in.Graph.Links = append(in.Graph.Links, link("l7", wf.LinkCompute, "p1", "k2"))
		}, nil, []wf.Problem{{Code: wf.ProblemSeveralComputes, Node: "p1", Field: "graph.nodes[1]", Message: `2 compute links ("l3", "l7"): keep exactly one`}}},
		{"link not allowed", func(in *wf.Input) {
			in.Graph.Links = append(in.Graph.Links, link("bad", wf.LinkCompute, "tiles", "s3"))
		}, nil, []wf.Problem{{Code: wf.ProblemLinkNotAllowed, Link: "bad", Field: "graph.links[6].kind",
			Message: `a compute link goes from a processing to a compute; this one goes from data "tiles" to storage "s3"`}}},
		{"link wrong target", func(in *wf.Input) {
			in.Graph.Links = append(in.Graph.Links, link("bad", wf.LinkData, "tiles", "s3"))
		}, nil, []wf.Problem{{Code: wf.ProblemLinkNotAllowed, Link: "bad", Field: "graph.links[6].to", Message: "a data link goes from a data to a processing"}}},
		{"storage link without paths", func(in *wf.Input) { in.Graph.Links[4].Source, in.Graph.Links[5].Destination = "", "" }, nil,
			[]wf.Problem{
				{Code: wf.ProblemMissingPath, Link: "l5", Field: "graph.links[4].source", Message: "give the key or prefix to read in the bucket"},
				{Code: wf.ProblemMissingPath, Link: "l6", Field: "graph.links[5].destination", Message: "give the key or prefix to write in the bucket"},
			}},
		{"path on a data link", func(in *wf.Input) { in.Graph.Links[0].Source = "x" }, nil,
			[]wf.Problem{{Code: wf.ProblemInvalidField, Link: "l1", Field: "graph.links[0].source", Message: "only storage_read and storage_write links carry paths"}}},
		{"path with NUL", func(in *wf.Input) { in.Graph.Links[4].Source = "a\x00b" }, nil,
			[]wf.Problem{{Code: wf.ProblemInvalidField, Link: "l5", Field: "graph.links[4].source", Message: "control characters"}}},
		{"path too long", func(in *wf.Input) { in.Graph.Links[4].Destination = strings.Repeat("a", 1025) }, nil,
			[]wf.Problem{{Code: wf.ProblemInvalidField, Link: "l5", Field: "graph.links[4].destination", Message: "at most 1024"}}},
		{"duplicate node id", func(in *wf.Input) { in.Graph.Nodes = append(in.Graph.Nodes, node("p1", resource.KindCompute)) }, nil,
			[]wf.Problem{{Code: wf.ProblemDuplicateID, Node: "p1", Field: "graph.nodes[5].id", Message: "used by graph.nodes[1] and graph.nodes[5]"}}},
		{"duplicate link id", func(in *wf.Input) { in.Graph.Links[5].ID = "l1" }, nil,
			[]wf.Problem{{Code: wf.ProblemDuplicateID, Link: "l1", Field: "graph.links[5].id", Message: "used by graph.links[0] and graph.links[5]"}}},
		{"duplicate link", func(in *wf.Input) { in.Graph.Links = append(in.Graph.Links, link("l9", wf.LinkData, "tiles", "p1")) }, nil,
			[]wf.Problem{{Code: wf.ProblemDuplicateLink, Link: "l9", Field: "graph.links[6]", Message: "graph.links[0] and graph.links[6] are both data links"}}},
		{"dangling", func(in *wf.Input) { in.Graph.Links[0].From = "ghost" }, nil,
			[]wf.Problem{{Code: wf.ProblemDanglingLink, Link: "l1", Field: "graph.links[0].from", Message: `starts at "ghost", which is not a node`}}},
		{"self loop", func(in *wf.Input) { in.Graph.Links[1].To = "p1" }, nil,
			[]wf.Problem{{Code: wf.ProblemSelfLoop, Link: "l2", Node: "p1", Field: "graph.links[1].to", Message: "to itself"}}},
		{"workflow node", func(in *wf.Input) { in.Graph.Nodes[0].Kind = resource.KindWorkflow }, nil,
			[]wf.Problem{{Code: wf.ProblemInvalidField, Node: "tiles", Field: "graph.nodes[0].kind", Message: "a workflow cannot be a node"}}},
		{"bad ids", func(in *wf.Input) {
			in.Graph.Nodes = append(in.Graph.Nodes, wf.Node{ID: strings.Repeat("x", 65), Kind: resource.KindData, Resource: ref("d")},
				wf.Node{ID: "", Kind: "nope", Resource: resource.Ref{Peer: "a/b"}, Position: wf.Position{X: math.NaN()}})
		}, nil, []wf.Problem{
			{Code: wf.ProblemInvalidField, Field: "graph.nodes[5].id", Message: "not 1 to 64 characters"},
			{Code: wf.ProblemInvalidField, Field: "graph.nodes[6].id", Message: "give the node an id"},
			{Code: wf.ProblemInvalidField, Field: "graph.nodes[6].kind", Message: "use data, processing, storage or compute"},
			{Code: wf.ProblemInvalidField, Field: "graph.nodes[6].position", Message: "finite"},
			{Code: wf.ProblemInvalidField, Field: "graph.nodes[6].resource.id", Message: "give the id of the resource"},
			{Code: wf.ProblemInvalidField, Field: "graph.nodes[6].resource.peer", Message: "owning peer"},
		}},
		{"unknown link kind", func(in *wf.Input) { in.Graph.Links[0].Kind = "pipe" }, nil,
			[]wf.Problem{{Code: wf.ProblemInvalidField, Link: "l1", Field: "graph.links[0].kind", Message: "use data, dependency"}}},
		{"missing resource", func(in *wf.Input) {}, func(in *wf.Input) Facts {
			f := allFound(in)
			f.Resources[ref("r-data")] = Fact{}
			return f
		}, []wf.Problem{{Code: wf.ProblemResourceNotFound, Node: "tiles", Field: "graph.nodes[0].resource.id", Message: "does not exist or you may not see it"}}},
		{"kind mismatch", func(in *wf.Input) {}, func(in *wf.Input) Facts {
			f := allFound(in)
			f.Resources[ref("r-storage")] = Fact{Found: true, Kind: resource.KindData}
			return f
		}, []wf.Problem{{Code: wf.ProblemKindMismatch, Node: "s3", Field: "graph.nodes[4].kind", Message: `is a storage but resource "local/r-storage" is a data`}}},
		{"rule broken", func(in *wf.Input) {}, func(in *wf.Input) Facts {
			f := allFound(in)
			f.Violations = []workspace.Violation{{AreaID: "a1", AreaName: "Consortium", RuleID: "r1", RuleKind: workspace.RuleOpenSource,
				Resource: ref("r-processing"), Message: "not open source"}}
			return f
		}, []wf.Problem{
			{Code: wf.ProblemRuleBroken, Node: "p1", Area: "a1", Rule: "r1", Field: "graph.nodes[1].resource", Message: `collaborative area "Consortium": not open source`},
			{Code: wf.ProblemRuleBroken, Node: "p2", Area: "a1", Rule: "r1", Field: "graph.nodes[2].resource", Message: "open_source_processings"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := valid()
			tc.change(&in)
			Normalize(&in, peer)
			facts := allFound(&in)
			if tc.facts != nil {
				facts = tc.facts(&in)
			}
			v := Validate(&in, facts)
			if v.Valid {
				t.Fatal("valid, want problems")
			}
			if len(v.Problems) != len(tc.want) {
				t.Fatalf("%d problems, want %d: %+v", len(v.Problems), len(tc.want), v.Problems)
			}
			for i, w := range tc.want {
				g := v.Problems[i]
				if g.Code != w.Code || g.Node != w.Node || g.Link != w.Link || g.Field != w.Field || g.Area != w.Area || g.Rule != w.Rule ||
					!strings.Contains(g.Message, w.Message) || (w.Path != nil && !slices.Equal(g.Path, w.Path)) {
					t.Errorf("problem %d = %+v\nwant %+v", i, g, w)
				}
			}
		})
	}
}

func TestRemoteIsAWarning(t *testing.T) {
	in := valid()
	in.Graph.Nodes[0].Resource.Peer = "partner"
	facts := allFound(&in)
	facts.Resources[in.Graph.Nodes[0].Resource] = Fact{Unavailable: "peer \"partner\" is not reachable"}
	v := Validate(&in, facts)
	if !v.Valid || len(v.Warnings) != 1 || v.Warnings[0].Code != wf.ProblemUnavailable || v.Warnings[0].Node != "tiles" {
		t.Fatalf("got %+v", v)
	}
}

// TestCyclesThroughSeveralComponents: two distinct loops, one reported
// each, plus a loop of three.
func TestCyclesThroughSeveralComponents(t *testing.T) {
	in := wf.Input{Name: "loops"}
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		in.Graph.Nodes = append(in.Graph.Nodes, node(id, resource.KindProcessing))
		in.Graph.Links = append(in.Graph.Links, link("c-"+id, wf.LinkCompute, id, "k"))
	}
	in.Graph.Nodes = append(in.Graph.Nodes, node("k", resource.KindCompute))
	for i, e := range [][2]string{{"a", "b"}, {"b", "a"}, {"b", "c"}, {"c", "d"}, {"d", "e"}, {"e", "c"}, {"f", "g"}, {"d", "c"}} {
		in.Graph.Links = append(in.Graph.Links, link(fmt.Sprintf("d%d", i), wf.LinkDependency, e[0], e[1]))
	}
	v := Validate(&in, allFound(&in))
	var paths [][]string
	for _, p := range v.Problems {
		if p.Code != wf.ProblemCycle {
			t.Errorf("unexpected %+v", p)
		}
		paths = append(paths, p.Path)
	}
	want := [][]string{{"a", "b", "a"}, {"c", "d", "c"}}
	if !reflect.DeepEqual(paths, want) {
		t.Errorf("cycles %v, want %v", paths, want)
	}
}

// chain is n processings in one dependency chain on one compute.
func chain(n int) wf.Input {
	in := wf.Input{Name: "chain"}
	in.Graph.Nodes = append(in.Graph.Nodes, node("k", resource.KindCompute))
	for i := range n {
		id := fmt.Sprintf("p%d", i)
		in.Graph.Nodes = append(in.Graph.Nodes, node(id, resource.KindProcessing))
		in.Graph.Links = append(in.Graph.Links, link("c"+id, wf.LinkCompute, id, "k"))
		if i > 0 {
			in.Graph.Links = append(in.Graph.Links, link("d"+id, wf.LinkDependency, fmt.Sprintf("p%d", i-1), id))
		}
	}
	return in
}

func TestLongChains(t *testing.T) {
	in := chain(wf.MaxNodes - 1)
	start := time.Now()
	if v := Validate(&in, allFound(&in)); !v.Valid {
		t.Fatalf("chain: %+v", v.Problems[:1])
	}
	// Closing the chain makes one loop of every node: found without recursion.
	in.Graph.Links = append(in.Graph.Links, link("back", wf.LinkDependency, fmt.Sprintf("p%d", wf.MaxNodes-2), "p0"))
	v := Validate(&in, allFound(&in))
	if len(v.Problems) != 1 || v.Problems[0].Code != wf.ProblemCycle || len(v.Problems[0].Path) != wf.MaxNodes {
		t.Fatalf("closed chain: %d problems", len(v.Problems))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("two 10,000-node validations took %v", d)
	}
}

func TestTooLarge(t *testing.T) {
	in := chain(wf.MaxNodes)
	in.Name = ""
	in.Graph.Nodes[3].ID = "" // not reported: deeper checks stop
	v := Validate(&in, Facts{})
	if len(v.Problems) != 2 || v.Problems[0].Field != "graph.nodes" || v.Problems[0].Code != wf.ProblemTooLarge || v.Problems[1].Field != "name" {
		t.Fatalf("got %+v", v.Problems)
	}
}

func TestSortIsNatural(t *testing.T) {
	ps := []wf.Problem{{Field: "graph.nodes[10].id"}, {Field: "graph.nodes[9].kind"}, {Field: "graph.links[2]"}, {Field: "name"}, {Field: "graph.nodes[9].id"}}
	SortProblems(ps)
	var got []string
	for _, p := range ps {
		got = append(got, p.Field)
	}
	want := []string{"graph.links[2]", "graph.nodes[9].id", "graph.nodes[9].kind", "graph.nodes[10].id", "name"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}
