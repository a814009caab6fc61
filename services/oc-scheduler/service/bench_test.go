package service_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/testenv"

	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
)

// BenchmarkBookSeedShape books 1,000 executions the way the seed's load
// script does — 100 requests of "0-9 M H D Mo *", 10 firings each — from 8
// concurrent clients over HTTP through the gateway (SQLite, the all-in-one
// store), on a compute whose capacity holds exactly the 1,000 overlapping
// executions. It then recomputes the compute's peak load from the stored
// bookings: above the capacity would be a double booking. Reported: the
// total time, the requests' latency p50/p99 under that load, and the
// latency p50/p99 of one client booking alone.
func BenchmarkBookSeedShape(b *testing.B) {
	e := start(b, testenv.SQLiteStore(b))
	ctx := context.Background()
	proc := e.processing("ndvi", 100)
	var total, p50, p99, alone50, alone99 time.Duration
	round := 0
	for b.Loop() {
		round++
		// 1,000 × 100 m = 100 cores.
		comp := e.compute(fmt.Sprintf("bench-%d", round), 100)
		w := e.workflow(alice, fmt.Sprintf("Bench %d", round), proc, comp, 1, nil)
		at := day().Add(time.Duration(round) * time.Hour)
		req := execution.Request{Mode: 1, Cron: fmt.Sprintf("0-9 %d %d %d %d *", at.Minute(), at.Hour(), at.Day(), int(at.Month())),
			Start: at, End: ptr(at.AddDate(0, 1, 0))}
		c := e.as(alice)
		jobs := make(chan int)
		lat := make([]time.Duration, 100)
		var wg sync.WaitGroup
		t0 := time.Now()
		for range 8 {
			wg.Go(func() {
				for i := range jobs {
					s := time.Now()
					plan, err := c.Book(ctx, w.ID, req)
					lat[i] = time.Since(s)
					if err != nil || len(plan.Executions) != 10 {
						b.Errorf("request %d: %v", i, err)
					}
				}
			})
		}
		for i := range 100 {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		total += time.Since(t0)
		q50, q99 := quantiles(lat)
		p50, p99 = p50+q50, p99+q99

		bookings, n, err := e.execs.FindBookings(ctx, executions.BookingQuery{Resources: []resource.Ref{comp}})
		if err != nil || n != 1000 {
			b.Fatalf("%d bookings stored, %v", n, err)
		}
		if over := peakOver(bookings, 100_000); over != 0 {
			b.Fatalf("double booking: %dm above the capacity", over)
		}

		// One client alone, 50 single-window requests on a fresh compute.
		solo := e.workflow(alice, fmt.Sprintf("Alone %d", round), proc, e.compute(fmt.Sprintf("alone-%d", round), 0), 1, nil)
		single := make([]time.Duration, 50)
		for i := range single {
			s := time.Now()
			if _, err := c.Book(ctx, solo.ID, planned(at.Add(time.Duration(i)*time.Minute), time.Minute)); err != nil {
				b.Fatal(err)
			}
			single[i] = time.Since(s)
		}
		q50, q99 = quantiles(single)
		alone50, alone99 = alone50+q50, alone99+q99
	}
	n := float64(round)
	b.ReportMetric(float64(total.Milliseconds())/n, "ms/1000-executions")
	b.ReportMetric(float64(p50.Microseconds())/1000/n, "ms-p50/request(8-clients)")
	b.ReportMetric(float64(p99.Microseconds())/1000/n, "ms-p99/request(8-clients)")
	b.ReportMetric(float64(alone50.Microseconds())/1000/n, "ms-p50/request(alone)")
	b.ReportMetric(float64(alone99.Microseconds())/1000/n, "ms-p99/request(alone)")
	b.ReportMetric(0, "double-bookings")
}

func quantiles(d []time.Duration) (time.Duration, time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2], s[(len(s)*99-1)/100]
}

// peakOver sweeps the bookings' start and end events and returns by how
// much the peak CPU held exceeds capacity (0 if never).
func peakOver(bookings []execution.Booking, capacity int64) int64 {
	type ev struct {
		at  time.Time
		cpu int64
	}
	var evs []ev
	for _, b := range bookings {
		evs = append(evs, ev{b.Start, b.Demand.CPUMillicores}, ev{b.End, -b.Demand.CPUMillicores})
	}
	sort.Slice(evs, func(i, j int) bool {
		if !evs[i].at.Equal(evs[j].at) {
			return evs[i].at.Before(evs[j].at)
		}
		return evs[i].cpu < evs[j].cpu
	})
	var load, peak int64
	for _, e := range evs {
		load += e.cpu
		peak = max(peak, load)
	}
	return max(0, peak-capacity)
}
