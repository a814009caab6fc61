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
}

// ViewerOf returns the viewer a principal is.
func ViewerOf(p authn.Principal) Viewer {
	return Viewer{All: p.IsAdmin(), Subject: p.Subject, Groups: p.Groups}
}

// CanSee reports whether p may read r. Admins see everything and owners see
// their own resources whatever the visibility; otherwise public and partners
// resources are visible to every user of this peer (partner peers are
// checked when their calls arrive, not here), groups resources to members of
// one of the groups, and private ones to nobody else.
func CanSee(p authn.Principal, r resource.Resource) bool {
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
	return p.Subject != "" && slices.Contains(r.Owners, p.Subject)
}
