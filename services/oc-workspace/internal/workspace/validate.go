package workspace

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/opencloud/opencloud/libs/resource"
	wire "github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/internal/errs"
)

// MaxIdentifier bounds ids, subjects and peer ids.
const MaxIdentifier = 128

// check validates the writable fields of a workspace and returns its
// references normalised (this peer for an empty peer, duplicates collapsed).
func (s *Service) check(probs *errs.Problems, name, description string, refs []resource.Ref) []resource.Ref {
	checkText(probs, "name", name, 1, wire.MaxNameLength)
	checkText(probs, "description", description, 0, wire.MaxDescriptionLength)
	return s.refs(probs, "resources", refs)
}

// refs validates and normalises references; field "" reports problems on
// "peer" and "id" directly (a single ref body).
func (s *Service) refs(probs *errs.Problems, field string, refs []resource.Ref) []resource.Ref {
	return NormalizeRefs(probs, field, refs, s.peerID, wire.MaxResources)
}

// NormalizeRefs validates refs (at most limit; ids and peers 1 to
// MaxIdentifier characters without spaces), gives the empty peer this
// peer's id and collapses duplicates, keeping the first.
func NormalizeRefs(probs *errs.Problems, field string, refs []resource.Ref, peerID string, limit int) []resource.Ref {
	if len(refs) > limit {
		probs.Add(field, "at most %d references (got %d)", limit, len(refs))
		return nil
	}
	out := make([]resource.Ref, 0, len(refs))
	seen := make(map[resource.Ref]bool, len(refs))
	for i, r := range refs {
		at := func(f string) string {
			if field == "" {
				return f
			}
			return fmt.Sprintf("%s[%d].%s", field, i, f)
		}
		bad := false
		if !ValidIdentifier(r.ID) {
			probs.Add(at("id"), "expected the resource's id: 1 to %d characters without spaces", MaxIdentifier)
			bad = true
		}
		if r.Peer != "" && !ValidIdentifier(r.Peer) {
			probs.Add(at("peer"), "expected a peer id of 1 to %d characters without spaces, or empty for this peer", MaxIdentifier)
			bad = true
		}
		if bad {
			continue
		}
		if r.Peer == "" {
			r.Peer = peerID
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// ValidIdentifier reports whether s is 1 to MaxIdentifier characters of
// printable text without whitespace or '/' (ids appear in paths).
func ValidIdentifier(s string) bool {
	if s == "" || len(s) > MaxIdentifier || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '/' || r == utf8.RuneError {
			return false
		}
	}
	return true
}

func checkIdentifier(probs *errs.Problems, field, s string) {
	if !ValidIdentifier(s) {
		probs.Add(field, "expected a subject: 1 to %d characters without spaces", MaxIdentifier)
	}
}

// checkText requires between lo and hi characters, and a name not blank.
func checkText(probs *errs.Problems, field, s string, lo, hi int) {
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		probs.Add(field, "expected valid UTF-8 text")
	case n > hi:
		probs.Add(field, "expected at most %d characters (got %d)", hi, n)
	case lo > 0 && strings.TrimSpace(s) == "":
		probs.Add(field, "required: 1 to %d characters, not only spaces", hi)
	}
}
