package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/resource"
	catalogclient "github.com/opencloud/opencloud/services/oc-catalog/client"
)

// loadClients is the fixed load: this many clients send requests back to
// back through the gateway, each with a real token that every request verifies.
const loadClients = 8

// BenchmarkPeerUnderLoad measures catalog latency on a whole all-in-one peer
// (gateway, token verification, SQLite store) holding 1,000 resources, under
// loadClients concurrent clients. It reports p50 and p99 per request and the
// throughput.
func BenchmarkPeerUnderLoad(b *testing.B) {
	p := startPeer(b, b.TempDir(), "127.0.0.1:0")
	tok := p.login(b, "admin", adminPassword)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: loadClients}}
	c := catalogclient.New(p.base, apiclient.StaticToken(tok), hc)
	ctx := context.Background()
	ids := make([]string, 1000)
	for i := range ids {
		r, err := c.Create(ctx, resource.Input{Kind: resource.KindData, Name: fmt.Sprintf("dataset %04d", i),
			Visibility: resource.Public, Tags: []string{"bench", fmt.Sprintf("t%d", i%10)},
			Data: &resource.Data{Location: fmt.Sprintf("s3://bench/%d", i), Format: "csv"}})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = r.ID
	}
	for _, bc := range []struct {
		name string
		call func(i int) error
	}{
		{"get-by-id", func(i int) error { _, err := c.Get(ctx, ids[i%len(ids)]); return err }},
		{"list-page-20", func(i int) error {
			_, err := c.List(ctx, catalogclient.ListOptions{Limit: 20, Offset: (i % 50) * 20})
			return err
		}},
		{"search-tag-sorted", func(i int) error {
			_, err := c.List(ctx, catalogclient.ListOptions{Tags: []string{fmt.Sprintf("t%d", i%10)}, Query: "dataset",
				Sort: []string{"-updated_at"}, Limit: 20})
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var mu sync.Mutex
			var all []time.Duration
			b.SetParallelism((loadClients + 1) / 2) // RunParallel starts GOMAXPROCS × this goroutines
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var lat []time.Duration
				i := 0
				for pb.Next() {
					t0 := time.Now()
					if err := bc.call(i); err != nil {
						b.Error(err)
						return
					}
					lat = append(lat, time.Since(t0))
					i++
				}
				mu.Lock()
				all = append(all, lat...)
				mu.Unlock()
			})
			elapsed := time.Since(start)
			slices.Sort(all)
			if len(all) > 0 {
				b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
				b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
			}
		})
	}
}
