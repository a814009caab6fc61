package service_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/authn/authntest"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/testenv"

	"github.com/opencloud/opencloud/services/oc-peer/service"
)

// node is one oc-peer on its own store, served on a loopback port that is
// also its public URL.
type node struct {
	svc   *service.Service
	base  string
	admin string
	user  string
}

func startNode(t *testing.T, name string) *node {
	t.Helper()
	in := newInfra(t)
	iss := authntest.New(t)
	in.d.Verifier = iss.Verifier(in.ctx)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in.d.Name, in.d.PublicURL = name, "http://"+ln.Addr().String()
	svc, err := service.New(in.ctx, in.d)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(svc.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	admin := authntest.User("root")
	admin.Roles, admin.Username = []string{authn.RoleAdmin}, "root"
	user := authntest.User("alice", "lab")
	user.Username = "alice"
	return &node{svc: svc, base: in.d.PublicURL, admin: iss.Token(admin), user: iss.Token(user)}
}

func (n *node) peer(t *testing.T, id string) federation.Peer {
	t.Helper()
	r := testenv.Do(t, http.MethodGet, n.base+"/peer/peers/"+id, n.admin, "")
	if r.Status != http.StatusOK {
		t.Fatalf("GET peer %s: %d %s", id, r.Status, r.Body)
	}
	var p federation.Peer
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// Two administrators partner their peers: A adds B by URL (B's key is
// pinned, its fingerprint shown), A accepts (B sees an invitation), B
// accepts (both are partners). Blocking refuses B's relayed calls at A.
func TestPartnership(t *testing.T) {
	a, b := startNode(t, "lab-a"), startNode(t, "lab-b")
	r := testenv.Do(t, http.MethodPost, a.base+"/peer/peers", a.user, `{"url":"`+b.base+`"}`)
	if r.Status != http.StatusForbidden {
		t.Fatalf("a user adds a peer: %d %s", r.Status, r.Body)
	}
	r = testenv.Do(t, http.MethodPost, a.base+"/peer/peers", a.admin, `{"url":"`+b.base+`","groups":["eu"]}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("add: %d %s", r.Status, r.Body)
	}
	var added federation.Peer
	if err := json.Unmarshal(r.Body, &added); err != nil {
		t.Fatal(err)
	}
	bSelf, resp := self(t, b.base)
	if added.ID != string(b.svc.PeerID()) || added.Relation != federation.Known || added.Name != "lab-b" ||
		added.Fingerprint != resp.Header.Get("X-OC-Key-Fingerprint") || bSelf.ID != b.svc.PeerID() {
		t.Fatalf("added %+v", added)
	}
	if r := testenv.Do(t, http.MethodPost, a.base+"/peer/peers", a.admin, `{"url":"`+a.base+`"}`); r.Status != http.StatusBadRequest {
		t.Errorf("adding itself: %d %s", r.Status, r.Body)
	}
	if r := testenv.Do(t, http.MethodPost, a.base+"/peer/peers", a.admin, `{"url":"ftp://x"}`); r.Status != http.StatusBadRequest {
		t.Errorf("a bad URL: %d %s", r.Status, r.Body)
	}

	aID, bID := string(a.svc.PeerID()), string(b.svc.PeerID())
	if r := testenv.Do(t, http.MethodPost, a.base+"/peer/peers/"+bID+"/accept", a.admin, ""); r.Status != http.StatusOK {
		t.Fatalf("accept at a: %d %s", r.Status, r.Body)
	}
	if p := a.peer(t, bID); p.Relation != federation.Requested || p.Pending != "" {
		t.Fatalf("at a after accepting: %s pending %q", p.Relation, p.Pending)
	}
	if p := b.peer(t, aID); p.Relation != federation.Invited {
		t.Fatalf("at b after a accepted: %s", p.Relation)
	}
	if r := testenv.Do(t, http.MethodPost, b.base+"/peer/peers/"+aID+"/accept", b.admin, ""); r.Status != http.StatusOK {
		t.Fatalf("accept at b: %d %s", r.Status, r.Body)
	}
	if pa, pb := a.peer(t, bID), b.peer(t, aID); pa.Relation != federation.Partner || pb.Relation != federation.Partner {
		t.Fatalf("after both accepted: a sees %s, b sees %s", pa.Relation, pb.Relation)
	}

	// The relay: a's user calls b, signed by a.
	r = testenv.Do(t, http.MethodGet, a.base+"/peer/relay/"+bID+"/peer/peers", a.user, "")
	if r.Status != http.StatusForbidden || r.Header.Get("X-OC-Peer") != bID {
		t.Errorf("relayed call to a route not open to peers: %d %s", r.Status, r.Body)
	}
	r = testenv.Do(t, http.MethodPost, b.base+"/peer/peers/"+aID+"/block", b.admin, "")
	if r.Status != http.StatusOK {
		t.Fatalf("block: %d %s", r.Status, r.Body)
	}
	// A partnership message of a blocked peer is refused: a removes b,
	// adds it again and asks; b refuses, so the request stays pending.
	if r := testenv.Do(t, http.MethodDelete, a.base+"/peer/peers/"+bID, a.admin, ""); r.Status != http.StatusNoContent {
		t.Fatalf("remove: %d %s", r.Status, r.Body)
	}
	if r := testenv.Do(t, http.MethodGet, a.base+"/peer/peers/"+bID, a.admin, ""); r.Status != http.StatusNotFound {
		t.Fatalf("a removed peer: %d %s", r.Status, r.Body)
	}
	if r := testenv.Do(t, http.MethodPost, a.base+"/peer/peers", a.admin, `{"url":"`+b.base+`"}`); r.Status != http.StatusCreated {
		t.Fatalf("add again: %d %s", r.Status, r.Body)
	}
	if r := testenv.Do(t, http.MethodPost, a.base+"/peer/peers/"+bID+"/accept", a.admin, ""); r.Status != http.StatusOK {
		t.Fatalf("accept again: %d %s", r.Status, r.Body)
	}
	if p := a.peer(t, bID); p.Relation != federation.Requested || p.Pending != "request" {
		t.Errorf("a's request to the peer that blocks it: %s pending %q, want requested pending request", p.Relation, p.Pending)
	}
	if p := b.peer(t, aID); p.Relation != federation.Blocked {
		t.Fatalf("blocked peer at b: %s", p.Relation)
	}
}
