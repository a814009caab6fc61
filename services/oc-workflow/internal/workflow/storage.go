package workflow

import (
	"fmt"
	"slices"
	"strings"

	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"
)

// move is one storage link between valid nodes, with valid paths: what it
// reads or writes (libs/workflow's paths rule).
type move struct {
	link    int // index in graph.links
	read    bool
	proc    int // the processing's node index
	storage resource.Ref
	t       wf.Transfer
	// contents: a write of a directory's contents (source ending in /),
	// whose objects are all under t.Key + "/".
	contents bool
}

// objectAt reports whether write w may store the single object at its key
// (a file; or a directory, then under the key: that is known at run time).
func (w move) objectAt() bool { return !w.contents }

// storage checks the storage links of the graph against each other: two
// reads of one processing must not land one inside the other, two writes
// must not store the same key, a read must be able to get what the
// workflow writes there, and (a warning) should wait for its writer.
func (v *checker) storage(g *wf.Graph, moves []move, deps [][2]int) {
	if len(moves) == 0 {
		return
	}
	v.landings(g, moves)
	// Writes per storage, sorted by key, to find those at or under a key.
	writes := map[resource.Ref][]move{}
	for _, m := range moves {
		if !m.read {
			writes[m.storage] = append(writes[m.storage], m)
		}
	}
	for ref, ws := range writes {
		slices.SortStableFunc(ws, func(a, b move) int { return strings.Compare(a.t.Key, b.t.Key) })
		writes[ref] = ws
		v.writeConflicts(g, ws)
	}
	ancestors := map[int]map[int]bool{}
	var before map[int][]int // the processings each waits for directly
	for _, r := range moves {
		if !r.read {
			continue
		}
		ws := writes[r.storage]
		if len(ws) == 0 {
			continue
		}
		at, under := writtenAt(ws, r.t.Key)
		l := &g.Links[r.link]
		f := linkField(r.link) + ".source"
		if !r.t.Prefix && len(at) == 0 && len(under) > 0 {
			w := under[0]
			v.add(wf.Problem{Code: wf.ProblemReadMismatch, Field: f, Link: linkIDOf(l.ID),
				Message: fmt.Sprintf("storage_read link %s reads %s as one object, but link %s of %s stores objects under %s: read the prefix %s into a directory (%s), or one of its objects (%s)",
					label(l.ID, linkField(r.link)), quote(l.Source), label(g.Links[w.link].ID, linkField(w.link)), procName(g, w.proc),
					quote(r.t.Key+"/"), quote(r.t.Key+"/"), quote(strings.TrimSuffix(l.Destination, "/")+"/"), quote(writtenKey(w)))})
			continue
		}
		writers := at
		if r.t.Prefix {
			writers = append(at, under...)
		}
		for _, w := range writers {
			if w.proc == r.proc {
				continue
			}
			anc, ok := ancestors[r.proc]
			if !ok {
				if before == nil {
					before = make(map[int][]int, len(deps))
					for _, d := range deps {
						before[d[1]] = append(before[d[1]], d[0])
					}
				}
				anc = upstream(r.proc, before)
				ancestors[r.proc] = anc
			}
			if anc[w.proc] {
				continue
			}
			reader, writer := procName(g, r.proc), procName(g, w.proc)
			v.warns = append(v.warns, wf.Problem{Code: wf.ProblemUnorderedRead, Field: f, Link: linkIDOf(l.ID), Node: idOf(g, r.proc),
				Message: fmt.Sprintf("%s reads %s, which %s writes (link %s), but does not wait for it and may read it before it is written: add a dependency link from %s to %s",
					reader, quote(l.Source), writer, label(g.Links[w.link].ID, linkField(w.link)), writer, reader)})
			break
		}
	}
}

// landings reports the reads of one processing that land at one container
// path, or one inside another: each is mounted at its path, and one inside
// another would be hidden or not depending on the order of the mounts.
func (v *checker) landings(g *wf.Graph, moves []move) {
	byProc := map[int][]move{}
	for _, m := range moves {
		if m.read {
			byProc[m.proc] = append(byProc[m.proc], m)
		}
	}
	for _, rs := range byProc {
		if len(rs) < 2 {
			continue
		}
		// Sorted with "/" lowest, a path's descendants follow it at once.
		key := func(m move) string { return strings.ReplaceAll(m.t.Path, "/", "\x00") }
		slices.SortStableFunc(rs, func(a, b move) int {
			if c := strings.Compare(key(a), key(b)); c != 0 {
				return c
			}
			return a.link - b.link
		})
		root := rs[0]
		for _, m := range rs[1:] {
			if !wf.Within(m.t.Path, root.t.Path) {
				root = m
				continue
			}
			first, second := root, m
			if second.link < first.link {
				first, second = second, first
			}
			l := &g.Links[second.link]
			where := "inside " + quote(first.t.Path)
			if first.t.Path == second.t.Path {
				where = "at the same path"
			}
			v.add(wf.Problem{Code: wf.ProblemPathConflict, Field: linkField(second.link) + ".destination", Link: linkIDOf(l.ID), Node: idOf(g, m.proc),
				Message: fmt.Sprintf("storage_read link %s lands at %s, %s where link %s lands: give each read of %s its own path, none inside another",
					label(l.ID, linkField(second.link)), quote(second.t.Path), where, label(g.Links[first.link].ID, linkField(first.link)), procName(g, m.proc))})
		}
	}
}

// writeConflicts reports writes to one storage (sorted by key, then in
// link order) that store the same object, which one would overwrite.
func (v *checker) writeConflicts(g *wf.Graph, ws []move) {
	first := map[string]move{}
	for _, w := range ws {
		if !w.objectAt() {
			continue
		}
		prev, dup := first[w.t.Key]
		if !dup {
			first[w.t.Key] = w
			continue
		}
		l := &g.Links[w.link]
		v.add(wf.Problem{Code: wf.ProblemWriteConflict, Field: linkField(w.link) + ".destination", Link: linkIDOf(l.ID),
			Message: fmt.Sprintf("storage_write link %s stores %s, as link %s does in the same storage: one would overwrite the other; give them different destinations",
				label(l.ID, linkField(w.link)), quote(w.t.Key), label(g.Links[prev.link].ID, linkField(prev.link)))})
	}
}

// writtenAt returns the writes of ws (sorted by key) that may store the
// object key itself, and those whose objects are certainly under key + "/".
func writtenAt(ws []move, key string) (at, under []move) {
	i, _ := slices.BinarySearchFunc(ws, key, func(w move, k string) int { return strings.Compare(w.t.Key, k) })
	for ; i < len(ws) && ws[i].t.Key == key; i++ {
		if ws[i].objectAt() {
			at = append(at, ws[i])
		} else {
			under = append(under, ws[i])
		}
	}
	prefix := key + "/"
	j, _ := slices.BinarySearchFunc(ws, prefix, func(w move, k string) int { return strings.Compare(w.t.Key, k) })
	for ; j < len(ws) && strings.HasPrefix(ws[j].t.Key, prefix); j++ {
		under = append(under, ws[j])
	}
	return at, under
}

// writtenKey is a key write w stores: its key, or a name under it.
func writtenKey(w move) string {
	if w.contents {
		return w.t.Key + "/…"
	}
	return w.t.Key
}

// upstream is the set of processings proc waits for, directly or not
// (node indices; before lists the direct ones).
func upstream(proc int, before map[int][]int) map[int]bool {
	seen := map[int]bool{}
	queue := []int{proc}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, p := range before[u] {
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return seen
}

func procName(g *wf.Graph, i int) string { return "processing " + label(g.Nodes[i].ID, nodeField(i)) }
