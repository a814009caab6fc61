package catalog

import (
	"slices"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/resource"
)

// Viewer is who a list is filtered for: the storage adapter turns it into a
// query that selects exactly the resources CanSee lets through, so that a
// list and a get never disagree.
type Viewer struct {
	All     bool // an admin: no restriction
	Subject string
	Groups  []string
	// Remote is set for another peer's call: it sees public resources,
	// partners resources when it is a partner, and groups resources
	// shared with one of its peer groups; never private ones, and it owns
	// nothing here.
	Remote *authn.Remote
}

// ViewerOf returns the viewer a principal is.
func ViewerOf(p authn.Principal) Viewer {
	if p.Remote != nil {
		return Viewer{Remote: p.Remote}
	}
	return Viewer{All: p.IsAdmin(), Subject: p.Subject, Groups: p.Groups}
}

// CanSee reports whether p may read r. Admins see everything and owners see
// their own resources whatever the visibility; otherwise public and partners
// resources are visible to every user of this peer, groups resources to
// members of one of the groups, and private ones to nobody else. Another
// peer's call (whichever user it is made for) sees public resources,
// partners ones when the peer is a partner, and groups ones listing one of
// its peer groups.
func CanSee(p authn.Principal, r resource.Resource) bool {
	if rm := p.Remote; rm != nil {
		switch r.Visibility {
		case resource.Public:
			return true
		case resource.Partners:
			return rm.Partner
		case resource.Groups:
			return slices.ContainsFunc(r.Groups, p.InPeerGroup)
		}
		return false
	}
	if p.IsAdmin() || isOwner(p, r) {
		return true
	}
	switch r.Visibility {
	case resource.Public, resource.Partners:
		return true
	case resource.Groups:
		return slices.ContainsFunc(r.Groups, p.InGroup)
	}
	return false
}

// CanEdit reports whether p may change or delete r.
func CanEdit(p authn.Principal, r resource.Resource) bool {
	return p.IsAdmin() || isOwner(p, r)
}

func isOwner(p authn.Principal, r resource.Resource) bool {
	return p.Remote == nil && p.Subject != "" && slices.Contains(r.Owners, p.Subject)
}
