package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/testenv"
	wire "github.com/opencloud/opencloud/libs/workspace"
)

// createMany creates n public data resources on p, 8 at a time.
func (p *fedPeer) createMany(t testing.TB, n int) {
	t.Helper()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				in := resource.Input{Kind: resource.KindData, Name: fmt.Sprintf("%s tile %04d", p.Name, i), Visibility: resource.Public,
					Tags: []string{"tile"}, Data: &resource.Data{Location: fmt.Sprintf("s3://tiles/%d", i)}}
				b, _ := json.Marshal(in)
				p.call(t, http.MethodPost, "/catalog/resources", string(b), http.StatusCreated)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// quantiles reports p50 and p99 of ds on b.
func quantiles(b *testing.B, ds []time.Duration) {
	slices.Sort(ds)
	at := func(q float64) float64 { return float64(ds[int(q*float64(len(ds)-1))].Microseconds()) / 1000 }
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkFederatedSearch: GET /catalog/search on one of three partnered
// peers holding 1,000 resources each (a page of 20 among the 3,000 that
// match), with every peer up, with one stopped, and with one whose link
// drops every packet (answered at the 1 s deadline).
func BenchmarkFederatedSearch(b *testing.B) {
	peers := startFederation(b, 3)
	a, p2, p3 := peers[0], peers[1], peers[2]
	link := testenv.Link(b, strings.TrimPrefix(p2.Base, "http://"))
	partner(b, a, p2, link.URL())
	partner(b, a, p3, p3.Base)
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Go(func() { p.createMany(b, 1000) })
	}
	wg.Wait()
	run := func(name string, wantPartial bool) {
		b.Run(name, func(b *testing.B) {
			ds := make([]time.Duration, 0, b.N)
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				res, _ := a.search(b, fmt.Sprintf("tag=tile&limit=20&offset=%d", (i*20)%1000))
				ds = append(ds, time.Since(start))
				if res.Partial != wantPartial || len(res.Items) != 20 {
					b.Fatalf("partial %v, %d items: %+v", res.Partial, len(res.Items), res.Peers)
				}
			}
			quantiles(b, ds)
		})
	}
	run("all-up", false)
	p3.Stop()
	run("one-stopped", true)
	link.Cut(testenv.Blackhole)
	run("one-stopped-one-unreachable", true)
}

// BenchmarkAreaConvergence: two member peers of an area are cut from each
// other; each makes 1,000 changes (500 members added, then removed); the
// time from the link coming back until both hold the same area with the
// 2,000 changes.
func BenchmarkAreaConvergence(b *testing.B) {
	peers := startFederation(b, 2, "OC_WORKSPACE_REPLICATE", "1s")
	a, p := peers[0], peers[1]
	links := mesh(b, peers)
	for b.Loop() {
		var created wire.Area
		a.decode(b, a.call(b, http.MethodPost, "/workspace/areas", `{"name":"bench","peers":["`+p.id+`"]}`, http.StatusCreated), &created)
		waitAgree(b, created.ID, a, p)
		links[0][1].Cut(testenv.Refuse)
		links[1][0].Cut(testenv.Refuse)
		var wg sync.WaitGroup
		for _, side := range []*fedPeer{a, p} {
			wg.Go(func() {
				// 500 members added, then removed: 1,000 ops.
				for i := range 500 {
					side.call(b, http.MethodPost, "/workspace/areas/"+created.ID+"/members",
						fmt.Sprintf(`{"subject":"%s-%04d"}`, side.Name, i), http.StatusOK)
				}
				for i := range 500 {
					side.call(b, http.MethodDelete, fmt.Sprintf("/workspace/areas/%s/members/%s-%04d", created.ID, side.Name, i), "", http.StatusOK)
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		start := time.Now()
		links[0][1].Restore()
		links[1][0].Restore()
		got := waitAgree(b, created.ID, a, p)
		took := time.Since(start)
		var page wire.OpPage
		a.decode(b, a.call(b, http.MethodGet, "/workspace/areas/"+created.ID+"/history?limit=1", "", http.StatusOK), &page)
		if len(got.Members) != 1 || page.Total != 2001 {
			b.Fatalf("%d members and %d ops after the merge, want 1 and 2001", len(got.Members), page.Total)
		}
		b.ReportMetric(took.Seconds(), "s-to-converge")
		b.ReportMetric(0, "ns/op")
		b.StartTimer()
	}
}
