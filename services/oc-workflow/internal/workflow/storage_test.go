package workflow

import (
	"strings"
	"testing"

	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"
)

// storageGraph is w → r on one compute, w writing and r reading the
// storage s3, with the links given.
func storageGraph(links ...wf.Link) wf.Input {
	in := wf.Input{Name: "paths", Graph: wf.Graph{
		Nodes: []wf.Node{node("w", resource.KindProcessing), node("r", resource.KindProcessing),
			node("k8s", resource.KindCompute), node("s3", resource.KindStorage)},
		Links: []wf.Link{link("cw", wf.LinkCompute, "w", "k8s"), link("cr", wf.LinkCompute, "r", "k8s"),
			link("dep", wf.LinkDependency, "w", "r")},
	}}
	in.Graph.Links = append(in.Graph.Links, links...)
	return in
}

func write(id, source, destination string) wf.Link {
	return wf.Link{ID: id, Kind: wf.LinkStorageWrite, From: "w", To: "s3", Source: source, Destination: destination}
}

func read(id, source, destination string) wf.Link {
	return wf.Link{ID: id, Kind: wf.LinkStorageRead, From: "s3", To: "r", Source: source, Destination: destination}
}

// TestStoragePaths: what a user would write, and what validation answers.
// Each problem names the link, the field, and says what to change.
func TestStoragePaths(t *testing.T) {
	type want struct{ code, link, field, says string }
	for _, tc := range []struct {
		name  string
		links []wf.Link
		edit  func(in *wf.Input)
		probs []want
		warns []want
	}{
		{name: "a file to a prefix, read back by its key", links: []wf.Link{write("a", "/out/x.txt", "x/"), read("b", "x/x.txt", "/in/x.txt")}},
		{name: "a prefix read into a directory", links: []wf.Link{write("a", "/out/tiles/", "tiles/"), read("b", "tiles/", "/in/tiles/")}},
		{name: "a key read into a directory", links: []wf.Link{read("b", "x/x.txt", "/in/")}},
		{name: "empty bucket key", links: []wf.Link{write("a", "/out/x.txt", "")},
			probs: []want{{wf.ProblemMissingPath, "a", "graph.links[3].destination", "give the key or prefix to write in the bucket"}}},
		{name: "absolute bucket key", links: []wf.Link{write("a", "/out/x.txt", "/results/x.txt")},
			probs: []want{{wf.ProblemInvalidPath, "a", "graph.links[3].destination", `keys are relative to the bucket: remove the leading / ("results/x.txt")`}}},
		{name: "bucket key with ..", links: []wf.Link{read("b", "results/../x.txt", "/in/x.txt")},
			probs: []want{{wf.ProblemInvalidPath, "b", "graph.links[3].source", `".." segment`}}},
		{name: "bucket key with //", links: []wf.Link{read("b", "results//x.txt", "/in/x.txt")},
			probs: []want{{wf.ProblemInvalidPath, "b", "graph.links[3].source", "empty segment"}}},
		{name: "relative container path", links: []wf.Link{write("a", "out/x.txt", "x/")},
			probs: []want{{wf.ProblemInvalidPath, "a", "graph.links[3].source", "not an absolute path in the container: start it with /"}}},
		{name: "container path with ..", links: []wf.Link{read("b", "x/x.txt", "/in/../etc/x")},
			probs: []want{{wf.ProblemInvalidPath, "b", "graph.links[3].destination", `use "/etc/x"`}}},
		{name: "container root", links: []wf.Link{read("b", "x/", "/")},
			probs: []want{{wf.ProblemInvalidPath, "b", "graph.links[3].destination", "the container's root"}}},
		{name: "a directory's contents to a single key", links: []wf.Link{write("a", "/out/tiles/", "results/tiles")},
			probs: []want{{wf.ProblemPathMismatch, "a", "graph.links[3].destination", `end the destination with / ("results/tiles/")`}}},
		{name: "two writes of one key", links: []wf.Link{write("a", "/out/x.txt", "x/"), write("a2", "/tmp/x.txt", "x/x.txt")},
			probs: []want{{wf.ProblemWriteConflict, "a2", "graph.links[4].destination", `stores "x/x.txt", as link "a" does`}}},
		{name: "reads as one object what is written under a prefix", links: []wf.Link{write("a", "/out/x.txt", "x/"), read("b", "x", "/in/x.txt")},
			probs: []want{{wf.ProblemReadMismatch, "b", "graph.links[4].source", `read the prefix "x/" into a directory ("/in/x.txt/"), or one of its objects ("x/x.txt")`}}},
		{name: "two reads one inside the other", links: []wf.Link{read("b", "tiles/", "/in/"), read("b2", "x/x.txt", "/in/x.txt")},
			probs: []want{{wf.ProblemPathConflict, "b2", "graph.links[4].destination", `inside "/in"`}}},
		{name: "two reads at one path", links: []wf.Link{read("b", "x/x.txt", "/in/"), read("b2", "y/x.txt", "/in/x.txt")},
			probs: []want{{wf.ProblemPathConflict, "b2", "graph.links[4].destination", "at the same path"}}},
		{name: "reads what another writes without waiting for it", links: []wf.Link{write("a", "/out/x.txt", "x/"), read("b", "x/x.txt", "/in/x.txt")},
			edit:  func(in *wf.Input) { in.Graph.Links = append(in.Graph.Links[:2], in.Graph.Links[3:]...) },
			warns: []want{{wf.ProblemUnorderedRead, "b", "graph.links[3].source", `add a dependency link from processing "w" to processing "r"`}}},
		{name: "reads a prefix another writes under without waiting", links: []wf.Link{write("a", "/out/x.txt", "x/"), read("b", "x/", "/in/x/")},
			edit:  func(in *wf.Input) { in.Graph.Links = append(in.Graph.Links[:2], in.Graph.Links[3:]...) },
			warns: []want{{wf.ProblemUnorderedRead, "b", "graph.links[3].source", "does not wait for it"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := storageGraph(tc.links...)
			if tc.edit != nil {
				tc.edit(&in)
			}
			Normalize(&in, peer)
			v := Validate(&in, allFound(&in))
			check := func(what string, got []wf.Problem, want []want) {
				if len(got) != len(want) {
					t.Fatalf("%d %s, want %d: %+v", len(got), what, len(want), got)
				}
				for i, w := range want {
					g := got[i]
					if g.Code != w.code || g.Link != w.link || g.Field != w.field || !strings.Contains(g.Message, w.says) {
						t.Errorf("%s %d = %+v\nwant %+v", what, i, g, w)
					}
				}
			}
			check("problems", v.Problems, tc.probs)
			check("warnings", v.Warnings, tc.warns)
			if v.Valid != (len(tc.probs) == 0) {
				t.Errorf("valid = %v", v.Valid)
			}
		})
	}
}
