package area

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/workflow"
	wire "github.com/opencloud/opencloud/libs/workspace"
)

// Fact is what rules need to know of one resource: what the catalog said of
// it when it was last checked.
type Fact struct {
	Ref          resource.Ref  `json:"ref"`
	Kind         resource.Kind `json:"kind"`
	Name         string        `json:"name,omitempty"`
	Peer         string        `json:"peer"`
	OpenSource   bool          `json:"open_source,omitempty"`
	PersonalData bool          `json:"personal_data,omitempty"`
	// Jurisdiction is a data set's or a storage's jurisdiction, or a
	// compute's country.
	Jurisdiction string              `json:"jurisdiction,omitempty"`
	Visibility   resource.Visibility `json:"visibility,omitempty"`
	CheckedAt    time.Time           `json:"checked_at"`
}

// FactOf extracts the facts of a resolved resource.
func FactOf(ref resource.Ref, r resource.Resource, at time.Time) Fact {
	f := Fact{Ref: ref, Kind: r.Kind, Name: r.Name, Peer: r.PeerID, Visibility: r.Visibility, CheckedAt: at}
	if f.Peer == "" {
		f.Peer = ref.Peer
	}
	switch {
	case r.Processing != nil:
		f.OpenSource = r.Processing.OpenSource
	case r.Data != nil:
		f.PersonalData = r.Data.PersonalData
		f.Jurisdiction = r.Data.Jurisdiction
	case r.Storage != nil:
		f.Jurisdiction = r.Storage.Jurisdiction
	case r.Compute != nil:
		f.Jurisdiction = r.Compute.Country
	}
	return f
}

// Book is what evaluating needs of an area.
type Book struct {
	AreaID, AreaName string
	// LocalPeer is this peer's id; MemberPeers the area's member peers.
	LocalPeer   string
	MemberPeers []string
	Rules       []wire.Rule
}

// Subject is what is checked: an item shared (Ref set) or a candidate.
type Subject struct {
	Kind  wire.SharedKind
	Ref   *resource.Ref
	Usage workflow.Usage
	// Snapshot is the facts the item was last checked with, used for
	// resources that cannot be resolved now.
	Snapshot []Fact
}

// Known is what is known now: the facts of the resources resolved, and why
// the others are not.
type Known struct {
	Facts   map[resource.Ref]Fact
	Reasons map[resource.Ref]string
}

// EU lists the member states of the European Union (ISO 3166-1 alpha-2),
// which the jurisdiction "EU" in a rule covers.
var EU = []string{"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
	"IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"}

// allowedIn reports whether jurisdiction j is within the list: listed
// itself, or an EU member state (or "EU") when the list holds "EU".
func allowedIn(j string, list []string) bool {
	if slices.Contains(list, j) {
		return true
	}
	return slices.Contains(list, "EU") && (j == "EU" || slices.Contains(EU, j))
}

// Evaluate checks a subject's usage against the book's rules. A resource
// whose facts are neither known now nor in the subject's snapshot is
// reported unchecked (once), unless no rule needs it.
func Evaluate(b Book, s Subject, k Known) ([]wire.Violation, []wire.Unchecked) {
	violations := []wire.Violation{}
	unchecked := []wire.Unchecked{}
	if len(b.Rules) == 0 {
		return violations, unchecked
	}
	snap := make(map[resource.Ref]Fact, len(s.Snapshot))
	for _, f := range s.Snapshot {
		snap[f.Ref] = f
	}
	reported := map[resource.Ref]bool{}
	// fact returns the facts of ref and the suffix saying they are old.
	fact := func(ref resource.Ref) (Fact, string, bool) {
		if f, ok := k.Facts[ref]; ok {
			return f, "", true
		}
		if f, ok := snap[ref]; ok {
			return f, fmt.Sprintf(" (as of %s, when it was last checked; it cannot be resolved now)",
				f.CheckedAt.UTC().Format(time.RFC3339)), true
		}
		if !reported[ref] {
			reported[ref] = true
			reason := k.Reasons[ref]
			if reason == "" {
				reason = "the resource could not be resolved"
			}
			unchecked = append(unchecked, wire.Unchecked{Resource: ref, Reason: reason})
		}
		return Fact{}, "", false
	}
	add := func(r wire.Rule, ref resource.Ref, msg string) {
		msg += fmt.Sprintf(" (rule %q, %s)", r.ID, r.Kind)
		if r.Note != "" {
			msg += ": " + r.Note
		}
		violations = append(violations, wire.Violation{AreaID: b.AreaID, AreaName: b.AreaName, RuleID: r.ID,
			RuleKind: r.Kind, Item: s.Ref, ItemKind: itemKind(s), Resource: ref, Message: msg})
	}
	for _, r := range b.Rules {
		refs := s.Usage.Resources
		if r.Kind == wire.RuleResultsMembersOnly {
			refs = s.Usage.Writes
		}
		for _, ref := range refs {
			f, asOf, ok := fact(ref)
			if !ok {
				continue
			}
			what := fmt.Sprintf("%s %q (%s)", f.Kind, f.Name, ref)
			switch r.Kind {
			case wire.RuleOpenSource:
				if f.Kind == resource.KindProcessing && !f.OpenSource {
					add(r, ref, what+" is not open source"+asOf+"; only open-source processings are allowed")
				}
			case wire.RuleNoPersonalData:
				if f.Kind == resource.KindData && f.PersonalData {
					add(r, ref, what+" is marked as personal data"+asOf+"; no personal data is allowed")
				}
			case wire.RuleJurisdictions:
				if f.Kind != resource.KindData && f.Kind != resource.KindStorage && f.Kind != resource.KindCompute {
					continue
				}
				allowed := strings.Join(r.Jurisdictions, ", ")
				switch {
				case f.Jurisdiction == "":
					add(r, ref, what+" states no jurisdiction"+asOf+"; it must be in one of "+allowed)
				case !allowedIn(f.Jurisdiction, r.Jurisdictions):
					add(r, ref, fmt.Sprintf("%s is in %q%s, not in one of %s", what, f.Jurisdiction, asOf, allowed))
				}
			case wire.RuleComputePeers:
				if f.Kind == resource.KindCompute && !slices.Contains(r.Peers, peerOf(f, ref)) {
					add(r, ref, fmt.Sprintf("%s is provided by peer %q%s, not by one of %s", what, peerOf(f, ref), asOf, strings.Join(r.Peers, ", ")))
				}
			case wire.RuleResultsMembersOnly:
				if f.Kind != resource.KindStorage {
					continue
				}
				if p := peerOf(f, ref); p != b.LocalPeer && !slices.Contains(b.MemberPeers, p) {
					add(r, ref, fmt.Sprintf("results are written to %s, which belongs to peer %q%s, neither this peer nor a member peer", what, p, asOf))
				}
				if f.Visibility != resource.Private && f.Visibility != resource.Groups {
					add(r, ref, fmt.Sprintf("results are written to %s, which is visible to %q%s; it must be private or restricted to groups", what, f.Visibility, asOf))
				}
			}
		}
	}
	return violations, unchecked
}

func peerOf(f Fact, ref resource.Ref) string {
	if f.Peer != "" {
		return f.Peer
	}
	return ref.Peer
}

func itemKind(s Subject) wire.SharedKind {
	if s.Ref == nil {
		return ""
	}
	return s.Kind
}
