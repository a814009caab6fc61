package main

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/testenv"
	wire "github.com/opencloud/opencloud/libs/workspace"
)

// mesh partners every pair of peers, each reaching each other through a
// link of its own: links[i][j] carries i's calls to j.
func mesh(t testing.TB, peers []*fedPeer) [][]*testenv.LinkProxy {
	t.Helper()
	links := make([][]*testenv.LinkProxy, len(peers))
	for i := range peers {
		links[i] = make([]*testenv.LinkProxy, len(peers))
		for j := range peers {
			if i != j {
				links[i][j] = testenv.Link(t, strings.TrimPrefix(peers[j].Base, "http://"))
			}
		}
	}
	for i := range peers {
		for j := i + 1; j < len(peers); j++ {
			partner(t, peers[i], peers[j], links[i][j].URL())
			peers[j].call(t, http.MethodPatch, "/peer/peers/"+peers[i].id, `{"url":"`+links[j][i].URL()+`"}`, http.StatusOK)
		}
	}
	return links
}

func (p *fedPeer) area(t testing.TB, id string) (wire.Area, bool) {
	t.Helper()
	r := p.call(t, http.MethodGet, "/workspace/areas/"+id, "", 0)
	if r.Status == http.StatusNotFound {
		return wire.Area{}, false
	}
	if r.Status != http.StatusOK {
		t.Fatalf("GET area on %s: %d %s", p.Name, r.Status, r.Body)
	}
	var a wire.Area
	p.decode(t, r, &a)
	return a, true
}

// history returns the ids of every op in area id's history on p, sorted:
// the order of a peer's log is its own.
func (p *fedPeer) history(t testing.TB, id string) []string {
	t.Helper()
	var ids []string
	for offset := 0; ; offset += 200 {
		var page wire.OpPage
		p.decode(t, p.call(t, http.MethodGet, fmt.Sprintf("/workspace/areas/%s/history?limit=200&offset=%d", id, offset), "", http.StatusOK), &page)
		for _, op := range page.Items {
			ids = append(ids, op.ID)
		}
		if len(page.Items) < 200 {
			break
		}
	}
	slices.Sort(ids)
	return ids
}

// replicated is what every member must agree on: the area without this
// peer's store version.
func replicated(a wire.Area) wire.Area {
	a.Version = 0
	return a
}

// waitAgree waits until the peers hold the same area, field by field, with
// the same history, and returns it.
func waitAgree(t testing.TB, id string, peers ...*fedPeer) wire.Area {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var areas []wire.Area
		var hists [][]string
		for _, p := range peers {
			a, ok := p.area(t, id)
			if !ok {
				break
			}
			areas = append(areas, replicated(a))
			hists = append(hists, p.history(t, id))
		}
		agree := len(areas) == len(peers)
		for i := 1; agree && i < len(areas); i++ {
			agree = reflect.DeepEqual(areas[i], areas[0]) && slices.Equal(hists[i], hists[0])
		}
		if agree {
			return areas[0]
		}
		if time.Now().After(deadline) {
			for i, a := range areas {
				t.Logf("%s: %+v\nhistory %d ops", peers[i].Name, a, len(hists[i]))
			}
			t.Fatalf("the peers do not agree on area %s after 60s", id)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// put PUTs body (a format taking the area's version) on path, reading the
// version again when a merge changed the area meanwhile.
func (p *fedPeer) put(t testing.TB, id, path, body string) {
	t.Helper()
	for range 20 {
		cur, _ := p.area(t, id)
		r := p.call(t, http.MethodPut, "/workspace/areas/"+id+path, fmt.Sprintf(body, cur.Version), 0)
		if r.Status == http.StatusOK {
			return
		}
		if r.Status != http.StatusConflict {
			t.Fatalf("PUT %s on %s: %d %s", path, p.Name, r.Status, r.Body)
		}
	}
	t.Fatalf("PUT %s on %s: the area kept changing", path, p.Name)
}

func subjects(a wire.Area) []string {
	var out []string
	for _, m := range a.Members {
		out = append(out, m.Subject+"@"+m.Peer)
	}
	slices.Sort(out)
	return out
}

// An area shared by three peers is edited on both sides of a partition
// (peer 1 alone, peers 2 and 3 together) while all three keep running;
// once the links are back, the three hold the same area, field by field,
// with every edit present and every member's ops in the history. A peer
// removed from the area then receives nothing more of it.
func TestFederationAreaPartition(t *testing.T) {
	peers := startFederation(t, 3, "OC_WORKSPACE_REPLICATE", "1s", "OC_LOG_LEVEL", "debug")
	a, b, c := peers[0], peers[1], peers[2]
	links := mesh(t, peers)

	var created wire.Area
	a.decode(t, a.call(t, http.MethodPost, "/workspace/areas",
		`{"name":"heat","description":"urban heat","peers":["`+b.id+`","`+c.id+`"]}`, http.StatusCreated), &created)
	id := created.ID
	waitAgree(t, id, a, b, c)
	// A user of a member peer cannot read the area's history through
	// their peer's relay: only the peers themselves exchange ops.
	if r := b.call(t, http.MethodPost, "/peer/relay/"+a.id+"/workspace/federation/areas/"+id+"/sync", `{"vector":{}}`, 0); r.Status != http.StatusForbidden {
		t.Errorf("a user's sync through the relay: %d %s", r.Status, r.Body)
	}

	// The partition: every link between peer 1 and the others drops.
	for _, l := range []*testenv.LinkProxy{links[0][1], links[0][2], links[1][0], links[2][0]} {
		l.Cut(testenv.Refuse)
	}
	res := a.create(t, "tiles", resource.Public)
	a.call(t, http.MethodPost, "/workspace/areas/"+id+"/members", `{"subject":"ann"}`, http.StatusOK)
	a.call(t, http.MethodPost, "/workspace/areas/"+id+"/shared",
		fmt.Sprintf(`{"kind":"resource","ref":{"peer":%q,"id":%q}}`, a.id, res.ID), http.StatusOK)
	a.put(t, id, "", `{"name":"heat (a)","version":%d}`)

	b.call(t, http.MethodPost, "/workspace/areas/"+id+"/members", `{"subject":"bob"}`, http.StatusOK)
	// b shares c's partners-only resource: resolved through c, with the
	// identity of b's admin.
	soil := c.create(t, "soil", resource.Partners)
	b.call(t, http.MethodPost, "/workspace/areas/"+id+"/shared",
		fmt.Sprintf(`{"kind":"resource","ref":{"peer":%q,"id":%q}}`, c.id, soil.ID), http.StatusOK)
	c.call(t, http.MethodPost, "/workspace/areas/"+id+"/members", `{"subject":"cid","admin":true}`, http.StatusOK)
	c.put(t, id, "/rules", `{"rules":[{"id":"r-os","kind":"open_source_processings"}],"version":%d}`)
	c.put(t, id, "", `{"name":"heat (c)","version":%d}`)
	// b and c agree between themselves, without a.
	side := waitAgree(t, id, b, c)
	if slices.Contains(subjects(side), "ann@"+a.id) {
		t.Fatal("an edit crossed the partition")
	}

	for _, l := range []*testenv.LinkProxy{links[0][1], links[0][2], links[1][0], links[2][0]} {
		l.Restore()
	}
	start := time.Now()
	got := waitAgree(t, id, a, b, c)
	t.Logf("converged %s after the links came back", time.Since(start).Round(time.Millisecond))

	want := []string{"ann@" + a.id, "bob@" + b.id, "cid@" + c.id, subjects(created)[0]}
	slices.Sort(want)
	if !slices.Equal(subjects(got), want) {
		t.Errorf("members %v, want %v", subjects(got), want)
	}
	var shared []string
	for _, sh := range got.Shared {
		shared = append(shared, sh.Name+"@"+sh.Ref.Peer)
	}
	slices.Sort(shared)
	if want := []string{"soil@" + c.id, "tiles@" + a.id}; !slices.Equal(shared, want) {
		t.Errorf("shared %v, want %v", shared, want)
	}
	if len(got.Rules) != 1 || got.Rules[0].ID != "r-os" {
		t.Errorf("rules %+v, want c's", got.Rules)
	}
	// Both renamed concurrently: one wins, the same everywhere; the clock
	// and peer order it.
	if got.Name != "heat (a)" && got.Name != "heat (c)" {
		t.Errorf("name %q", got.Name)
	}
	hist := a.history(t, id)
	authors := map[string]bool{}
	var page wire.OpPage
	a.decode(t, a.call(t, http.MethodGet, "/workspace/areas/"+id+"/history?limit=200", "", http.StatusOK), &page)
	for _, op := range page.Items {
		authors[op.Stamp.Peer] = true
	}
	if len(hist) != 9 || !authors[a.id] || !authors[b.id] || !authors[c.id] {
		t.Errorf("history of %d ops by %v, want 9 ops of the three peers", len(hist), authors)
	}

	// a removes c from the area: c learns it, and hears nothing after.
	a.call(t, http.MethodDelete, "/workspace/areas/"+id+"/peers/"+c.id, "", http.StatusOK)
	waitAgree(t, id, a, b)
	b.put(t, id, "", `{"name":"heat without c","version":%d}`)
	waitAgree(t, id, a, b)
	time.Sleep(3 * time.Second) // three exchange rounds
	if cs, ok := c.area(t, id); ok && cs.Name == "heat without c" {
		t.Errorf("a removed peer still receives the area's ops")
	}
}
