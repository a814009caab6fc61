package workflow

import (
	"context"
	"fmt"
	"testing"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/resource"
)

// fakeCatalog knows resources whose id starts with "ok-" (as processings)
// and records the size of each lookup.
type fakeCatalog struct {
	Catalog
	batches []int
}

func (f *fakeCatalog) Lookup(_ context.Context, _ authn.Principal, ids []string) (resource.LookupResult, error) {
	f.batches = append(f.batches, len(ids))
	var res resource.LookupResult
	for _, id := range ids {
		if len(id) > 3 && id[:3] == "ok-" {
			res.Items = append(res.Items, resource.Resource{ID: id, Kind: resource.KindProcessing})
		} else {
			res.Missing = append(res.Missing, id)
		}
	}
	return res, nil
}

func TestCatalogResolver(t *testing.T) {
	cat := &fakeCatalog{}
	r := CatalogResolver{Catalog: cat, PeerID: peer}
	var refs []resource.Ref
	for i := range 2500 {
		refs = append(refs, ref(fmt.Sprintf("ok-%d", i)))
	}
	refs = append(refs, ref("gone"), resource.Ref{Peer: "partner", ID: "ok-1"})
	facts, err := r.Resolve(context.Background(), authn.Principal{}, refs)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(cat.batches) != "[1000 1000 501]" {
		t.Errorf("batches %v", cat.batches)
	}
	if f := facts[ref("ok-7")]; !f.Found || f.Kind != resource.KindProcessing {
		t.Errorf("ok-7: %+v", f)
	}
	if f := facts[ref("gone")]; f.Found || f.Unavailable != "" {
		t.Errorf("gone: %+v", f)
	}
	if f := facts[resource.Ref{Peer: "partner", ID: "ok-1"}]; f.Unavailable == "" || len(facts) != len(refs) {
		t.Errorf("remote: %+v (%d facts)", f, len(facts))
	}
}
