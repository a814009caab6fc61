package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/federation"
	"github.com/opencloud/opencloud/libs/peercall"
	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/testenv"
	catalogclient "github.com/opencloud/opencloud/services/oc-catalog/client"
	peerclient "github.com/opencloud/opencloud/services/oc-peer/client"
)

// fedPeer is one peer process of a federation test, with its admin token.
type fedPeer struct {
	*testenv.PeerProc
	token string
	id    string
}

func startFederation(t testing.TB, n int, env ...string) []*fedPeer {
	t.Helper()
	vars := map[string]string{"OC_PEER_HEARTBEAT": "1s"}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	procs := testenv.StartPeers(t, n, testenv.PeerOptions{Name: "lab", Env: vars})
	out := make([]*fedPeer, n)
	for i, p := range procs {
		fp := &fedPeer{PeerProc: p, token: p.AdminToken(t)}
		var self struct {
			ID string `json:"id"`
		}
		fp.decode(t, fp.call(t, http.MethodGet, "/peer/self", "", http.StatusOK), &self)
		fp.id = self.ID
		out[i] = fp
	}
	return out
}

func (p *fedPeer) call(t testing.TB, method, path, body string, want int) testenv.Response {
	t.Helper()
	r := testenv.Do(t, method, p.Base+path, p.token, body)
	if want != 0 && r.Status != want {
		t.Fatalf("%s %s on %s: %d %s, want %d", method, path, p.Name, r.Status, r.Body, want)
	}
	return r
}

func (p *fedPeer) decode(t testing.TB, r testenv.Response, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("%s: %v\n%s", p.Name, err, r.Body)
	}
}

func (p *fedPeer) peer(t testing.TB, id string) federation.Peer {
	t.Helper()
	var fp federation.Peer
	p.decode(t, p.call(t, http.MethodGet, "/peer/peers/"+id, "", http.StatusOK), &fp)
	return fp
}

// partner makes a and b partners through their REST APIs, with oc-peer's
// typed client, as their two administrators do; url is where a reaches b
// (b reaches a at its own URL).
func partner(t testing.TB, a, b *fedPeer, url string) {
	t.Helper()
	ctx := context.Background()
	ca, cb := a.peers(), b.peers()
	doc, _, err := cb.Self(ctx)
	if err != nil {
		t.Fatal(err)
	}
	added, err := ca.Add(ctx, url, nil)
	if err != nil || added.ID != b.id || added.Fingerprint != peerid.Fingerprint(doc.Current().PublicKey) {
		t.Fatalf("%s adds %s: %+v, %v", a.Name, url, added, err)
	}
	if _, err := ca.Accept(ctx, b.id); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Accept(ctx, a.id); err != nil {
		t.Fatal(err)
	}
	for _, side := range []struct{ from, to *fedPeer }{{a, b}, {b, a}} {
		if rel := side.from.peer(t, side.to.id).Relation; rel != federation.Partner {
			t.Fatalf("%s sees %s as %s, want partner", side.from.Name, side.to.Name, rel)
		}
	}
	page, err := ca.List(ctx, peerclient.ListOptions{Relation: federation.Partner})
	if err != nil || !slices.ContainsFunc(page.Items, func(p federation.Peer) bool { return p.ID == b.id }) {
		t.Fatalf("%s's partners: %+v, %v", a.Name, page, err)
	}
}

func (p *fedPeer) peers() *peerclient.Client {
	return peerclient.New(p.Base, apiclient.StaticToken(p.token), nil)
}

func (p *fedPeer) create(t testing.TB, name string, vis resource.Visibility) resource.Resource {
	t.Helper()
	in := resource.Input{Kind: resource.KindData, Name: name, Visibility: vis, Data: &resource.Data{Location: "s3://tiles/" + name}}
	b, _ := json.Marshal(in)
	var r resource.Resource
	p.decode(t, p.call(t, http.MethodPost, "/catalog/resources", string(b), http.StatusCreated), &r)
	return r
}

// searchResult is GET /catalog/search's answer.
type searchResult struct {
	Items   []resource.Resource `json:"items"`
	Total   int64               `json:"total"`
	Partial bool                `json:"partial"`
	Peers   []struct {
		Peer   string  `json:"peer"`
		Name   string  `json:"name"`
		State  string  `json:"state"`
		Total  int64   `json:"total"`
		TookMs float64 `json:"took_ms"`
		Error  string  `json:"error"`
	} `json:"peers"`
}

func (p *fedPeer) search(t testing.TB, query string) (searchResult, time.Duration) {
	t.Helper()
	start := time.Now()
	var res searchResult
	p.decode(t, p.call(t, http.MethodGet, "/catalog/search?"+query, "", http.StatusOK), &res)
	return res, time.Since(start)
}

func (r searchResult) state(peer string) string {
	for _, p := range r.Peers {
		if p.Peer == peer {
			return p.State
		}
	}
	return "absent"
}

func (r searchResult) names() string {
	var out []string
	for _, it := range r.Items {
		out = append(out, it.Name)
	}
	return strings.Join(out, ",")
}

// Three peers as separate processes: partnering needs both administrators;
// a partner sees public and partners-only resources, never private ones,
// and a peer that is only known sees public ones; a search across partners
// answers within its deadline when one partner is stopped and another's
// link is cut, and says so per peer.
func TestFederationCatalogs(t *testing.T) {
	peers := startFederation(t, 3)
	a, b, c := peers[0], peers[1], peers[2]
	// a reaches b through a link the test can cut while both run.
	link := testenv.Link(t, strings.TrimPrefix(b.Base, "http://"))
	partner(t, a, b, link.URL())
	partner(t, a, c, c.Base)

	// Not partners: b and c know each other (their keys pinned), no more.
	b.call(t, http.MethodPost, "/peer/peers", `{"url":"`+c.Base+`"}`, http.StatusCreated)
	c.call(t, http.MethodPost, "/peer/peers", `{"url":"`+b.Base+`"}`, http.StatusCreated)
	for _, p := range peers {
		p.create(t, p.Name+"-public", resource.Public)
		p.create(t, p.Name+"-partners", resource.Partners)
		p.create(t, p.Name+"-private", resource.Private)
	}

	res, _ := a.search(t, "sort=name")
	want := "lab-1-partners,lab-1-private,lab-1-public,lab-2-partners,lab-2-public,lab-3-partners,lab-3-public"
	if got := res.names(); got != want || res.Partial || res.Total != 7 {
		t.Fatalf("a's search: %s (total %d, partial %v), want %s\n%+v", got, res.Total, res.Partial, want, res.Peers)
	}
	for _, it := range res.Items {
		if want := map[byte]string{'1': a.id, '2': b.id, '3': c.id}[it.Name[4]]; it.PeerID != want {
			t.Errorf("%s carries peer %s, want %s", it.Name, it.PeerID, want)
		}
	}
	// b is not c's partner: b's search covers its partner a only; and a
	// call of b to c's catalog (through b's relay) sees c's public
	// resources only.
	res, _ = b.search(t, "")
	if res.state(c.id) != "absent" || res.state(a.id) != "answered" {
		t.Errorf("b's search asked %+v", res.Peers)
	}
	var page resource.Page
	b.decode(t, b.call(t, http.MethodGet, "/peer/relay/"+c.id+"/catalog/resources", "", http.StatusOK), &page)
	if len(page.Items) != 1 || page.Items[0].Name != "lab-3-public" {
		t.Errorf("a known, non-partner peer sees %+v, want lab-3-public only", page.Items)
	}
	// Filters apply on every peer.
	res, _ = a.search(t, "q=partners")
	if got := res.names(); got != "lab-1-partners,lab-2-partners,lab-3-partners" {
		t.Errorf("search q=partners: %s", got)
	}
	typed, err := catalogclient.New(a.Base, catalogclient.StaticToken(a.token), nil).Search(context.Background(),
		catalogclient.SearchOptions{ListOptions: catalogclient.ListOptions{Query: "public"}, Peers: []string{c.id}})
	if err != nil || len(typed.Items) != 1 || typed.Items[0].Name != "lab-3-public" || typed.Peers[0].State != resource.PeerAnswered {
		t.Errorf("the typed client's search of c: %+v, %v", typed, err)
	}
	res, _ = a.search(t, "peer="+b.id+"&limit=1&offset=1")
	if got := res.names(); got != "lab-2-public" || res.Total != 2 || len(res.Peers) != 1 {
		t.Errorf("search of b only, second page: %s total %d peers %+v", got, res.Total, res.Peers)
	}

	// c stops, a's link to b drops its packets: the search still answers,
	// within the deadline, with a's own results and each peer's state.
	c.Stop()
	link.Cut(testenv.Blackhole)
	res, took := a.search(t, "")
	// The deadline is 1 s; without it the blackholed call would wait for
	// the relay's 15 s. The margin is for a loaded machine.
	if took > 5*time.Second {
		t.Errorf("the search took %s with a partner dead and one unreachable; the deadline is 1s", took)
	}
	if !res.Partial || res.state(a.id) != "answered" || res.state(b.id) != "timeout" || res.state(c.id) != "offline" {
		t.Errorf("states %+v partial %v", res.Peers, res.Partial)
	}
	if got := res.names(); got != "lab-1-partners,lab-1-private,lab-1-public" {
		t.Errorf("partial results %s", got)
	}
	link.Restore()
	res, _ = a.search(t, "peer="+b.id)
	if res.Partial || res.state(b.id) != "answered" || len(res.Items) != 2 {
		t.Errorf("after the link is back: %+v %s", res.Peers, res.names())
	}
	// The heartbeats see c offline.
	deadline := time.Now().Add(10 * time.Second)
	for a.peer(t, c.id).Status.Health != federation.Offline {
		if time.Now().After(deadline) {
			t.Fatalf("c still %+v after it stopped", a.peer(t, c.id).Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if s := a.peer(t, b.id).Status; s.Health != federation.Online || s.LastSeen == nil || s.RTTMillis <= 0 {
		t.Errorf("b's health at a: %+v", s)
	}
}

// caller is a peer of the test's own making: a key, and its self document
// served on a loopback port so that a real peer can pin it.
type caller struct {
	key  *peerid.PrivateKey
	base string

	mu       sync.Mutex
	doc      *peerid.SelfDoc
	current  *peerid.PrivateKey
	retireAt time.Time
}

func newCaller(t testing.TB) *caller {
	t.Helper()
	key, err := peerid.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &caller{key: key, current: key, base: "http://" + ln.Addr().String()}
	c.doc = peerid.NewSelfDoc(key, "test-caller", c.base, nil, time.Now().Add(-time.Minute))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		b, err := c.doc.Sign(c.current, time.Now())
		c.mu.Unlock()
		if err != nil || r.URL.Path != "/peer/self" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return c
}

// rotate makes next the caller's current key; the one before retires at
// retireAt.
func (c *caller) rotate(t testing.TB, next *peerid.PrivateKey, retireAt time.Time) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.doc.Rotate(c.current, next, time.Now(), retireAt); err != nil {
		t.Fatal(err)
	}
	c.current, c.retireAt = next, retireAt.Truncate(time.Second)
}

// signed sends a GET signed by the caller, changed by tamper before it
// leaves; it returns the status and the error code.
func (c *caller) signed(t testing.TB, s *peercall.Signer, audience string, url string, tamper func(*http.Request)) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sign(req, peerid.ID(audience), nil); err != nil {
		t.Fatal(err)
	}
	if tamper != nil {
		tamper(req)
	}
	return send(t, req)
}

func send(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
		Items []resource.Resource `json:"items"`
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	_ = json.Unmarshal(buf.Bytes(), &env)
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, fmt.Sprint(len(env.Items))
	}
	return resp.StatusCode, env.Error.Code
}

// Signed calls to a real peer: a known peer's call is served (public
// resources only); forged, replayed, expired, wrongly addressed, unsigned
// calls and a blocked peer's calls are refused with the reason, and a route
// not open to peers refuses even a good call.
func TestSignedCallsRefused(t *testing.T) {
	a := startFederation(t, 1)[0]
	a.create(t, "open", resource.Public)
	a.create(t, "mine", resource.Private)
	c := newCaller(t)
	s := &peercall.Signer{Peer: c.key.PeerID(), Key: c.key}
	url := a.Base + "/catalog/resources"

	if st, code := c.signed(t, s, a.id, url, nil); st != http.StatusUnauthorized || code != "unknown_peer" {
		t.Errorf("an unknown peer: %d %s", st, code)
	}
	a.call(t, http.MethodPost, "/peer/peers", `{"url":"`+c.base+`"}`, http.StatusCreated)
	if st, n := c.signed(t, s, a.id, url, nil); st != http.StatusOK || n != "1" {
		t.Errorf("a known peer's call: %d, %s items, want 200 and the public one only", st, n)
	}
	var replayed *http.Request
	cases := []struct {
		name   string
		signer *peercall.Signer
		aud    string
		url    string
		tamper func(*http.Request)
		status int
		code   string
	}{
		{"forged", s, a.id, url, func(r *http.Request) {
			h := r.Header.Get("Authorization")
			r.Header.Set("Authorization", h[:len(h)-4]+"AAAA")
		}, http.StatusUnauthorized, "bad_signature"},
		{"replayed", s, a.id, url, func(r *http.Request) { replayed = r.Clone(r.Context()) }, http.StatusOK, "1"},
		{"expired", &peercall.Signer{Peer: s.Peer, Key: c.key, Now: func() time.Time { return time.Now().Add(-2 * time.Minute) }},
			a.id, url, nil, http.StatusUnauthorized, "expired"},
		{"wrongly addressed", s, string(c.key.PeerID()), url, nil, http.StatusForbidden, "wrong_audience"},
		{"another URL", s, a.id, url, func(r *http.Request) { r.URL.RawQuery = "visibility=private" }, http.StatusUnauthorized, "wrong_url"},
		{"unsigned", s, a.id, url, func(r *http.Request) { r.Header.Set("Authorization", "OCPeer ") }, http.StatusUnauthorized, "malformed_token"},
		{"not open to peers", s, a.id, a.Base + "/workspace/workspaces", nil, http.StatusForbidden, "forbidden"},
	}
	for _, tc := range cases {
		if st, code := c.signed(t, tc.signer, tc.aud, tc.url, tc.tamper); st != tc.status || code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, st, code, tc.status, tc.code)
		}
	}
	if st, code := send(t, replayed); st != http.StatusUnauthorized || code != "replayed" {
		t.Errorf("the same call again: %d %s, want 401 replayed", st, code)
	}
	a.call(t, http.MethodPost, "/peer/peers/"+string(c.key.PeerID())+"/block", "", http.StatusOK)
	if st, code := c.signed(t, s, a.id, url, nil); st != http.StatusForbidden || code != "blocked" {
		t.Errorf("a blocked peer: %d %s", st, code)
	}
}

// References to a partner's resources resolve through it, with the user's
// identity: in a workspace they are listed with what the partner says, or
// unavailable with the reason; a workflow is validated against them as
// against local ones; when the partner stops, the workspace says so.
func TestFederationRemoteReferences(t *testing.T) {
	peers := startFederation(t, 2)
	a, b := peers[0], peers[1]
	partner(t, a, b, b.Base)
	in := resource.Input{Kind: resource.KindProcessing, Name: "ndvi", Visibility: resource.Partners,
		Processing: &resource.Processing{Image: "busybox:1.36", OpenSource: true}}
	body, _ := json.Marshal(in)
	var ndvi resource.Resource
	b.decode(t, b.call(t, http.MethodPost, "/catalog/resources", string(body), http.StatusCreated), &ndvi)
	secret := b.create(t, "secret", resource.Private)
	stranger, err := peerid.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	var ws struct {
		ID string `json:"id"`
	}
	a.decode(t, a.call(t, http.MethodPost, "/workspace/workspaces", fmt.Sprintf(
		`{"name":"study","resources":[{"peer":%q,"id":%q},{"peer":%q,"id":%q},{"peer":%q,"id":"x"}]}`,
		b.id, ndvi.ID, b.id, secret.ID, stranger.PeerID()), http.StatusCreated), &ws)
	type resolved struct {
		Ref       resource.Ref       `json:"ref"`
		Available bool               `json:"available"`
		Reason    string             `json:"reason"`
		Resource  *resource.Resource `json:"resource"`
	}
	list := func() map[string]resolved {
		var page struct {
			Items []resolved `json:"items"`
		}
		a.decode(t, a.call(t, http.MethodGet, "/workspace/workspaces/"+ws.ID+"/resources", "", http.StatusOK), &page)
		out := map[string]resolved{}
		for _, it := range page.Items {
			out[it.Ref.ID] = it
		}
		return out
	}
	got := list()
	if r := got[ndvi.ID]; !r.Available || r.Resource == nil || r.Resource.Name != "ndvi" || r.Resource.PeerID != b.id {
		t.Errorf("the partner's resource: %+v", r)
	}
	if r := got[secret.ID]; r.Available || !strings.Contains(r.Reason, "does not exist") {
		t.Errorf("the partner's private resource: %+v", r)
	}
	if r := got["x"]; r.Available || !strings.Contains(r.Reason, "not known to this peer") {
		t.Errorf("a stranger's resource: %+v", r)
	}

	graph := fmt.Sprintf(`{"name":"w","graph":{"nodes":[`+
		`{"id":"p","kind":"processing","resource":{"peer":%q,"id":%q},"position":{"x":0,"y":0}},`+
		`{"id":"d","kind":"data","resource":{"peer":%q,"id":%q},"position":{"x":0,"y":0}}],"links":[]}}`,
		b.id, ndvi.ID, b.id, ndvi.ID)
	var v struct {
		Problems []struct {
			Code string `json:"code"`
			Node string `json:"node"`
		} `json:"problems"`
		Warnings []struct {
			Code string `json:"code"`
			Node string `json:"node"`
		} `json:"warnings"`
	}
	a.decode(t, a.call(t, http.MethodPost, "/workflow/workflows/validate", graph, http.StatusOK), &v)
	codes := map[string]string{}
	for _, p := range append(v.Problems, v.Warnings...) {
		if p.Node != "" && (strings.HasPrefix(p.Code, "resource_") || p.Code == "kind_mismatch") {
			codes[p.Node] = p.Code
		}
	}
	if codes["d"] != "kind_mismatch" || codes["p"] != "" {
		t.Errorf("validation against the partner's resource: %+v", v)
	}

	b.Stop()
	if r := list()[ndvi.ID]; r.Available || !strings.Contains(r.Reason, "cannot be reached") {
		t.Errorf("the partner stopped: %+v", r)
	}
}

// A peer rotates its key: its partner picks the new key up with its
// heartbeats (the new key is endorsed by the pinned one), calls signed by
// the new key are served, calls signed by the retired key are served until
// its retirement and refused after, and a restart keeps the new key.
func TestFederationKeyRotation(t *testing.T) {
	peers := startFederation(t, 2)
	a, b := peers[0], peers[1]
	partner(t, a, b, b.Base)
	before := b.peer(t, a.id).Fingerprint
	var rot struct {
		Fingerprint  string `json:"fingerprint"`
		RetiredKeyID string `json:"retired_key_id"`
	}
	a.decode(t, a.call(t, http.MethodPost, "/peer/self/rotate", `{"retire_in":"1h"}`, http.StatusOK), &rot)
	if rot.Fingerprint == before {
		t.Fatal("the rotation kept the key")
	}
	deadline := time.Now().Add(15 * time.Second)
	for b.peer(t, a.id).Fingerprint != rot.Fingerprint {
		if time.Now().After(deadline) {
			t.Fatalf("b still pins %s", b.peer(t, a.id).Fingerprint)
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.create(t, "b-partners", resource.Partners)
	if res, _ := a.search(t, "peer="+b.id); res.state(b.id) != "answered" || len(res.Items) != 1 {
		t.Errorf("a's call signed by its new key: %+v", res.Peers)
	}
	a.Restart(t)
	a.token = a.AdminToken(t)
	doc, _, err := a.peers().Self(context.Background())
	if err != nil || peerid.Fingerprint(doc.Current().PublicKey) != rot.Fingerprint || len(doc.Keys) != 2 || doc.ID != peerid.ID(a.id) {
		t.Fatalf("after a restart: %+v, %v", doc, err)
	}
	if res, _ := a.search(t, "peer="+b.id); res.state(b.id) != "answered" {
		t.Errorf("after a restart: %+v", res.Peers)
	}

	// The verifying side, with a caller of the test's own whose old key
	// retires in three seconds.
	c := newCaller(t)
	a.call(t, http.MethodPost, "/peer/peers", `{"url":"`+c.base+`"}`, http.StatusCreated)
	next, err := peerid.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	c.rotate(t, next, time.Now().Add(3*time.Second))
	deadline = time.Now().Add(15 * time.Second)
	for a.peer(t, string(c.key.PeerID())).Fingerprint != next.Fingerprint() {
		if time.Now().After(deadline) {
			t.Fatal("a did not pick up the caller's new key")
		}
		time.Sleep(200 * time.Millisecond)
	}
	url := a.Base + "/catalog/resources"
	oldSigner := &peercall.Signer{Peer: c.key.PeerID(), Key: c.key}
	newSigner := &peercall.Signer{Peer: c.key.PeerID(), Key: next}
	if st, _ := c.signed(t, oldSigner, a.id, url, nil); st != http.StatusOK {
		t.Errorf("a call signed by the retiring key before its retirement: %d", st)
	}
	if st, _ := c.signed(t, newSigner, a.id, url, nil); st != http.StatusOK {
		t.Errorf("a call signed by the new key: %d", st)
	}
	time.Sleep(time.Until(c.retireAt) + 500*time.Millisecond)
	if st, code := c.signed(t, oldSigner, a.id, url, nil); st != http.StatusUnauthorized || code != "key_expired" {
		t.Errorf("a call signed by the retired key after its retirement: %d %s", st, code)
	}
	if st, _ := c.signed(t, newSigner, a.id, url, nil); st != http.StatusOK {
		t.Errorf("a call signed by the new key, later: %d", st)
	}
}
