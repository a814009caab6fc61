// Package workflow holds the wire types of oc-workflow: a workflow's graph
// (nodes referencing resources, links of a kind), what a caller writes, what
// the service answers, the problems validation reports, and the portable
// export form. The rules that make a graph valid live in oc-workflow.
//
// A graph, as JSON:
//
//	{"nodes": [
//	   {"id": "tiles", "kind": "data", "resource": {"peer": "local", "id": "…"}, "position": {"x": 0, "y": 0}},
//	   {"id": "ndvi", "kind": "processing", "resource": {"peer": "local", "id": "…"}, "position": {"x": 200, "y": 0}},
//	   {"id": "k8s", "kind": "compute", "resource": {"peer": "local", "id": "…"}, "position": {"x": 200, "y": 150}},
//	   {"id": "out", "kind": "storage", "resource": {"peer": "local", "id": "…"}, "position": {"x": 400, "y": 0}}],
//	 "links": [
//	   {"id": "l1", "kind": "data", "from": "tiles", "to": "ndvi"},
//	   {"id": "l2", "kind": "compute", "from": "ndvi", "to": "k8s"},
//	   {"id": "l3", "kind": "storage_write", "from": "ndvi", "to": "out",
//	    "source": "/out/ndvi.tif", "destination": "results/ndvi.tif"}]}
package workflow

import (
	"time"

	"github.com/opencloud/opencloud/libs/resource"
)

// LinkKind says what a link means. Each kind joins two node kinds in one
// direction only.
type LinkKind string

// Link kinds.
const (
	// LinkData: data → processing; the processing reads the data.
	LinkData LinkKind = "data"
	// LinkDependency: processing → processing; the target starts once the
	// source has succeeded. These links must not form a cycle.
	LinkDependency LinkKind = "dependency"
	// LinkStorageRead: storage → processing; the processing reads Source
	// (a key or prefix in the bucket) into Destination (a path in its container).
	LinkStorageRead LinkKind = "storage_read"
	// LinkStorageWrite: processing → storage; the processing writes Source
	// (a path in its container) to Destination (a key or prefix in the bucket).
	LinkStorageWrite LinkKind = "storage_write"
	// LinkCompute: processing → compute; where the processing runs. Every
	// processing has exactly one.
	LinkCompute LinkKind = "compute"
)

// LinkKinds lists every link kind.
var LinkKinds = []LinkKind{LinkData, LinkDependency, LinkStorageRead, LinkStorageWrite, LinkCompute}

// Limits of a graph. Beyond them a workflow is refused as too large.
const (
	MaxNodes      = 10000
	MaxLinks      = 50000
	MaxIDLength   = 64   // node and link ids
	MaxNameLength = 200  // node labels and workflow names
	MaxPathLength = 1024 // storage link paths
)

// Position is where the editor draws a node.
type Position struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Node is one resource placed in the graph.
type Node struct {
	// ID is unique in the graph: 1 to 64 characters of A-Z a-z 0-9 _ . -
	ID string `json:"id" validate:"required" example:"ndvi"`
	// Kind is the kind of the referenced resource; a workflow cannot be a node.
	Kind resource.Kind `json:"kind" validate:"required" enums:"data,processing,storage,compute" example:"processing"`
	// Resource is the resource the node stands for, on any peer.
	Resource resource.Ref `json:"resource"`
	// Name is the label the editor shows; default: the resource's name.
	Name     string   `json:"name,omitempty"`
	Position Position `json:"position"`
}

// Link joins two nodes.
type Link struct {
	// ID is unique among links: 1 to 64 characters of A-Z a-z 0-9 _ . -
	ID   string   `json:"id" validate:"required" example:"l1"`
	Kind LinkKind `json:"kind" validate:"required" enums:"data,dependency,storage_read,storage_write,compute"`
	From string   `json:"from" validate:"required" example:"ndvi"`
	To   string   `json:"to" validate:"required" example:"k8s"`
	// Source is, on a storage_write link, the absolute path in the container
	// written out: a file, or a directory (taken whole, or its contents only
	// when the path ends in /). On a storage_read link, what is read in the
	// bucket: an exact key (results/ndvi.tif), or a prefix ending in /
	// (results/) whose objects are all fetched.
	Source string `json:"source,omitempty" example:"/out/ndvi.tif"`
	// Destination is, on a storage_write link, where it goes in the bucket:
	// an exact key, or a prefix ending in / under which the file or
	// directory keeps its name (/out/ndvi.tif to results/ is the object
	// results/ndvi.tif; the contents of /out/tiles/ go under results/
	// directly). On a storage_read link, the absolute path in the container
	// it lands at: a prefix read becomes that directory; an exact key becomes
	// that file, or keeps its name in a directory ending in / (/in/).
	// Keys are relative to the bucket, without "." or ".." segments.
	Destination string `json:"destination,omitempty" example:"results/ndvi.tif"`
}

// Graph is a workflow's nodes and links.
type Graph struct {
	Nodes []Node `json:"nodes"`
	Links []Link `json:"links"`
}

// Input is what a caller writes: the body of a create, a replace and a validate.
type Input struct {
	// Name: 1 to 200 characters.
	Name        string   `json:"name" validate:"required" example:"NDVI over Paris"`
	Description string   `json:"description,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Graph       Graph    `json:"graph"`
	// Version, on a replace, is the version being replaced (an alternative
	// to If-Match). Refused on create.
	Version int64 `json:"version,omitempty"`
}

// Workflow is a workflow as oc-workflow serves it.
type Workflow struct {
	ID          string   `json:"id" example:"6b0e3c6c-4d0a-4d21-9a43-0e4c1d7b9f10"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Tags        []string `json:"tags"`
	Graph       Graph    `json:"graph"`
	// Owner is the subject of the user who owns it (the creator).
	Owner string `json:"owner"`
	// WorkspaceID is the workspace holding exactly the resources the graph
	// uses, kept in step by oc-workflow (named "<name>_workspace").
	WorkspaceID string `json:"workspace_id,omitempty"`
	// WorkspaceInSync is false when the last change could not be carried to
	// the workspace; the next read or write by the owner retries it.
	WorkspaceInSync bool `json:"workspace_in_sync"`
	// PublishedAs is the id of the catalog resource this workflow was
	// published as, if it was.
	PublishedAs string `json:"published_as,omitempty"`
	// Warnings are what could not be checked now (a partner's resource
	// while its peer is unreachable); they do not stop a save.
	Warnings  []Problem `json:"warnings,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Version is 1 on creation and grows by one on every change; it is the ETag.
	Version int64 `json:"version" example:"1"`
}

// Page is one page of a list of workflows.
type Page struct {
	Items  []Workflow `json:"items"`
	Total  int64      `json:"total"`
	Limit  int        `json:"limit"`
	Offset int        `json:"offset"`
}

// Problem codes.
const (
	ProblemInvalidField     = "invalid_field"      // a field's value is malformed (Field says which)
	ProblemTooLarge         = "too_large"          // beyond a limit
	ProblemDuplicateID      = "duplicate_id"       // two nodes or two links share an id
	ProblemDanglingLink     = "dangling_link"      // a link names a node that is not in the graph
	ProblemSelfLoop         = "self_loop"          // a link from a node to itself
	ProblemLinkNotAllowed   = "link_not_allowed"   // this kind of link cannot join these node kinds
	ProblemDuplicateLink    = "duplicate_link"     // the same kind of link twice between the same nodes (storage links: with the same paths too)
	ProblemCycle            = "cycle"              // dependency links loop; Path is the loop
	ProblemNoCompute        = "no_compute"         // a processing without a compute link
	ProblemSeveralComputes  = "several_computes"   // a processing with more than one compute link
	ProblemMissingPath      = "missing_path"       // a storage link without source or destination
	ProblemInvalidPath      = "invalid_path"       // a storage link's path cannot work: a key that is empty, absolute or has ".."; a container path that is not absolute and clean
	ProblemPathMismatch     = "path_mismatch"      // a storage link's source and destination do not fit: a directory's contents written to a single key
	ProblemPathConflict     = "path_conflict"      // two reads of one processing land at the same container path, or one inside the other
	ProblemWriteConflict    = "write_conflict"     // two storage_write links store the same key of one storage
	ProblemReadMismatch     = "read_mismatch"      // a read cannot get what the workflow writes there: one object read where a directory is written
	ProblemUnorderedRead    = "unordered_read"     // (a warning) a processing reads what another writes without depending on it
	ProblemResourceNotFound = "resource_not_found" // the resource does not exist or the caller may not see it
	ProblemKindMismatch     = "kind_mismatch"      // the node's kind is not the resource's kind
	ProblemUnavailable      = "resource_unavailable"
	ProblemRuleBroken       = "rule_broken" // a rule of a collaborative area holding the workflow
)

// Problem is one thing wrong with a workflow: what, where, and what to change.
type Problem struct {
	Code string `json:"code" example:"no_compute"`
	// Node is the id of the node concerned, if one is.
	Node string `json:"node,omitempty" example:"ndvi"`
	// Link is the id of the link concerned, if one is.
	Link string `json:"link,omitempty"`
	// Field is the JSON path of the field concerned ("graph.nodes[3].id").
	Field string `json:"field,omitempty"`
	// Path is, for a cycle, the node ids around the loop, the first repeated last.
	Path []string `json:"path,omitempty"`
	// Area and Rule name the collaborative area and rule of a rule_broken.
	Area string `json:"area,omitempty"`
	Rule string `json:"rule,omitempty"`
	// Message says what is wrong and what to change.
	Message string `json:"message" example:"processing \"ndvi\" has no compute: add one compute link from it to a compute node"`
}

// Validation is the answer of POST /workflow/workflows/validate, and the
// details of a 400 invalid_workflow.
type Validation struct {
	Valid    bool      `json:"valid"`
	Problems []Problem `json:"problems"`
	Warnings []Problem `json:"warnings,omitempty"`
}

// ExportFormat names the export document's format and version.
const ExportFormat = "opencloud.workflow/v1"

// Export is a workflow in portable form: GET …/export answers it and POST
// …/import takes it. Every reference carries its peer id, so an export
// imported on another peer still points at the same resources.
type Export struct {
	Format      string    `json:"format" validate:"required" example:"opencloud.workflow/v1"`
	Name        string    `json:"name" validate:"required"`
	Description string    `json:"description,omitempty"`
	Tags        []string  `json:"tags,omitempty"`
	Graph       Graph     `json:"graph"`
	ExportedBy  string    `json:"exported_by,omitempty" example:"local"` // the exporting peer
	ExportedAt  time.Time `json:"exported_at,omitzero"`
}

// Publish is the body of POST /workflow/workflows/{id}/publish: how the
// workflow is offered in the catalog.
type Publish struct {
	Visibility resource.Visibility `json:"visibility" enums:"public,partners,groups,private" example:"partners"`
	// Groups is required when Visibility is "groups".
	Groups []string `json:"groups,omitempty"`
	// ShortDescription and Pricing go to the catalog resource as they are;
	// the name, description and tags are the workflow's.
	ShortDescription string            `json:"short_description,omitempty"`
	License          string            `json:"license,omitempty"`
	Pricing          *resource.Pricing `json:"pricing,omitempty"`
}

// Usage is what a workflow uses, as collaborative-area rules need it: every
// resource its nodes reference, and the storages it writes to.
type Usage struct {
	Resources []resource.Ref `json:"resources"`
	Writes    []resource.Ref `json:"writes"`
}

// UsageOf derives a graph's usage: distinct references in node order, and
// the storages at the end of storage_write links.
func UsageOf(g Graph) Usage {
	u := Usage{Resources: []resource.Ref{}, Writes: []resource.Ref{}}
	byID := make(map[string]resource.Ref, len(g.Nodes))
	seen := make(map[resource.Ref]bool, len(g.Nodes))
	for _, n := range g.Nodes {
		byID[n.ID] = n.Resource
		if !seen[n.Resource] {
			seen[n.Resource] = true
			u.Resources = append(u.Resources, n.Resource)
		}
	}
	written := map[resource.Ref]bool{}
	for _, l := range g.Links {
		if l.Kind != LinkStorageWrite {
			continue
		}
		if r, ok := byID[l.To]; ok && !written[r] {
			written[r] = true
			u.Writes = append(u.Writes, r)
		}
	}
	return u
}
