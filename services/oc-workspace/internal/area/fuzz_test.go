package area

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
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

// keysRefusing refuses every signature: what a peer that knows none of the
// authors does.
type keysRefusing struct{}

func (keysRefusing) VerifyOp(context.Context, string, string, []byte, []byte) error {
	return errors.New("unknown author")
}

func (keysRefusing) Partner(context.Context, string) error { return errors.New("unknown peer") }

// FuzzDecodeOps decodes a body of ops sent by another peer as the ops
// route does, and checks it: never a panic; an op that passes the shape
// check and is not this peer's passes only with a verified signature (here
// none does); and whatever the ops, folding them gives the same area in
// any order.
func FuzzDecodeOps(f *testing.F) {
	created := `{"id":"c1","area_id":"area-1","type":"area.created","stamp":{"clock":1,"peer":"peer-b","by":"u","at":"2026-01-01T00:00:00Z"},` +
		`"data":{"id":"area-1","name":"n","members":[{"subject":"u","admin":true}],"peers":[{"peer":"peer-a"}]},"origin_seq":1,"key_id":"k","sig":"AAAA"}`
	for _, s := range []string{
		`{"ops":[]}`,
		`{"ops":[` + created + `]}`,
		`{"ops":[` + created + `,{"id":"u1","area_id":"area-1","type":"area.updated","stamp":{"clock":2,"peer":"peer-a"},"data":{"name":"x"},"origin_seq":1,"key_id":"k","sig":"AAAA"}]}`,
		`{"ops":[{"id":"m","area_id":"area-1","type":"member.added","stamp":{"clock":3,"peer":"peer-b"},"data":{"subject":""},"origin_seq":2,"key_id":"k","sig":"AA=="}]}`,
		`{"ops":[{"id":"x","area_id":"other","type":"nope","stamp":{"clock":-1}}]}`,
		`{"ops":null}`, `[]`, `{"ops":[{"data":"not an object"}]}`,
	} {
		f.Add([]byte(s))
	}
	svc := &Service{peerID: "peer-a", keys: keysRefusing{}, log: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in struct {
			Ops []wire.Op `json:"ops"`
		}
		if server.DecodeBytes(body, &in) != nil {
			return
		}
		valid, refused, err := svc.CheckOps(context.Background(), "area-1", in.Ops)
		if err == nil {
			for _, op := range valid {
				if op.Stamp.Peer != svc.peerID {
					t.Fatalf("op %s of %s passed without a verified signature", op.ID, op.Stamp.Peer)
				}
			}
			if len(valid)+refused != len(in.Ops) {
				t.Fatalf("%d valid and %d refused of %d ops", len(valid), refused, len(in.Ops))
			}
		}
		rev := slices.Clone(in.Ops)
		slices.Reverse(rev)
		a, da, oka := Fold(in.Ops, Record{})
		b, db, okb := Fold(rev, Record{})
		if oka != okb || da != db || !reflect.DeepEqual(a, b) {
			// Ops sharing an id are one op to a member (the log keeps the
			// first): the order decides only between duplicates.
			if !hasDuplicateIDs(in.Ops) {
				t.Fatalf("the fold depends on the order:\n%+v\n%+v", a, b)
			}
		}
	})
}

func hasDuplicateIDs(ops []wire.Op) bool {
	seen := map[string]bool{}
	for _, op := range ops {
		if seen[op.ID] {
			return true
		}
		seen[op.ID] = true
	}
	return false
}
