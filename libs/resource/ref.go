package resource

// Ref points at a resource of any peer: the peer that owns and serves it,
// and the resource's id there. Workspaces, workflow nodes and collaborative
// areas hold Refs, never copies, so a resource is described in one place.
//
//	{"peer": "local", "id": "3f1c2a9e-6a43-4d3b-9a55-1a2b3c4d5e6f"}
type Ref struct {
	// Peer is the id of the owning peer (its self-certifying peer id). A service
	// receiving "" stores this peer's own id instead.
	Peer string `json:"peer" example:"local"`
	// ID is the resource's id in the owning peer's catalog.
	ID string `json:"id" validate:"required" example:"3f1c2a9e-6a43-4d3b-9a55-1a2b3c4d5e6f"`
}

// String is "peer/id", the form messages and logs show.
func (r Ref) String() string { return r.Peer + "/" + r.ID }

// MaxLookup is the most ids one lookup may ask for.
const MaxLookup = 1000

// Lookup is the body of POST /catalog/resources/lookup: the ids of local
// resources to fetch in one call.
type Lookup struct {
	IDs []string `json:"ids" validate:"required"`
}

// LookupResult answers a Lookup: the resources the caller may see, in the
// order asked, and the ids that are unknown or invisible to the caller
// (the two are not told apart, as on GET).
type LookupResult struct {
	Items   []Resource `json:"items"`
	Missing []string   `json:"missing"`
}
