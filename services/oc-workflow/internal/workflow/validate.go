package workflow

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"
	"github.com/opencloud/opencloud/libs/workspace"
)

// Limits of a workflow's fields besides its graph (those are wf.Max*).
const (
	MaxDescription = 20000 // as the catalog's, so that a workflow can be published
	MaxTags        = 32
	MaxTag         = 64
	MaxRefField    = 128 // a reference's peer and id
)

// Fact is what the catalog says about one referenced resource.
type Fact struct {
	// Found is false when the resource does not exist or the caller may not see it.
	Found bool
	Kind  resource.Kind
	// Unavailable, when not empty, is why the resource could not be checked
	// now (its peer cannot be reached); it is a warning, not a problem.
	Unavailable string
}

// Facts are what validation needs from outside the graph, resolved beforehand
// so that Validate stays pure.
type Facts struct {
	// Resources holds a fact for each reference that was resolved; a
	// reference absent from it is not checked.
	Resources map[resource.Ref]Fact
	// Violations are the collaborative-area rules the graph would break.
	Violations []workspace.Violation
	// Unchecked are resources the area rules could not be evaluated on.
	Unchecked []workspace.Unchecked
}

// Normalize trims the name and description, drops repeated tags, and gives
// every reference without a peer the peer defaultPeer: the form in which a
// workflow is validated and stored.
func Normalize(in *wf.Input, defaultPeer string) {
	in.Name = strings.TrimSpace(in.Name)
	in.Description = strings.TrimSpace(in.Description)
	if len(in.Tags) > 0 {
		seen := make(map[string]bool, len(in.Tags))
		tags := in.Tags[:0:0]
		for _, t := range in.Tags {
			if !seen[t] {
				seen[t] = true
				tags = append(tags, t)
			}
		}
		in.Tags = tags
	}
	for i := range in.Graph.Nodes {
		if in.Graph.Nodes[i].Resource.Peer == "" {
			in.Graph.Nodes[i].Resource.Peer = defaultPeer
		}
	}
}

// Structure holds the outcome of the checks that need nothing but the input:
// the problems found, and the references worth resolving (well-formed, on
// nodes of a valid kind).
type Structure struct {
	Problems []wf.Problem
	// Refs are the distinct well-formed references, in node order; empty when
	// the graph is too large to be checked further.
	Refs []resource.Ref
	// TooLarge is set when the graph is beyond a limit: deeper checks were skipped.
	TooLarge bool
	// Warnings are what the structure suggests to change without being wrong.
	Warnings []wf.Problem
}

// Validate checks a normalized input against every rule and the facts
// resolved for it, and returns every problem at once, ordered by field path.
func Validate(in *wf.Input, facts Facts) wf.Validation {
	return Evaluate(in, CheckStructure(in), facts)
}

// Evaluate completes the structure checks s of in with the facts resolved
// for s.Refs.
func Evaluate(in *wf.Input, s Structure, facts Facts) wf.Validation {
	probs := slices.Clone(s.Problems)
	warns := slices.Clone(s.Warnings)
	if !s.TooLarge {
		probs, warns = checkResources(&in.Graph, facts, probs, warns)
		probs, warns = checkRules(&in.Graph, facts, probs, warns)
	}
	return Result(probs, warns)
}

// Result orders problems and warnings and says whether the input is valid.
func Result(probs, warns []wf.Problem) wf.Validation {
	SortProblems(probs)
	SortProblems(warns)
	if probs == nil {
		probs = []wf.Problem{}
	}
	return wf.Validation{Valid: len(probs) == 0, Problems: probs, Warnings: warns}
}

// CheckStructure runs the checks that need nothing but the input.
func CheckStructure(in *wf.Input) Structure {
	v := &checker{}
	v.fields(in)
	g := &in.Graph
	if len(g.Nodes) > wf.MaxNodes {
		v.add(wf.Problem{Code: wf.ProblemTooLarge, Field: "graph.nodes",
			Message: fmt.Sprintf("the graph has %d nodes, more than the %d allowed: split the workflow into smaller ones", len(g.Nodes), wf.MaxNodes)})
	}
	if len(g.Links) > wf.MaxLinks {
		v.add(wf.Problem{Code: wf.ProblemTooLarge, Field: "graph.links",
			Message: fmt.Sprintf("the graph has %d links, more than the %d allowed: split the workflow into smaller ones", len(g.Links), wf.MaxLinks)})
	}
	if len(v.probs) > 0 && (len(g.Nodes) > wf.MaxNodes || len(g.Links) > wf.MaxLinks) {
		return Structure{Problems: v.probs, TooLarge: true}
	}
	v.graph(g)
	return Structure{Problems: v.probs, Refs: v.refs, Warnings: v.warns}
}

type checker struct {
	probs []wf.Problem
	warns []wf.Problem
	refs  []resource.Ref
}

func (v *checker) add(p wf.Problem) { v.probs = append(v.probs, p) }

func (v *checker) invalid(field, node, link, msg string) {
	v.add(wf.Problem{Code: wf.ProblemInvalidField, Field: field, Node: node, Link: link, Message: msg})
}

func (v *checker) fields(in *wf.Input) {
	switch n := utf8.RuneCountInString(in.Name); {
	case n == 0:
		v.invalid("name", "", "", "give the workflow a name (1 to 200 characters)")
	case n > wf.MaxNameLength || !utf8.ValidString(in.Name):
		v.invalid("name", "", "", fmt.Sprintf("the name has %d characters: shorten it to at most %d", n, wf.MaxNameLength))
	case hasControl(in.Name):
		v.invalid("name", "", "", "the name contains control characters (line breaks, tabs…): remove them")
	}
	if n := utf8.RuneCountInString(in.Description); n > MaxDescription || !utf8.ValidString(in.Description) {
		v.invalid("description", "", "", fmt.Sprintf("the description has %d characters: shorten it to at most %d", n, MaxDescription))
	}
	if len(in.Tags) > MaxTags {
		v.invalid("tags", "", "", fmt.Sprintf("%d tags: keep at most %d", len(in.Tags), MaxTags))
	}
	for i, t := range in.Tags {
		if !ValidTag(t) {
			v.invalid("tags["+strconv.Itoa(i)+"]", "", "", fmt.Sprintf("tag %s: use 1 to %d characters of a-z, 0-9, '-', '_' or '.'", quote(t), MaxTag))
		}
	}
}

// ValidTag reports whether t is a tag the catalog accepts too.
func ValidTag(t string) bool {
	if len(t) == 0 || len(t) > MaxTag {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validID reports whether s is a node or link id: 1 to 64 of A-Z a-z 0-9 _ . -
func validID(s string) bool {
	if len(s) == 0 || len(s) > wf.MaxIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !idByte(s[i]) {
			return false
		}
	}
	return true
}

func idByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// validRefPart reports whether s can be a reference's peer or id: 1 to 128
// of A-Z a-z 0-9 _ . - : (no '/', which separates them in "peer/id").
func validRefPart(s string) bool {
	if len(s) == 0 || len(s) > MaxRefField {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !idByte(s[i]) && s[i] != ':' {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// quote quotes s for a message, cut short so that a huge value does not
// make a huge answer.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// nodeKinds are the kinds a node may have.
var nodeKinds = []resource.Kind{resource.KindData, resource.KindProcessing, resource.KindStorage, resource.KindCompute}

// allowed gives, for each link kind, the kinds of the nodes it joins.
var allowed = map[wf.LinkKind][2]resource.Kind{
	wf.LinkData:         {resource.KindData, resource.KindProcessing},
	wf.LinkDependency:   {resource.KindProcessing, resource.KindProcessing},
	wf.LinkStorageRead:  {resource.KindStorage, resource.KindProcessing},
	wf.LinkStorageWrite: {resource.KindProcessing, resource.KindStorage},
	wf.LinkCompute:      {resource.KindProcessing, resource.KindCompute},
}

func article(k resource.Kind) string {
	switch k {
	case resource.KindProcessing, resource.KindStorage, resource.KindCompute, resource.KindData, resource.KindWorkflow:
		return "a " + string(k)
	}
	return "a node of kind " + quote(string(k))
}

// where is the place of a node or link, turned into a field path only when
// a problem needs it (most graphs have none, and building thousands of
// paths for nothing is most of the cost).
type where struct {
	list string
	i    int
}

func (w where) s() string { return w.list + "[" + strconv.Itoa(w.i) + "]" }

func nodeField(i int) string { return "graph.nodes[" + strconv.Itoa(i) + "]" }
func linkField(i int) string { return "graph.links[" + strconv.Itoa(i) + "]" }

// label is how a message names a node or link: its id if valid, else its place.
func label(id, field string) string {
	if validID(id) {
		return strconv.Quote(id)
	}
	return field
}

// graph checks nodes, links, computes and cycles.
func (v *checker) graph(g *wf.Graph) {
	// index maps a node id to the first node bearing it.
	index := make(map[string]int, len(g.Nodes))
	kindOK := make([]bool, len(g.Nodes))
	seenRef := make(map[resource.Ref]bool, len(g.Nodes))
	for i := range g.Nodes {
		n := &g.Nodes[i]
		f := where{"graph.nodes", i}
		node := ""
		if validID(n.ID) {
			node = n.ID
		}
		switch {
		case n.ID == "":
			v.invalid(f.s()+".id", "", "", "give the node an id: 1 to 64 characters of A-Z a-z 0-9 _ . -")
		case !validID(n.ID):
			v.invalid(f.s()+".id", "", "", fmt.Sprintf("node id %s is not 1 to 64 characters of A-Z a-z 0-9 _ . -: change it", quote(n.ID)))
		}
		if first, dup := index[n.ID]; dup && n.ID != "" {
			v.add(wf.Problem{Code: wf.ProblemDuplicateID, Field: f.s() + ".id", Node: node,
				Message: fmt.Sprintf("node id %s is used by %s and %s: give each node its own id", quote(n.ID), nodeField(first), f.s())})
		} else if n.ID != "" {
			index[n.ID] = i
		}
		switch {
		case n.Kind == resource.KindWorkflow:
			v.invalid(f.s()+".kind", node, "", "a workflow cannot be a node of another workflow: place its data, processings, storages and computes instead")
		case !slices.Contains(nodeKinds, n.Kind):
			v.invalid(f.s()+".kind", node, "", fmt.Sprintf("kind %s is not a node kind: use data, processing, storage or compute", quote(string(n.Kind))))
		default:
			kindOK[i] = true
		}
		refOK := true
		switch {
		case n.Resource.ID == "":
			refOK = false
			v.invalid(f.s()+".resource.id", node, "", "give the id of the resource this node stands for (pick one from the catalog)")
		case !validRefPart(n.Resource.ID):
			refOK = false
			v.invalid(f.s()+".resource.id", node, "", fmt.Sprintf("resource id %s is not 1 to %d characters of A-Z a-z 0-9 _ . - :: use the id the catalog gives", quote(n.Resource.ID), MaxRefField))
		}
		if !validRefPart(n.Resource.Peer) {
			refOK = false
			v.invalid(f.s()+".resource.peer", node, "", fmt.Sprintf("peer %s is not 1 to %d characters of A-Z a-z 0-9 _ . - :: use the owning peer's id, or leave it empty for this peer", quote(n.Resource.Peer), MaxRefField))
		}
		if refOK && kindOK[i] && !seenRef[n.Resource] {
			seenRef[n.Resource] = true
			v.refs = append(v.refs, n.Resource)
		}
		if !finite(n.Position.X) || !finite(n.Position.Y) {
			v.invalid(f.s()+".position", node, "", "the position must be finite numbers: give x and y in pixels")
		}
		if c := utf8.RuneCountInString(n.Name); c > wf.MaxNameLength || !utf8.ValidString(n.Name) {
			v.invalid(f.s()+".name", node, "", fmt.Sprintf("the label has %d characters: shorten it to at most %d", c, wf.MaxNameLength))
		} else if hasControl(n.Name) {
			v.invalid(f.s()+".name", node, "", "the label contains control characters: remove them")
		}
	}

	// A processing may read or write several paths of one storage: storage
	// links are the same only with the same paths too.
	type linkKey struct {
		kind                wf.LinkKind
		from, to            string
		source, destination string
	}
	linkIndex := make(map[string]int, len(g.Links))
	seenLink := make(map[linkKey]int, len(g.Links))
	computes := make([][]int, len(g.Nodes)) // compute links leaving each processing
	var deps [][2]int                       // dependency links between processings: node indices, then link index
	var depLinks []int
	var moves []move // storage links between valid nodes, with valid paths
	for j := range g.Links {
		l := &g.Links[j]
		f := where{"graph.links", j}
		link := ""
		if validID(l.ID) {
			link = l.ID
		}
		switch {
		case l.ID == "":
			v.invalid(f.s()+".id", "", "", "give the link an id: 1 to 64 characters of A-Z a-z 0-9 _ . -")
		case !validID(l.ID):
			v.invalid(f.s()+".id", "", "", fmt.Sprintf("link id %s is not 1 to 64 characters of A-Z a-z 0-9 _ . -: change it", quote(l.ID)))
		}
		if first, dup := linkIndex[l.ID]; dup && l.ID != "" {
			v.add(wf.Problem{Code: wf.ProblemDuplicateID, Field: f.s() + ".id", Link: link,
				Message: fmt.Sprintf("link id %s is used by %s and %s: give each link its own id", quote(l.ID), linkField(first), f.s())})
		} else if l.ID != "" {
			linkIndex[l.ID] = j
		}
		pair, kindKnown := allowed[l.Kind]
		if !kindKnown {
			v.invalid(f.s()+".kind", "", link, fmt.Sprintf("link kind %s is unknown: use data, dependency, storage_read, storage_write or compute", quote(string(l.Kind))))
		}
		t, pathsOK := v.paths(l, f, link)
		from, fromOK := v.end(g, index, l.From, f, ".from", link, l.ID, "starts")
		to, toOK := v.end(g, index, l.To, f, ".to", link, l.ID, "ends")
		if fromOK && toOK && from == to {
			v.add(wf.Problem{Code: wf.ProblemSelfLoop, Field: f.s() + ".to", Link: link, Node: idOf(g, from),
				Message: fmt.Sprintf("link %s goes from node %s to itself: point \"to\" at another node or remove the link", label(l.ID, f.s()), label(l.From, nodeField(from)))})
			fromOK, toOK = false, false
		}
		if kindKnown && fromOK && toOK && kindOK[from] && kindOK[to] {
			fk, tk := g.Nodes[from].Kind, g.Nodes[to].Kind
			if fk != pair[0] || tk != pair[1] {
				field := f.s() + ".kind"
				switch {
				case fk != pair[0] && tk == pair[1]:
					field = f.s() + ".from"
				case fk == pair[0] && tk != pair[1]:
					field = f.s() + ".to"
				}
				v.add(wf.Problem{Code: wf.ProblemLinkNotAllowed, Field: field, Link: link,
					Message: fmt.Sprintf("a %s link goes from %s to %s; this one goes from %s %s to %s %s: change the link's kind or its ends",
						l.Kind, article(pair[0]), article(pair[1]),
						fk, label(l.From, nodeField(from)), tk, label(l.To, nodeField(to)))})
			} else {
				key := linkKey{kind: l.Kind, from: l.From, to: l.To}
				if l.Kind == wf.LinkStorageRead || l.Kind == wf.LinkStorageWrite {
					key.source, key.destination = l.Source, l.Destination
				}
				if first, dup := seenLink[key]; dup {
					v.add(wf.Problem{Code: wf.ProblemDuplicateLink, Field: f.s(), Link: link,
						Message: fmt.Sprintf("%s and %s are both %s links from %s to %s%s: remove one", linkField(first), f.s(), l.Kind, label(l.From, nodeField(from)), label(l.To, nodeField(to)), samePaths(l))})
				} else {
					seenLink[key] = j
					switch l.Kind {
					case wf.LinkDependency:
						deps = append(deps, [2]int{from, to})
						depLinks = append(depLinks, j)
					case wf.LinkStorageRead:
						if pathsOK {
							moves = append(moves, move{link: j, read: true, proc: to, storage: g.Nodes[from].Resource, t: t})
						}
					case wf.LinkStorageWrite:
						if pathsOK {
							moves = append(moves, move{link: j, proc: from, storage: g.Nodes[to].Resource, t: t,
								contents: wf.IsDirectory(l.Source)})
						}
					}
				}
			}
		}
		if l.Kind == wf.LinkCompute && fromOK && kindOK[from] && g.Nodes[from].Kind == resource.KindProcessing {
			computes[from] = append(computes[from], j)
		}
	}

	for i := range g.Nodes {
		n := &g.Nodes[i]
		if !kindOK[i] || n.Kind != resource.KindProcessing || index[n.ID] != i {
			continue
		}
		switch c := computes[i]; {
		case len(c) == 0:
			name, node := label(n.ID, nodeField(i)), idOf(g, i)
			v.add(wf.Problem{Code: wf.ProblemNoCompute, Field: nodeField(i), Node: node,
				Message: fmt.Sprintf("processing %s has no compute: add one compute link from it to a compute node", name)})
		case len(c) > 1:
			name, node := label(n.ID, nodeField(i)), idOf(g, i)
			ids := make([]string, len(c))
			for k, j := range c {
				ids[k] = label(g.Links[j].ID, linkField(j))
			}
			v.add(wf.Problem{Code: wf.ProblemSeveralComputes, Field: nodeField(i), Node: node,
				Message: fmt.Sprintf("processing %s has %d compute links (%s): keep exactly one", name, len(c), strings.Join(ids, ", "))})
		}
	}
	v.cycles(g, deps, depLinks)
	v.storage(g, moves, deps)
}

func samePaths(l *wf.Link) string {
	if l.Kind == wf.LinkStorageRead || l.Kind == wf.LinkStorageWrite {
		return " with the same source and destination"
	}
	return ""
}

// idOf is node i's id when it is a valid id ("" otherwise).
func idOf(g *wf.Graph, i int) string {
	if validID(g.Nodes[i].ID) {
		return g.Nodes[i].ID
	}
	return ""
}

// end resolves one end of a link to a node index.
func (v *checker) end(g *wf.Graph, index map[string]int, id string, f where, suffix, link, linkID, verb string) (int, bool) {
	if id == "" {
		which := "from"
		if verb == "ends" {
			which = "to"
		}
		v.invalid(f.s()+suffix, "", link, fmt.Sprintf("link %s has no %q: give the id of the node it %s at", label(linkID, f.s()), which, verb))
		return 0, false
	}
	i, ok := index[id]
	if !ok {
		which := "from"
		if verb == "ends" {
			which = "to"
		}
		v.add(wf.Problem{Code: wf.ProblemDanglingLink, Field: f.s() + suffix, Link: link,
			Message: fmt.Sprintf("link %s %s at %s, which is not a node of the graph: add that node or change %q", label(linkID, f.s()), verb, quote(id), which)})
		return 0, false
	}
	return i, true
}

// paths checks a link's source and destination; for a storage link whose
// paths are both valid, it returns what the link moves and true.
func (v *checker) paths(l *wf.Link, f where, link string) (wf.Transfer, bool) {
	storage := l.Kind == wf.LinkStorageRead || l.Kind == wf.LinkStorageWrite
	ok := storage
	for _, p := range []struct{ field, value, read, write string }{
		{"source", l.Source, "the key or prefix to read in the bucket", "the path in the container to write out"},
		{"destination", l.Destination, "the path in the container the data lands at", "the key or prefix to write in the bucket"},
	} {
		switch {
		case !storage && p.value != "":
			if _, known := allowed[l.Kind]; known {
				v.invalid(f.s()+"."+p.field, "", link, fmt.Sprintf("only storage_read and storage_write links carry paths; %s is a %s link: remove %q", label(l.ID, f.s()), l.Kind, p.field))
			}
		case !storage:
		case p.value == "":
			ok = false
			what := p.read
			if l.Kind == wf.LinkStorageWrite {
				what = p.write
			}
			v.add(wf.Problem{Code: wf.ProblemMissingPath, Field: f.s() + "." + p.field, Link: link,
				Message: fmt.Sprintf("%s link %s has no %s: give %s", l.Kind, label(l.ID, f.s()), p.field, what)})
		case len(p.value) > wf.MaxPathLength:
			ok = false
			v.invalid(f.s()+"."+p.field, "", link, fmt.Sprintf("the %s has %d bytes: shorten it to at most %d", p.field, len(p.value), wf.MaxPathLength))
		case !utf8.ValidString(p.value) || hasControl(p.value):
			ok = false
			v.invalid(f.s()+"."+p.field, "", link, fmt.Sprintf("the %s contains control characters or invalid UTF-8: remove them", p.field))
		default:
			// The bucket's side is the source of a read and the destination of a write.
			inBucket := (p.field == "source") == (l.Kind == wf.LinkStorageRead)
			var why string
			if inBucket {
				why = wf.BucketPathProblem(p.value)
			} else {
				why = wf.ContainerPathProblem(p.value)
			}
			if why != "" {
				ok = false
				v.add(wf.Problem{Code: wf.ProblemInvalidPath, Field: f.s() + "." + p.field, Link: link,
					Message: fmt.Sprintf("%s link %s: the %s %s %s", l.Kind, label(l.ID, f.s()), p.field, quote(p.value), why)})
			}
		}
	}
	if !ok {
		return wf.Transfer{}, false
	}
	if l.Kind == wf.LinkStorageRead {
		return wf.ReadTransfer(l.Source, l.Destination), true
	}
	t, mismatch := wf.WriteTransfer(l.Source, l.Destination)
	if mismatch != "" {
		v.add(wf.Problem{Code: wf.ProblemPathMismatch, Field: f.s() + ".destination", Link: link,
			Message: fmt.Sprintf("storage_write link %s %s", label(l.ID, f.s()), mismatch)})
		return t, false
	}
	return t, true
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// cycles reports each loop among dependency links once: one problem per
// strongly connected component of more than one node, with one cycle of it.
// Tarjan's algorithm runs with an explicit stack so that a chain of ten
// thousand nodes does not recurse ten thousand deep.
func (v *checker) cycles(g *wf.Graph, deps [][2]int, depLinks []int) {
	if len(deps) == 0 {
		return
	}
	n := len(g.Nodes)
	// Adjacency in CSR form: out[start[u]:start[u+1]] are u's successors, in link order.
	start := make([]int, n+1)
	for _, d := range deps {
		start[d[0]+1]++
	}
	for u := range n {
		start[u+1] += start[u]
	}
	out := make([]int, len(deps))
	via := make([]int, len(deps)) // the link of each edge
	fill := slices.Clone(start[:n])
	for k, d := range deps {
		out[fill[d[0]]] = d[1]
		via[fill[d[0]]] = depLinks[k]
		fill[d[0]]++
	}

	const unvisited = -1
	idx := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	comp := make([]int, n)
	for i := range idx {
		idx[i], comp[i] = unvisited, unvisited
	}
	var stack []int
	type frame struct{ u, next int }
	var call []frame
	counter, comps := 0, 0
	var sccs [][]int
	for root := range n {
		if idx[root] != unvisited || start[root] == start[root+1] {
			continue
		}
		call = append(call[:0], frame{root, start[root]})
		idx[root], low[root] = counter, counter
		counter++
		stack = append(stack, root)
		onStack[root] = true
		for len(call) > 0 {
			top := &call[len(call)-1]
			u := top.u
			if top.next < start[u+1] {
				w := out[top.next]
				top.next++
				if idx[w] == unvisited {
					idx[w], low[w] = counter, counter
					counter++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{w, start[w]})
				} else if onStack[w] {
					low[u] = min(low[u], idx[w])
				}
				continue
			}
			call = call[:len(call)-1]
			if len(call) > 0 {
				parent := call[len(call)-1].u
				low[parent] = min(low[parent], low[u])
			}
			if low[u] == idx[u] {
				var members []int
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp[w] = comps
					members = append(members, w)
					if w == u {
						break
					}
				}
				if len(members) > 1 {
					sccs = append(sccs, members)
				}
				comps++
			}
		}
	}

	prev := make([]int, n)
	prevLink := make([]int, n)
	for _, members := range sccs {
		first := slices.Min(members)
		c := comp[first]
		// Breadth-first from first, within its component, back to first:
		// the shortest loop through it.
		for _, m := range members {
			prev[m] = unvisited
		}
		queue := []int{first}
		closing := -1 // the node whose link closes the loop
		closingLink := -1
		for len(queue) > 0 && closing < 0 {
			u := queue[0]
			queue = queue[1:]
			for e := start[u]; e < start[u+1]; e++ {
				w := out[e]
				if comp[w] != c {
					continue
				}
				if w == first {
					closing, closingLink = u, via[e]
					break
				}
				if prev[w] == unvisited {
					prev[w], prevLink[w] = u, via[e]
					queue = append(queue, w)
				}
			}
		}
		path := []string{g.Nodes[first].ID}
		var back []string
		for u := closing; u != first; u = prev[u] {
			back = append(back, g.Nodes[u].ID)
		}
		slices.Reverse(back)
		path = append(path, back...)
		path = append(path, g.Nodes[first].ID)
		shown := make([]string, len(path))
		for k, id := range path {
			shown[k] = quote(id)
		}
		l := g.Links[closingLink]
		v.add(wf.Problem{Code: wf.ProblemCycle, Field: linkField(closingLink), Node: idOf(g, first), Link: linkIDOf(l.ID), Path: path,
			Message: fmt.Sprintf("dependency links loop: %s; a workflow must not depend on itself: remove or reverse one of these links (for instance %s)",
				strings.Join(shown, " → "), label(l.ID, linkField(closingLink)))})
	}
}

func linkIDOf(id string) string {
	if validID(id) {
		return id
	}
	return ""
}

// checkResources compares each node with what the catalog says of its resource.
func checkResources(g *wf.Graph, facts Facts, probs, warns []wf.Problem) ([]wf.Problem, []wf.Problem) {
	if len(facts.Resources) == 0 {
		return probs, warns
	}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		fact, ok := facts.Resources[n.Resource]
		if !ok || !slices.Contains(nodeKinds, n.Kind) {
			continue
		}
		if fact.Found && fact.Kind == n.Kind && fact.Unavailable == "" {
			continue
		}
		f := nodeField(i)
		node := idOf(g, i)
		ref := quote(n.Resource.String())
		switch {
		case fact.Unavailable != "":
			warns = append(warns, wf.Problem{Code: wf.ProblemUnavailable, Field: f + ".resource", Node: node,
				Message: fmt.Sprintf("resource %s could not be checked: %s; it will be checked when its peer can be reached", ref, fact.Unavailable)})
		case !fact.Found:
			probs = append(probs, wf.Problem{Code: wf.ProblemResourceNotFound, Field: f + ".resource.id", Node: node,
				Message: fmt.Sprintf("resource %s does not exist or you may not see it: pick a resource you can see in the catalog", ref)})
		case fact.Kind != n.Kind:
			probs = append(probs, wf.Problem{Code: wf.ProblemKindMismatch, Field: f + ".kind", Node: node,
				Message: fmt.Sprintf("node %s is %s but resource %s is %s: set the node's kind to %q or pick %s resource",
					label(n.ID, f), article(n.Kind), ref, article(fact.Kind), fact.Kind, article(n.Kind))})
		}
	}
	return probs, warns
}

// checkRules turns the violations of collaborative-area rules into problems
// on the nodes that use the offending resource.
func checkRules(g *wf.Graph, facts Facts, probs, warns []wf.Problem) ([]wf.Problem, []wf.Problem) {
	if len(facts.Violations) == 0 && len(facts.Unchecked) == 0 {
		return probs, warns
	}
	nodesOf := make(map[resource.Ref][]int, len(g.Nodes))
	for i := range g.Nodes {
		nodesOf[g.Nodes[i].Resource] = append(nodesOf[g.Nodes[i].Resource], i)
	}
	for _, vi := range facts.Violations {
		msg := fmt.Sprintf("breaks rule %s (%s) of collaborative area %s: %s; remove or replace this resource, or ask the area's admins to change the rule",
			quote(vi.RuleID), vi.RuleKind, quote(vi.AreaName), vi.Message)
		nodes := nodesOf[vi.Resource]
		if len(nodes) == 0 {
			probs = append(probs, wf.Problem{Code: wf.ProblemRuleBroken, Field: "graph", Area: vi.AreaID, Rule: vi.RuleID,
				Message: fmt.Sprintf("resource %s %s", quote(vi.Resource.String()), msg)})
			continue
		}
		for _, i := range nodes {
			probs = append(probs, wf.Problem{Code: wf.ProblemRuleBroken, Field: nodeField(i) + ".resource", Node: idOf(g, i),
				Area: vi.AreaID, Rule: vi.RuleID,
				Message: fmt.Sprintf("node %s (resource %s) %s", label(g.Nodes[i].ID, nodeField(i)), quote(vi.Resource.String()), msg)})
		}
	}
	for _, u := range facts.Unchecked {
		field := "graph"
		node := ""
		if nodes := nodesOf[u.Resource]; len(nodes) > 0 {
			field, node = nodeField(nodes[0])+".resource", idOf(g, nodes[0])
		}
		warns = append(warns, wf.Problem{Code: wf.ProblemUnavailable, Field: field, Node: node,
			Message: fmt.Sprintf("the rules of collaborative areas could not be checked on resource %s: %s", quote(u.Resource.String()), u.Reason)})
	}
	return probs, warns
}

// SortProblems orders problems by field path, numbers in it compared as
// numbers (graph.nodes[9] before graph.nodes[10]), then by code and message.
func SortProblems(ps []wf.Problem) {
	slices.SortStableFunc(ps, func(a, b wf.Problem) int {
		if c := naturalCompare(a.Field, b.Field); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Code, b.Code); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Area, b.Area); c != 0 {
			return c
		}
		return cmp.Compare(a.Message, b.Message)
	})
}

func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			i, j := digits(a), digits(b)
			na, nb := strings.TrimLeft(a[:i], "0"), strings.TrimLeft(b[:j], "0")
			if c := cmp.Compare(len(na), len(nb)); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[i:], b[j:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digits(s string) int {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// ValidRef reports whether r is a well-formed reference: peer and id of 1
// to 128 characters of A-Z a-z 0-9 _ . - :
func ValidRef(r resource.Ref) bool { return validRefPart(r.Peer) && validRefPart(r.ID) }
