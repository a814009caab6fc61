package service_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/testenv"

	"github.com/opencloud/opencloud/services/oc-catalog/client"
)

const benchResources = 1000

// benchCatalog is a catalog on SQLite (the all-in-one store) holding
// benchResources resources of every kind, owner and visibility.
func benchCatalog(b *testing.B) (*env, []string) {
	b.Helper()
	e := start(b, testenv.SQLiteStore(b))
	owners := []authn.Principal{alice, bob, carol}
	ids := make([]string, 0, benchResources)
	for i := range benchResources {
		k := resource.Kinds[i%len(resource.Kinds)]
		in := sample(k, fmt.Sprintf("Resource %04d", i))
		in.Description = fmt.Sprintf("Benchmark resource number %d of kind %s", i, k)
		in.Tags = []string{fmt.Sprintf("t%d", i%10), "bench"}
		in.Visibility = resource.Visibilities[i%len(resource.Visibilities)]
		if in.Visibility == resource.Groups {
			in.Groups = []string{"lab-a"}
		}
		ids = append(ids, e.create(owners[i%len(owners)], in).ID)
	}
	return e, ids
}

// reportLatency adds the median and 99th percentile of the calls.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) float64 {
		return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50_ms")
	b.ReportMetric(at(0.99), "p99_ms")
}

// BenchmarkGetByID: GET /catalog/resources/{id} over HTTP, as an admin so
// every id is visible.
func BenchmarkGetByID(b *testing.B) {
	e, ids := benchCatalog(b)
	c := e.as(root)
	ctx := context.Background()
	var lat []time.Duration
	i := 0
	for b.Loop() {
		t0 := time.Now()
		if _, err := c.Get(ctx, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		i++
	}
	reportLatency(b, lat)
}

// BenchmarkList: GET /catalog/resources over HTTP as a user whose
// visibility rule applies; one page of 20 in name order, and a filtered search.
func BenchmarkList(b *testing.B) {
	e, _ := benchCatalog(b)
	c := e.as(carol)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		opts client.ListOptions
	}{
		{"page", client.ListOptions{Limit: 20, Offset: 100}},
		{"filtered-search", client.ListOptions{Kind: resource.KindData, Tags: []string{"bench"}, Query: "number 1", Sort: []string{"-updated_at"}, Limit: 20}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				t0 := time.Now()
				page, err := c.List(ctx, bc.opts)
				if err != nil {
					b.Fatal(err)
				}
				if len(page.Items) == 0 {
					b.Fatal("empty page")
				}
				lat = append(lat, time.Since(t0))
			}
			reportLatency(b, lat)
		})
	}
}
