package area

import (
	"slices"
	"testing"

	"github.com/opencloud/opencloud/libs/server"
	wire "github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/api"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/errs"
)

// FuzzRuleBook decodes a rule-book body strictly and validates it: never a
// panic, and a book that passes holds only rules the evaluator understands.
func FuzzRuleBook(f *testing.F) {
	for _, s := range []string{
		`{"rules":[]}`,
		`{"rules":[{"kind":"open_source_processings"}],"version":2}`,
		`{"rules":[{"id":"r-eu","kind":"jurisdictions","jurisdictions":["EU","FR"],"note":"GDPR"}]}`,
		`{"rules":[{"kind":"compute_peers","peers":["partner-b"]},{"kind":"results_members_only"}]}`,
		`{"rules":[{"kind":"jurisdictions"}]}`,
		`{"rules":[{"kind":"no_personal_data","peers":["x"]}]}`,
		`{"rules":[{"id":"a","kind":"x"},{"id":"a","kind":"x"}]}`,
		`{"rules":null}`, `{"rules":[{"kind":1}]}`, `[]`, `{"rules":[{"extra":true}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in api.RulesInput
		if err := server.DecodeBytes(body, &in); err != nil {
			return
		}
		var probs errs.Problems
		CheckRules(&probs, "rules", in.Rules)
		if len(probs) > 0 {
			for _, p := range probs {
				if p.Field == "" || p.Problem == "" {
					t.Fatalf("problem without field or text: %+v", p)
				}
			}
			return
		}
		if len(in.Rules) > wire.MaxRules {
			t.Fatalf("%d rules passed", len(in.Rules))
		}
		ids := map[string]bool{}
		for _, r := range in.Rules {
			if !slices.Contains(wire.RuleKinds, r.Kind) {
				t.Fatalf("kind %q passed", r.Kind)
			}
			if (r.Kind == wire.RuleJurisdictions) != (len(r.Jurisdictions) > 0) || (r.Kind == wire.RuleComputePeers) != (len(r.Peers) > 0) {
				t.Fatalf("rule %+v passed with the wrong parameters", r)
			}
			if r.ID != "" && ids[r.ID] {
				t.Fatalf("duplicate id %q passed", r.ID)
			}
			ids[r.ID] = true
		}
	})
}
