package federation_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/federation/federationtest"
	"github.com/opencloud/opencloud/libs/resource"
)

func TestLookupThroughRelay(t *testing.T) {
	id := federationtest.PeerID
	partner, liar := id("partner"), id("liar")
	var held []resource.Resource
	for i := range resource.MaxLookup + 1 {
		held = append(held, resource.Resource{ID: fmt.Sprint("r", i), Kind: resource.KindData, PeerID: partner})
	}
	relay := federationtest.NewRelay(t, map[string]federationtest.Peer{
		partner:        {Handler: federationtest.Catalog(held...)},
		liar:           {Handler: federationtest.Catalog(resource.Resource{ID: "x", Kind: resource.KindProcessing, PeerID: partner})},
		id("blocked"):  {Blocked: true},
		id("offline"):  {Offline: true},
		id("slow"):     {Delay: time.Minute},
		id("stalled"):  {Stall: true},
		id("refusing"): {Handler: federationtest.Refusing(http.StatusUnauthorized)},
		id("barring"):  {Handler: federationtest.Refusing(http.StatusForbidden)},
		id("old"):      {Handler: http.NotFoundHandler()},
		id("garbled"): {Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("<html>hello</html>"))
		})},
	})
	var refs []resource.Ref
	for i := range resource.MaxLookup + 1 {
		refs = append(refs, resource.Ref{Peer: partner, ID: fmt.Sprint("r", i)})
	}
	refs = append(refs, resource.Ref{Peer: partner, ID: "gone"}, resource.Ref{Peer: partner, ID: "r0"}, resource.Ref{Peer: liar, ID: "x"})
	for _, name := range []string{"stranger", "blocked", "offline", "slow", "stalled", "refusing", "barring", "old", "garbled"} {
		refs = append(refs, resource.Ref{Peer: id(name), ID: "x"})
	}
	refs = append(refs, resource.Ref{Peer: "not-a-peer-id", ID: "x"})

	const deadline = time.Second
	l := &federation.Lookups{Gateway: relay.URL, Deadline: deadline}
	start := time.Now()
	got := l.Lookup(context.Background(), "tok", refs)
	if took := time.Since(start); took > deadline+time.Second {
		t.Errorf("lookup took %s, deadline %s", took, deadline)
	}
	if len(got) != len(refs)-1 {
		t.Errorf("%d results for %d distinct refs", len(got), len(refs)-1)
	}

	for _, i := range []int{0, resource.MaxLookup} {
		r := got[refs[i]]
		if r.Resource == nil || r.Resource.ID != refs[i].ID || r.Resource.PeerID != partner || r.Missing || r.Reason != "" {
			t.Errorf("%s = %+v", refs[i].ID, r)
		}
	}
	if r := got[resource.Ref{Peer: partner, ID: "gone"}]; r.Resource != nil || !r.Missing || !strings.Contains(r.Reason, "does not exist on peer") {
		t.Errorf("gone = %+v", r)
	}
	if r := got[resource.Ref{Peer: liar, ID: "x"}]; r.Resource == nil || r.Resource.PeerID != liar || r.Resource.Kind != resource.KindProcessing {
		t.Errorf("a peer answering for another = %+v", r)
	}
	for name, want := range map[string]string{
		"stranger": "is not known to this peer: an administrator adds it under Peers",
		"blocked":  "is blocked by this peer's administrators",
		"offline":  "cannot be reached (it may be offline)",
		"slow":     "did not answer within " + deadline.String(),
		"stalled":  "did not answer within " + deadline.String(),
		"refusing": "refused the lookup (401)",
		"barring":  "refused the lookup (403)",
		"old":      "does not offer resource lookups",
		"garbled":  "not a lookup result",
	} {
		r := got[resource.Ref{Peer: id(name), ID: "x"}]
		if r.Resource != nil || r.Missing || !strings.Contains(r.Reason, want) || !strings.Contains(r.Reason, strconv.Quote(id(name))) {
			t.Errorf("%s: %+v, want a reason with %q", name, r, want)
		}
	}
	if r := got[resource.Ref{Peer: "not-a-peer-id", ID: "x"}]; !strings.Contains(r.Reason, "is not known to this peer") {
		t.Errorf("malformed peer id: %+v", r)
	}

	perPeer := map[string]int{}
	for _, c := range relay.Calls() {
		perPeer[c.Peer]++
		ms, err := strconv.Atoi(c.Timeout)
		if c.Method != http.MethodPost || c.Path != "/catalog/resources/lookup" || c.Authorization != "Bearer tok" ||
			err != nil || ms < 1 || ms > int(deadline.Milliseconds()) {
			t.Errorf("relayed call %+v", c)
		}
	}
	if perPeer[partner] != 2 || perPeer[liar] != 1 || perPeer["not-a-peer-id"] != 0 || len(perPeer) != 11 {
		t.Errorf("calls per peer: %v", perPeer)
	}
}

func TestLookupDefaultDeadline(t *testing.T) {
	relay := federationtest.NewRelay(t, nil)
	l := &federation.Lookups{Gateway: relay.URL}
	got := l.Lookup(context.Background(), "tok", []resource.Ref{{Peer: federationtest.PeerID("p"), ID: "x"}})
	if len(got) != 1 || len(relay.Calls()) != 1 {
		t.Fatalf("got %+v after %d calls", got, len(relay.Calls()))
	}
	if ms, _ := strconv.Atoi(relay.Calls()[0].Timeout); ms <= 2000 || ms > int(federation.LookupDeadline.Milliseconds()) {
		t.Errorf("timeout header %q, want about %s", relay.Calls()[0].Timeout, federation.LookupDeadline)
	}
}
