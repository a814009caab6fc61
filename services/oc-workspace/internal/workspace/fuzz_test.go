package workspace

import (
	"testing"
	"unicode/utf8"

	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/server"
	wire "github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/internal/errs"
)

// FuzzWorkspaceInput decodes a workspace body strictly and validates it:
// never a panic, and what passes is normalised (peers filled in, no
// duplicates) and within the limits.
func FuzzWorkspaceInput(f *testing.F) {
	for _, s := range []string{
		`{"name":"Paris NDVI","resources":[{"id":"a"},{"peer":"local","id":"a"},{"peer":"b","id":"c"}]}`,
		`{"name":"x","description":"d","version":2}`,
		`{"name":""}`, `{"name":"  "}`, `{"name":"x","resources":[{"id":""}]}`,
		`{"name":"x","resources":[{"peer":"a b","id":"x"}]}`, `{"name":"x","resources":null}`,
		`{"name":"\u0000"}`, `{"name":"x","extra":1}`, `null`, `{"name":"x"} {}`,
	} {
		f.Add([]byte(s))
	}
	s := &Service{peerID: "local"}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in wire.Input
		if err := server.DecodeBytes(body, &in); err != nil {
			return
		}
		var probs errs.Problems
		refs := s.check(&probs, in.Name, in.Description, in.Resources)
		if len(probs) > 0 {
			return
		}
		if n := utf8.RuneCountInString(in.Name); n == 0 || n > wire.MaxNameLength {
			t.Fatalf("name of %d characters passed", n)
		}
		if len(refs) > len(in.Resources) || len(refs) > wire.MaxResources {
			t.Fatalf("%d refs from %d", len(refs), len(in.Resources))
		}
		seen := map[resource.Ref]bool{}
		for _, r := range refs {
			if r.Peer == "" || !ValidIdentifier(r.Peer) || !ValidIdentifier(r.ID) || seen[r] {
				t.Fatalf("ref %+v passed", r)
			}
			seen[r] = true
		}
	})
}
