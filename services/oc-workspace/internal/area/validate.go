package area

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	wire "github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/internal/errs"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/workspace"
)

// Limits of rules.
const (
	MaxRuleID         = 64
	MaxNote           = 2000
	MaxJurisdictions  = 300
	MaxRulePeers      = wire.MaxMembers
	maxAreaIdentifier = workspace.MaxIdentifier
)

var (
	ruleIDRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	alpha2Re = regexp.MustCompile(`^[A-Z]{2}$`)
)

// CheckRules validates a rule book, reporting every problem at field paths
// under field ("rules[2].jurisdictions[0]").
func CheckRules(probs *errs.Problems, field string, rules []wire.Rule) {
	if len(rules) > wire.MaxRules {
		probs.Add(field, "at most %d rules (got %d)", wire.MaxRules, len(rules))
		return
	}
	ids := map[string]int{}
	for i, r := range rules {
		at := fmt.Sprintf("%s[%d]", field, i)
		if r.ID != "" {
			if !ruleIDRe.MatchString(r.ID) {
				probs.Add(at+".id", "expected 1 to %d characters of A-Z a-z 0-9 _ . - (or nothing: the server gives one)", MaxRuleID)
			} else if j, dup := ids[r.ID]; dup {
				probs.Add(at+".id", "rule id %q is also the id of rules[%d]; ids are unique within the book", r.ID, j)
			} else {
				ids[r.ID] = i
			}
		}
		if !slices.Contains(wire.RuleKinds, r.Kind) {
			probs.Add(at+".kind", "expected one of %s", kinds())
		}
		if n := utf8.RuneCountInString(r.Note); n > MaxNote || !utf8.ValidString(r.Note) {
			probs.Add(at+".note", "expected at most %d characters of text", MaxNote)
		}
		switch {
		case r.Kind == wire.RuleJurisdictions && len(r.Jurisdictions) == 0:
			probs.Add(at+".jurisdictions", `required by a "jurisdictions" rule: ISO 3166-1 alpha-2 country codes ("FR", "DE") or "EU"`)
		case r.Kind != wire.RuleJurisdictions && len(r.Jurisdictions) > 0:
			probs.Add(at+".jurisdictions", `only a "jurisdictions" rule takes jurisdictions; remove them`)
		case len(r.Jurisdictions) > MaxJurisdictions:
			probs.Add(at+".jurisdictions", "at most %d jurisdictions", MaxJurisdictions)
		default:
			for j, code := range r.Jurisdictions {
				if !alpha2Re.MatchString(code) {
					probs.Add(fmt.Sprintf("%s.jurisdictions[%d]", at, j), `expected an ISO 3166-1 alpha-2 code of two upper-case letters ("FR") or "EU"`)
				}
			}
		}
		switch {
		case r.Kind == wire.RuleComputePeers && len(r.Peers) == 0:
			probs.Add(at+".peers", `required by a "compute_peers" rule: the ids of the peers that may provide compute`)
		case r.Kind != wire.RuleComputePeers && len(r.Peers) > 0:
			probs.Add(at+".peers", `only a "compute_peers" rule takes peers; remove them`)
		case len(r.Peers) > MaxRulePeers:
			probs.Add(at+".peers", "at most %d peers", MaxRulePeers)
		default:
			for j, p := range r.Peers {
				if !workspace.ValidIdentifier(p) {
					probs.Add(fmt.Sprintf("%s.peers[%d]", at, j), "expected a peer id of 1 to %d characters without spaces", maxAreaIdentifier)
				}
			}
		}
	}
}

func kinds() string {
	out := make([]string, len(wire.RuleKinds))
	for i, k := range wire.RuleKinds {
		out[i] = string(k)
	}
	return strings.Join(out, ", ")
}

// checkIdentifiers validates a list of subjects or peer ids.
func checkIdentifiers(probs *errs.Problems, field string, ids []string, what string) {
	if len(ids) > wire.MaxMembers {
		probs.Add(field, "at most %d %s (got %d)", wire.MaxMembers, what, len(ids))
		return
	}
	for i, id := range ids {
		if !workspace.ValidIdentifier(id) {
			probs.Add(fmt.Sprintf("%s[%d]", field, i), "expected 1 to %d characters without spaces or '/'", maxAreaIdentifier)
		}
	}
}

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
