package booking

import (
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
)

var (
	t0   = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	comp = resource.Ref{Peer: "local", ID: "c"}
)

func win(from, to int) execution.Window {
	return execution.Window{Start: t0.Add(time.Duration(from) * time.Minute), End: t0.Add(time.Duration(to) * time.Minute)}
}

func held(from, to int, cpu int64) execution.Booking {
	w := win(from, to)
	return execution.Booking{ID: "b", Resource: comp, Start: w.Start, End: w.End, Demand: execution.Demand{CPUMillicores: cpu}}
}

func TestCheckSweep(t *testing.T) {
	eight := Need{Ref: comp, Kind: resource.KindCompute, Demand: execution.Demand{CPUMillicores: 3000}, Capacity: Capacity{CPUMillicores: 8000}}
	exclusive := Need{Ref: comp, Kind: resource.KindCompute, Capacity: Capacity{Exclusive: true}}
	storage := Need{Ref: comp, Kind: resource.KindStorage, Capacity: Capacity{Unchecked: true}}
	for _, tc := range []struct {
		name      string
		need      Need
		windows   []execution.Window
		held      []execution.Booking
		conflicts int
		problem   string
	}{
		{"two of three cores fit", eight, []execution.Window{win(0, 10)}, []execution.Booking{held(0, 10, 3000)}, 0, ""},
		{"a third does not", eight, []execution.Window{win(0, 10)}, []execution.Booking{held(0, 10, 3000), held(5, 15, 3000)}, 1, "cpu: 6000m of 8000m held, 3000m asked"},
		{"held ones that never overlap each other", eight, []execution.Window{win(0, 10)}, []execution.Booking{held(0, 5, 3000), held(5, 10, 3000), held(5, 10, 2000)}, 0, ""},
		{"touching is not overlapping", exclusive, []execution.Window{win(10, 20)}, []execution.Booking{held(0, 10, 0), held(20, 30, 0)}, 0, ""},
		{"exclusive", exclusive, []execution.Window{win(10, 20)}, []execution.Booking{held(19, 30, 0)}, 1, "one execution at a time"},
		{"the request's own windows count", eight, []execution.Window{win(0, 10), win(1, 11), win(2, 12)}, nil, 3, "of this request overlap"},
		{"load from before the window", eight, []execution.Window{win(10, 20)}, []execution.Booking{held(0, 15, 3000), held(5, 12, 3000)}, 1, "cpu"},
		{"storages never run out", storage, []execution.Window{win(0, 10)}, []execution.Booking{held(0, 10, 0), held(0, 10, 0)}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Check([]Need{tc.need}, tc.windows, tc.held)
			if len(got) != tc.conflicts {
				t.Fatalf("conflicts = %+v, want %d", got, tc.conflicts)
			}
			if tc.conflicts > 0 && !strings.Contains(got[0].Problem, tc.problem) {
				t.Errorf("problem %q, want %q", got[0].Problem, tc.problem)
			}
		})
	}
}

func TestNextFree(t *testing.T) {
	exclusive := Need{Ref: comp, Kind: resource.KindCompute, Capacity: Capacity{Exclusive: true}}
	hs := []execution.Booking{held(0, 10, 0), held(12, 20, 0), held(25, 40, 0)}
	for _, tc := range []struct {
		name    string
		windows []execution.Window
		want    time.Duration
	}{
		{"free already", []execution.Window{win(10, 12)}, 0},
		{"after the first hole too small", []execution.Window{win(5, 10)}, 15 * time.Minute}, // [20,25)
		{"a long one after everything", []execution.Window{win(0, 10)}, 40 * time.Minute},
		{"two windows together", []execution.Window{win(0, 2), win(12, 14)}, 10 * time.Minute}, // [10,12) and [22,24)
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := NextFree([]Need{exclusive}, tc.windows, hs, time.Time{})
			if !ok || d != tc.want {
				t.Fatalf("shift = %s %v, want %s", d, ok, tc.want)
			}
		})
	}
	if _, ok := NextFree([]Need{exclusive}, []execution.Window{win(0, 10)}, hs, t0.Add(45*time.Minute)); ok {
		t.Error("found a slot beyond the limit")
	}
}

// TestNextFreeIsBounded: 1,000 windows against 10,000 held bookings of a
// full calendar answer quickly, found or not.
func TestNextFreeIsBounded(t *testing.T) {
	exclusive := Need{Ref: comp, Kind: resource.KindCompute, Capacity: Capacity{Exclusive: true}}
	var hs []execution.Booking
	for i := range 10000 {
		hs = append(hs, held(i*10, i*10+9, 0))
	}
	var ws []execution.Window
	for i := range 1000 {
		ws = append(ws, win(i*10, i*10+5))
	}
	start := time.Now()
	d, ok := NextFree([]Need{exclusive}, ws, hs, time.Time{})
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("took %s", took)
	}
	if ok && len(Check([]Need{exclusive}, shift(ws, d), hs)) != 0 {
		t.Fatalf("shift %s does not fit", d)
	}
}
