package resolve

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/resource"
)

type fakeCatalog struct {
	calls [][]string
	down  bool
}

func (f *fakeCatalog) Lookup(_ context.Context, ids []string) (resource.LookupResult, error) {
	f.calls = append(f.calls, ids)
	if f.down {
		return resource.LookupResult{}, &apierror.Error{Status: 503, Code: "unavailable"}
	}
	var res resource.LookupResult
	for _, id := range ids {
		if strings.HasPrefix(id, "gone") {
			res.Missing = append(res.Missing, id)
		} else {
			res.Items = append(res.Items, resource.Resource{ID: id, Name: "n-" + id})
		}
	}
	return res, nil
}

func TestCatalogResolve(t *testing.T) {
	fc := &fakeCatalog{}
	c := &Catalog{PeerID: "local", Client: func(string) Lookuper { return fc }}
	var refs []resource.Ref
	for i := range resource.MaxLookup + 1 {
		refs = append(refs, resource.Ref{Peer: "local", ID: fmt.Sprint("r", i)})
	}
	refs = append(refs, resource.Ref{Peer: "local", ID: "gone"}, resource.Ref{Peer: "far", ID: "x"}, resource.Ref{Peer: "local", ID: "r0"})
	out := c.Resolve(context.Background(), "tok", refs)
	if len(fc.calls) != 2 || len(fc.calls[0]) != resource.MaxLookup || len(fc.calls[1]) != 2 {
		t.Errorf("lookups of %d and %d ids", len(fc.calls[0]), len(fc.calls[1]))
	}
	if len(out) != len(refs) || out[0].Resource == nil || out[len(out)-1].Resource == nil || out[len(out)-1].Ref != refs[len(refs)-1] {
		t.Fatalf("results = %d, first %+v, last %+v", len(out), out[0], out[len(out)-1])
	}
	if r := out[len(out)-3]; r.Resource != nil || r.Reason != ReasonMissing {
		t.Errorf("gone = %+v", r)
	}
	if r := out[len(out)-2]; r.Resource != nil || !strings.Contains(r.Reason, "federation") || !strings.Contains(r.Reason, `"far"`) {
		t.Errorf("remote = %+v", r)
	}
	fc.down = true
	out = c.Resolve(context.Background(), "tok", refs[:1])
	if out[0].Resource != nil || !strings.Contains(out[0].Reason, "503") {
		t.Errorf("catalog down = %+v", out[0])
	}
}
