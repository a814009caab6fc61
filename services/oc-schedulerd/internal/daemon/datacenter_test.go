package daemon

import (
	"slices"
	"testing"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"
)

// TestStorages: the storages an execution prepares credentials for are
// those its processings read or write, each once, in link order.
func TestStorages(t *testing.T) {
	ref := func(id string) resource.Ref { return resource.Ref{Peer: "local", ID: id} }
	e := execution.Execution{Graph: wf.Graph{
		Nodes: []wf.Node{
			{ID: "p", Kind: resource.KindProcessing, Resource: ref("proc")},
			{ID: "in", Kind: resource.KindStorage, Resource: ref("bucket-in")},
			{ID: "out", Kind: resource.KindStorage, Resource: ref("bucket-out")},
			{ID: "unused", Kind: resource.KindStorage, Resource: ref("bucket-unused")},
			{ID: "d", Kind: resource.KindData, Resource: ref("tiles")},
		},
		Links: []wf.Link{
			{ID: "1", Kind: wf.LinkData, From: "d", To: "p"},
			{ID: "2", Kind: wf.LinkStorageWrite, From: "p", To: "out"},
			{ID: "3", Kind: wf.LinkStorageRead, From: "in", To: "p"},
			{ID: "4", Kind: wf.LinkStorageRead, From: "out", To: "p"},
		},
	}}
	if got, want := storages(e), []resource.Ref{ref("bucket-out"), ref("bucket-in")}; !slices.Equal(got, want) {
		t.Fatalf("storages %v, want %v", got, want)
	}
	if got := storages(execution.Execution{}); len(got) != 0 {
		t.Fatalf("no graph: %v", got)
	}
}
