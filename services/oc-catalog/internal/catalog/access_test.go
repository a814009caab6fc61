package catalog

import (
	"testing"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/resource"
)

func TestAccess(t *testing.T) {
	alice := authn.Principal{Subject: "alice", Groups: []string{"lab-a"}, Roles: []string{authn.RoleUser}}
	bob := authn.Principal{Subject: "bob", Groups: []string{"lab-b"}, Roles: []string{authn.RoleUser}}
	admin := authn.Principal{Subject: "root", Roles: []string{authn.RoleAdmin}}
	owned := func(v resource.Visibility, groups ...string) resource.Resource {
		return resource.Resource{Owners: []string{"alice"}, Visibility: v, Groups: groups}
	}
	tests := []struct {
		name    string
		p       authn.Principal
		r       resource.Resource
		see     bool
		canEdit bool
	}{
		{"owner, private", alice, owned(resource.Private), true, true},
		{"other, private", bob, owned(resource.Private), false, false},
		{"other, public", bob, owned(resource.Public), true, false},
		{"other, partners", bob, owned(resource.Partners), true, false},
		{"other in group", bob, owned(resource.Groups, "lab-b", "lab-c"), true, false},
		{"other not in group", bob, owned(resource.Groups, "lab-a"), false, false},
		{"owner not in group", alice, owned(resource.Groups, "lab-z"), true, true},
		{"admin, private", admin, owned(resource.Private), true, true},
		{"no subject", authn.Principal{}, resource.Resource{Owners: []string{""}, Visibility: resource.Private}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CanSee(tt.p, tt.r); got != tt.see {
				t.Errorf("CanSee = %v, want %v", got, tt.see)
			}
			if got := CanEdit(tt.p, tt.r); got != tt.canEdit {
				t.Errorf("CanEdit = %v, want %v", got, tt.canEdit)
			}
		})
	}
}
