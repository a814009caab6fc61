package daemon

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/apierror"

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

// TestWaitingReasons: what oc-datacenter or oc-auth answers becomes a
// reason that says what to fix.
func TestWaitingReasons(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		want   string
		global bool
	}{
		{"no cluster", &apierror.Error{Status: 503, Code: "no_cluster", Message: "x"}, "no Kubernetes cluster is configured", true},
		{"refused identity", &apierror.Error{Status: 403, Code: "forbidden", Message: "admin role needed"}, "OC_SERVICE_CLIENT_SECRET", true},
		{"no token", fmt.Errorf("apiclient: token: %w", &apiclient.TokenError{Status: 401, Code: "invalid_client"}), "could not get its own token from oc-auth (401 invalid_client)", true},
		{"refusal", &apierror.Error{Status: 409, Code: "storage_credentials_missing", Message: "set them"}, "(storage_credentials_missing): set them", false},
		{"unreachable", errors.New("dial tcp: connection refused"), "oc-datacenter is unreachable", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := waiting(tc.err)
			if !strings.Contains(got.Reason, tc.want) {
				t.Fatalf("reason %q, want it to say %q", got.Reason, tc.want)
			}
			if got.Global != tc.global {
				t.Fatalf("global %v, want %v: every execution waits for it, or only this one", got.Global, tc.global)
			}
		})
	}
}
