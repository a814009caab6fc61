package resource

import "time"

// States of a peer in a search answer.
const (
	PeerAnswered = "answered"
	PeerTimeout  = "timeout"
	PeerOffline  = "offline"
	PeerRefused  = "refused"
	PeerFailed   = "error"
)

// PeerResult is what one peer gave to a search across peers.
type PeerResult struct {
	Peer string `json:"peer"`
	Name string `json:"name"`
	// Self is true for this peer's own catalog.
	Self bool `json:"self,omitempty"`
	// State is answered, timeout, offline, refused or error.
	State string `json:"state" enums:"answered,timeout,offline,refused,error"`
	// Total is how many of the peer's resources match.
	Total int64 `json:"total"`
	// TookMillis is how long the peer took, or was waited for.
	TookMillis float64 `json:"took_ms"`
	// FetchedAt is when the results were read: they are live, as of then.
	FetchedAt *time.Time `json:"fetched_at,omitempty"`
	// Error says why the peer gave nothing.
	Error string `json:"error,omitempty"`
}

// SearchResult answers GET /catalog/search.
type SearchResult struct {
	// Items are this page of the merged, ordered results; each carries
	// its owning peer in peer_id.
	Items []Resource `json:"items"`
	// Total is the sum of the totals of the peers that answered.
	Total  int64 `json:"total"`
	Limit  int   `json:"limit"`
	Offset int   `json:"offset"`
	// Partial is true when a peer asked did not answer.
	Partial bool         `json:"partial"`
	Peers   []PeerResult `json:"peers"`
}
