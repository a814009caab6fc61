package resolve

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/federation/federationtest"
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
	id := federationtest.PeerID
	partner := id("partner")
	relay := federationtest.NewRelay(t, map[string]federationtest.Peer{
		// It answers for its resource as if another peer held it.
		partner:        {Handler: federationtest.Catalog(resource.Resource{ID: "p1", Name: "Tiles", PeerID: id("other")})},
		id("blocked"):  {Blocked: true},
		id("offline"):  {Offline: true},
		id("stalled"):  {Stall: true},
		id("refusing"): {Handler: federationtest.Refusing(http.StatusForbidden)},
	})
	const deadline = time.Second
	c := &Catalog{PeerID: "local", Client: func(string) Lookuper { return fc },
		Remote: &federation.Lookups{Gateway: relay.URL, Deadline: deadline}}
	var refs []resource.Ref
	for i := range resource.MaxLookup + 1 {
		refs = append(refs, resource.Ref{Peer: "local", ID: fmt.Sprint("r", i)})
	}
	refs = append(refs, resource.Ref{Peer: "local", ID: "gone"}, resource.Ref{Peer: "local", ID: "r0"},
		resource.Ref{Peer: partner, ID: "p1"}, resource.Ref{Peer: partner, ID: "p2"})
	remote := map[string]string{
		"stranger": "is not known to this peer: an administrator adds it under Peers",
		"blocked":  "is blocked",
		"offline":  "cannot be reached",
		"stalled":  "did not answer within 1s",
		"refusing": "refused the lookup (403)",
	}
	for name := range remote {
		refs = append(refs, resource.Ref{Peer: id(name), ID: "x"})
	}
	refs = append(refs, resource.Ref{Peer: partner, ID: "p1"})

	start := time.Now()
	out := c.Resolve(context.Background(), "tok", refs)
	if took := time.Since(start); took > deadline+time.Second {
		t.Errorf("resolved in %s, each peer given %s", took, deadline)
	}
	if len(fc.calls) != 2 || len(fc.calls[0]) != resource.MaxLookup || len(fc.calls[1]) != 2 {
		t.Errorf("lookups of %d and %d ids", len(fc.calls[0]), len(fc.calls[1]))
	}
	if len(out) != len(refs) {
		t.Fatalf("%d results for %d refs", len(out), len(refs))
	}
	for i, r := range out {
		if r.Ref != refs[i] {
			t.Fatalf("result %d is of %v, asked %v", i, r.Ref, refs[i])
		}
	}
	n := resource.MaxLookup + 1
	if out[0].Resource == nil || out[n+1].Resource == nil || out[n-1].Resource == nil {
		t.Errorf("local = %+v, %+v, %+v", out[0], out[n-1], out[n+1])
	}
	if r := out[n]; r.Resource != nil || r.Reason != ReasonMissing {
		t.Errorf("gone = %+v", r)
	}
	for _, r := range []Result{out[n+2], out[len(out)-1]} {
		if r.Resource == nil || r.Resource.Name != "Tiles" || r.Resource.PeerID != partner || r.Reason != "" {
			t.Errorf("partner's = %+v", r)
		}
	}
	if r := out[n+3]; r.Resource != nil || !strings.Contains(r.Reason, "does not exist on peer") {
		t.Errorf("missing at the partner = %+v", r)
	}
	for _, r := range out[n+4 : len(out)-1] {
		for name, want := range remote {
			if r.Ref.Peer == id(name) && (r.Resource != nil || !strings.Contains(r.Reason, want)) {
				t.Errorf("%s = %+v, want %q", name, r, want)
			}
		}
	}
	for _, call := range relay.Calls() {
		if call.Authorization != "Bearer tok" {
			t.Errorf("relayed without the caller's token: %+v", call)
		}
	}

	fc.down = true
	out = c.Resolve(context.Background(), "tok", refs[:1])
	if out[0].Resource != nil || !strings.Contains(out[0].Reason, "503") {
		t.Errorf("catalog down = %+v", out[0])
	}
}
