package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/federation/federationtest"
	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"
)

// fakeCatalog knows resources whose id starts with "ok-" (as processings)
// and records the size of each lookup; with err set it fails.
type fakeCatalog struct {
	Catalog
	batches []int
	err     error
}

func (f *fakeCatalog) Lookup(_ context.Context, _ authn.Principal, ids []string) (resource.LookupResult, error) {
	f.batches = append(f.batches, len(ids))
	if f.err != nil {
		return resource.LookupResult{}, f.err
	}
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

const remoteDeadline = time.Second

// peers are the other peers the relay of these tests knows: a partner
// holding "tiles" (data, claimed for another peer) and "algo" (data too),
// a blocked, an offline and a stalled one.
func peers(t *testing.T) (*federationtest.Relay, *federation.Lookups) {
	id := federationtest.PeerID
	relay := federationtest.NewRelay(t, map[string]federationtest.Peer{
		id("partner"): {Handler: federationtest.Catalog(
			resource.Resource{ID: "tiles", Kind: resource.KindData, PeerID: id("someone")},
			resource.Resource{ID: "algo", Kind: resource.KindData, PeerID: id("partner")})},
		id("blocked"): {Blocked: true},
		id("offline"): {Offline: true},
		id("stalled"): {Stall: true},
	})
	return relay, &federation.Lookups{Gateway: relay.URL, Deadline: remoteDeadline}
}

func remoteRef(peer, id string) resource.Ref {
	return resource.Ref{Peer: federationtest.PeerID(peer), ID: id}
}

func TestCatalogResolver(t *testing.T) {
	cat := &fakeCatalog{}
	relay, remote := peers(t)
	r := CatalogResolver{Catalog: cat, PeerID: peer, Remote: remote}
	var refs []resource.Ref
	for i := range 2500 {
		refs = append(refs, ref(fmt.Sprintf("ok-%d", i)))
	}
	refs = append(refs, ref("gone"), remoteRef("partner", "tiles"), remoteRef("partner", "nope"), remoteRef("stranger", "x"),
		remoteRef("blocked", "x"), remoteRef("offline", "x"), remoteRef("stalled", "x"), remoteRef("partner", "tiles"))
	start := time.Now()
	facts, err := r.Resolve(context.Background(), authn.Principal{Token: "tok"}, refs)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > remoteDeadline+time.Second {
		t.Errorf("resolved in %s, each peer given %s", took, remoteDeadline)
	}
	if fmt.Sprint(cat.batches) != "[1000 1000 501]" {
		t.Errorf("batches %v", cat.batches)
	}
	if len(facts) != len(refs)-1 {
		t.Errorf("%d facts for %d distinct refs", len(facts), len(refs)-1)
	}
	for _, c := range []struct {
		ref  resource.Ref
		want Fact
	}{
		{ref("ok-7"), Fact{Found: true, Kind: resource.KindProcessing}},
		{ref("gone"), Fact{}},
		{remoteRef("partner", "tiles"), Fact{Found: true, Kind: resource.KindData}},
		{remoteRef("partner", "nope"), Fact{}},
	} {
		if f := facts[c.ref]; f != c.want {
			t.Errorf("%v: %+v, want %+v", c.ref, f, c.want)
		}
	}
	for name, want := range map[string]string{
		"stranger": "is not known to this peer: an administrator adds it under Peers",
		"blocked":  "is blocked",
		"offline":  "cannot be reached",
		"stalled":  "did not answer within 1s",
	} {
		if f := facts[remoteRef(name, "x")]; f.Found || !strings.Contains(f.Unavailable, want) {
			t.Errorf("%s: %+v, want unavailable because %q", name, f, want)
		}
	}
	for _, c := range relay.Calls() {
		if c.Authorization != "Bearer tok" {
			t.Errorf("relayed without the caller's token: %+v", c)
		}
	}
}

// TestRemoteReferencesValidated: a node on another peer's resource is
// checked like a local one (existence, kind) when its peer answers, and
// only warned about when it does not.
func TestRemoteReferencesValidated(t *testing.T) {
	_, remote := peers(t)
	in := valid()
	for i, r := range []resource.Ref{remoteRef("partner", "tiles"), remoteRef("partner", "algo"), remoteRef("partner", "nope"),
		remoteRef("offline", "k8s"), remoteRef("stalled", "s3")} {
		in.Graph.Nodes[i].Resource = r
	}
	st := CheckStructure(&in)
	res, err := CatalogResolver{Catalog: &fakeCatalog{}, PeerID: peer, Remote: remote}.Resolve(context.Background(), authn.Principal{Token: "tok"}, st.Refs)
	if err != nil {
		t.Fatal(err)
	}
	v := Evaluate(&in, st, Facts{Resources: res})
	var got []string
	for _, p := range v.Problems {
		got = append(got, p.Node+":"+p.Code)
	}
	if want := []string{"p1:" + wf.ProblemKindMismatch, "p2:" + wf.ProblemResourceNotFound}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("problems %v, want %v (%+v)", got, want, v.Problems)
	}
	got = nil
	for _, w := range v.Warnings {
		if w.Code == wf.ProblemUnavailable {
			got = append(got, w.Node)
		}
	}
	if fmt.Sprint(got) != "[k8s s3]" || v.Valid {
		t.Errorf("valid %v, unavailable warnings on %v (%+v)", v.Valid, got, v.Warnings)
	}
}

// TestCatalogDownIsAnError: the local catalog failing fails the
// resolution at once, without waiting for the other peers.
func TestCatalogDownIsAnError(t *testing.T) {
	_, remote := peers(t)
	down := errors.New("catalog down")
	r := CatalogResolver{Catalog: &fakeCatalog{err: down}, PeerID: peer, Remote: remote}
	start := time.Now()
	_, err := r.Resolve(context.Background(), authn.Principal{}, []resource.Ref{ref("ok-1"), remoteRef("stalled", "x")})
	if !errors.Is(err, down) || time.Since(start) > remoteDeadline/2 {
		t.Errorf("err %v after %s", err, time.Since(start))
	}
}
