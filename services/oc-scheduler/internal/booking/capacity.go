package booking

import (
	"container/heap"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
)

// Search bounds of the next free slot.
const (
	SearchHorizon    = 366 * 24 * time.Hour
	SearchCandidates = 10000
	// searchWork bounds the events a next-free search may sweep in all,
	// so that a 409 on a crowded calendar still answers quickly.
	searchWork = 10_000_000
)

// Capacity is what a compute gives at once; a zero dimension is unlimited,
// and a compute declaring none at all runs one execution at a time.
type Capacity struct {
	CPUMillicores, MemoryBytes, GPUs int64
	Exclusive                        bool
	// Unchecked: never runs out (storages; partner peers' resources).
	Unchecked bool
}

// CapacityOf reads a resource's capacity.
func CapacityOf(r resource.Resource) Capacity {
	if r.Kind != resource.KindCompute || r.Compute == nil {
		return Capacity{Unchecked: true}
	}
	c := Capacity{CPUMillicores: r.Compute.CPUCores * 1000, MemoryBytes: r.Compute.MemoryBytes, GPUs: r.Compute.GPUs}
	c.Exclusive = c.CPUMillicores <= 0 && c.MemoryBytes <= 0 && c.GPUs <= 0
	return c
}

// Need is one resource a plan books, with what each execution holds of it.
type Need struct {
	Ref      resource.Ref
	Kind     resource.Kind
	Demand   execution.Demand
	Capacity Capacity
}

// load is what is held of a resource at an instant.
type load struct {
	cpu, mem, gpu, count int64
}

func (l *load) add(d execution.Demand, sign int64) {
	l.cpu += sign * d.CPUMillicores
	l.mem += sign * d.MemoryBytes
	l.gpu += sign * d.GPUs
	l.count += sign
}

// over says what runs out when l is held of capacity c, asked being the
// part of l the execution being checked asks, or "".
func (c Capacity) over(l load, asked execution.Demand) string {
	if c.Unchecked {
		return ""
	}
	if c.Exclusive {
		if l.count > 1 {
			return fmt.Sprintf("exclusive: the compute declares no capacity, so it runs one execution at a time, and %d other(s) hold it then", l.count-1)
		}
		return ""
	}
	var out []string
	if c.CPUMillicores > 0 && l.cpu > c.CPUMillicores {
		out = append(out, fmt.Sprintf("cpu: %dm of %dm held, %dm asked", l.cpu-asked.CPUMillicores, c.CPUMillicores, asked.CPUMillicores))
	}
	if c.MemoryBytes > 0 && l.mem > c.MemoryBytes {
		out = append(out, fmt.Sprintf("memory: %d of %d bytes held, %d asked", l.mem-asked.MemoryBytes, c.MemoryBytes, asked.MemoryBytes))
	}
	if c.GPUs > 0 && l.gpu > c.GPUs {
		out = append(out, fmt.Sprintf("gpus: %d of %d held, %d asked", l.gpu-asked.GPUs, c.GPUs, asked.GPUs))
	}
	return strings.Join(out, "; ")
}

// overlaps reports whether [a0, a1) and [b0, b1) share an instant.
func overlaps(a0, a1, b0, b1 time.Time) bool { return a0.Before(b1) && b0.Before(a1) }

// Check finds the windows of the plan that a resource cannot give, given
// the bookings held (any resource; those of other resources are ignored).
// The plan's own windows count against each other.
func Check(needs []Need, windows []execution.Window, held []execution.Booking) []execution.Conflict {
	var out []execution.Conflict
	byRes := groupHeld(held)
	for _, n := range needs {
		if n.Capacity.Unchecked {
			continue
		}
		hs, sw := byRes[n.Ref], sortWindows(windows)
		for wi, w := range windows {
			problem, involved := peakIn(n, sw, hs, w)
			if problem == "" {
				continue
			}
			c := execution.Conflict{Resource: n.Ref, Start: w.Start, End: w.End, Held: involved, Problem: problem}
			if own := ownOverlaps(windows, wi); own > 0 {
				c.Problem += fmt.Sprintf(" (%d other window(s) of this request overlap this one)", own)
			}
			out = append(out, c)
		}
	}
	return out
}

// sortedHeld are one resource's held bookings in start order, with the
// longest one's length, so that those overlapping a window are found by
// binary search rather than by a scan.
type sortedHeld struct {
	items  []execution.Booking
	maxLen time.Duration
}

func groupHeld(held []execution.Booking) map[resource.Ref]*sortedHeld {
	m := map[resource.Ref]*sortedHeld{}
	for _, b := range held {
		g := m[b.Resource]
		if g == nil {
			g = &sortedHeld{}
			m[b.Resource] = g
		}
		g.items = append(g.items, b)
		g.maxLen = max(g.maxLen, b.End.Sub(b.Start))
	}
	for _, g := range m {
		slices.SortStableFunc(g.items, func(a, b execution.Booking) int { return a.Start.Compare(b.Start) })
	}
	return m
}

// overlapping returns those of held that may overlap w: starting before
// its end and not so early that even the longest would have ended.
func (g *sortedHeld) overlapping(w execution.Window) []execution.Booking {
	if g == nil {
		return nil
	}
	lo := sort.Search(len(g.items), func(i int) bool { return g.items[i].Start.After(w.Start.Add(-g.maxLen)) })
	hi := sort.Search(len(g.items), func(i int) bool { return !g.items[i].Start.Before(w.End) })
	if lo >= hi {
		return nil
	}
	return g.items[lo:hi]
}

// sortedWindows are a plan's windows in start order, searched like sortedHeld.
type sortedWindows struct {
	items  []execution.Window
	maxLen time.Duration
}

func sortWindows(ws []execution.Window) *sortedWindows {
	s := &sortedWindows{items: slices.Clone(ws)}
	slices.SortStableFunc(s.items, func(a, b execution.Window) int { return a.Start.Compare(b.Start) })
	for _, w := range ws {
		s.maxLen = max(s.maxLen, w.End.Sub(w.Start))
	}
	return s
}

func (s *sortedWindows) overlapping(w execution.Window) []execution.Window {
	lo := sort.Search(len(s.items), func(i int) bool { return s.items[i].Start.After(w.Start.Add(-s.maxLen)) })
	hi := sort.Search(len(s.items), func(i int) bool { return !s.items[i].Start.Before(w.End) })
	if lo >= hi {
		return nil
	}
	return s.items[lo:hi]
}

func ownOverlaps(windows []execution.Window, i int) int {
	n := 0
	for j, o := range windows {
		if j != i && overlaps(o.Start, o.End, windows[i].Start, windows[i].End) {
			n++
		}
	}
	return n
}

type sweepEvent struct {
	at     time.Time
	demand execution.Demand
	sign   int64
}

// peakIn sweeps the start and end events of what overlaps w (held
// bookings and the plan's windows, w included) and returns what runs out
// at the first instant of w where too much is held ("" if nothing), and
// the held bookings overlapping w.
func peakIn(n Need, windows *sortedWindows, held *sortedHeld, w execution.Window) (string, []execution.Booking) {
	var evs []sweepEvent
	involved := []execution.Booking{}
	for _, b := range held.overlapping(w) {
		if overlaps(b.Start, b.End, w.Start, w.End) {
			involved = append(involved, b)
			evs = append(evs, sweepEvent{b.Start, b.Demand, 1}, sweepEvent{b.End, b.Demand, -1})
		}
	}
	for _, o := range windows.overlapping(w) {
		if overlaps(o.Start, o.End, w.Start, w.End) {
			evs = append(evs, sweepEvent{o.Start, n.Demand, 1}, sweepEvent{o.End, n.Demand, -1})
		}
	}
	// Ends before starts at one instant: windows are half-open, so one
	// ending when another starts do not overlap.
	sort.Slice(evs, func(i, j int) bool {
		if !evs[i].at.Equal(evs[j].at) {
			return evs[i].at.Before(evs[j].at)
		}
		return evs[i].sign < evs[j].sign
	})
	var l load
	i := 0
	for ; i < len(evs) && !evs[i].at.After(w.Start); i++ {
		l.add(evs[i].demand, evs[i].sign)
	}
	if p := n.Capacity.over(l, n.Demand); p != "" {
		return p, involved
	}
	// Within an instant the load only grows after its ends, so checking
	// after each start never reports less than the peak nor more.
	for ; i < len(evs) && evs[i].at.Before(w.End); i++ {
		l.add(evs[i].demand, evs[i].sign)
		if evs[i].sign > 0 {
			if p := n.Capacity.over(l, n.Demand); p != "" {
				return p, involved
			}
		}
	}
	return "", involved
}

// NextFree finds the smallest shift of all the windows together, from 0
// up, at which the plan fits: the candidates are the shifts that bring a
// window's start to the end of a held booking, within SearchHorizon and
// SearchCandidates. It returns the shift and whether one was found.
func NextFree(needs []Need, windows []execution.Window, held []execution.Booking, limit time.Time) (time.Duration, bool) {
	if len(windows) == 0 {
		return 0, false
	}
	shifts := candidates(needs, windows, held)
	_, last := Span(windows)
	byRes := groupHeld(held)
	work := 0
	for _, d := range shifts {
		if !limit.IsZero() && last.Add(d).After(limit) {
			return 0, false
		}
		ok, cost := fits(needs, shift(windows, d), byRes)
		if ok {
			return d, true
		}
		if work += cost; work > searchWork {
			return 0, false
		}
	}
	return 0, false
}

// fits reports whether no window of the plan conflicts, stopping at the
// first that does, and what the check cost (events swept).
func fits(needs []Need, windows []execution.Window, byRes map[resource.Ref]*sortedHeld) (bool, int) {
	cost := 0
	for _, n := range needs {
		if n.Capacity.Unchecked {
			continue
		}
		hs, sw := byRes[n.Ref], sortWindows(windows)
		for _, w := range windows {
			cost += len(hs.overlapping(w)) + len(sw.overlapping(w)) + 1
			if problem, _ := peakIn(n, sw, hs, w); problem != "" {
				return false, cost
			}
		}
	}
	return true, cost
}

// candidates are 0 and the smallest shifts (at most SearchCandidates,
// within SearchHorizon, ascending, distinct) that bring a window's start to
// the end of a held booking of a checked resource: a k-way merge over the
// windows of the sorted ends, so that it costs little however many there are.
func candidates(needs []Need, windows []execution.Window, held []execution.Booking) []time.Duration {
	checked := make(map[resource.Ref]bool, len(needs))
	for _, n := range needs {
		checked[n.Ref] = !n.Capacity.Unchecked
	}
	var ends []int64 // nanoseconds: no pointers for the heap to move around
	for _, b := range held {
		if checked[b.Resource] {
			ends = append(ends, b.End.UnixNano())
		}
	}
	slices.Sort(ends)
	h := &shiftHeap{}
	for _, w := range windows {
		// The first end after the window's start gives its smallest positive shift.
		s := w.Start.UnixNano()
		i := sort.Search(len(ends), func(i int) bool { return ends[i] > s })
		if i < len(ends) {
			h.items = append(h.items, shiftItem{d: ends[i] - s, start: s, next: i})
		}
	}
	heap.Init(h)
	out := []time.Duration{0}
	// Many (window, end) pairs give the same shift; the pops are bounded too.
	for pops := 0; h.Len() > 0 && len(out) < SearchCandidates && pops < 20*SearchCandidates; pops++ {
		it := heap.Pop(h).(shiftItem)
		d := time.Duration(it.d)
		if d > SearchHorizon {
			break
		}
		if d != out[len(out)-1] {
			out = append(out, d)
		}
		if it.next+1 < len(ends) {
			heap.Push(h, shiftItem{d: ends[it.next+1] - it.start, start: it.start, next: it.next + 1})
		}
	}
	return out
}

type shiftItem struct {
	d, start int64
	next     int
}

type shiftHeap struct{ items []shiftItem }

func (h *shiftHeap) Len() int           { return len(h.items) }
func (h *shiftHeap) Less(i, j int) bool { return h.items[i].d < h.items[j].d }
func (h *shiftHeap) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *shiftHeap) Push(x any)         { h.items = append(h.items, x.(shiftItem)) }
func (h *shiftHeap) Pop() any {
	it := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return it
}

func shift(windows []execution.Window, d time.Duration) []execution.Window {
	out := make([]execution.Window, len(windows))
	for i, w := range windows {
		out[i] = execution.Window{Start: w.Start.Add(d), End: w.End.Add(d)}
	}
	return out
}

// Span is the time a plan's windows cover.
func Span(windows []execution.Window) (time.Time, time.Time) {
	if len(windows) == 0 {
		return time.Time{}, time.Time{}
	}
	s, e := windows[0].Start, windows[0].End
	for _, w := range windows[1:] {
		if w.Start.Before(s) {
			s = w.Start
		}
		if w.End.After(e) {
			e = w.End
		}
	}
	return s, e
}
