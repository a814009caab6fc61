package area

import (
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/workflow"
	wire "github.com/opencloud/opencloud/libs/workspace"
)

func TestEvaluate(t *testing.T) {
	ref := func(id string) resource.Ref { return resource.Ref{Peer: "local", ID: id} }
	facts := map[resource.Ref]Fact{
		ref("open"):      {Kind: resource.KindProcessing, Name: "open", Peer: "local", OpenSource: true},
		ref("closed"):    {Kind: resource.KindProcessing, Name: "closed", Peer: "local"},
		ref("personal"):  {Kind: resource.KindData, Name: "personal", Peer: "local", PersonalData: true, Jurisdiction: "FR"},
		ref("fr"):        {Kind: resource.KindData, Name: "fr", Peer: "local", Jurisdiction: "FR"},
		ref("us"):        {Kind: resource.KindData, Name: "us", Peer: "local", Jurisdiction: "US"},
		ref("eu"):        {Kind: resource.KindStorage, Name: "eu", Peer: "local", Jurisdiction: "EU", Visibility: resource.Private},
		ref("none"):      {Kind: resource.KindData, Name: "none", Peer: "local"},
		ref("k8s-de"):    {Kind: resource.KindCompute, Name: "k8s", Peer: "local", Jurisdiction: "DE"},
		ref("k8s-b"):     {Kind: resource.KindCompute, Name: "k8s-b", Peer: "partner-b", Jurisdiction: "US"},
		ref("s-public"):  {Kind: resource.KindStorage, Name: "s-public", Peer: "local", Visibility: resource.Public},
		ref("s-groups"):  {Kind: resource.KindStorage, Name: "s-groups", Peer: "partner-b", Visibility: resource.Groups},
		ref("s-foreign"): {Kind: resource.KindStorage, Name: "s-foreign", Peer: "stranger", Visibility: resource.Private},
	}
	for r, f := range facts {
		f.Ref = r
		facts[r] = f
	}
	old := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	snapshot := []Fact{{Ref: ref("gone"), Kind: resource.KindProcessing, Name: "gone", Peer: "local", CheckedAt: old}}
	known := Known{Facts: facts, Reasons: map[resource.Ref]string{ref("remote"): "peer unreachable"}}
	uses := func(ids ...string) workflow.Usage {
		u := workflow.Usage{}
		for _, id := range ids {
			u.Resources = append(u.Resources, ref(id))
		}
		return u
	}
	rule := func(k wire.RuleKind, opts ...func(*wire.Rule)) wire.Rule {
		r := wire.Rule{ID: "r-" + string(k), Kind: k}
		for _, o := range opts {
			o(&r)
		}
		return r
	}
	jur := func(js ...string) func(*wire.Rule) { return func(r *wire.Rule) { r.Jurisdictions = js } }
	peers := func(ps ...string) func(*wire.Rule) { return func(r *wire.Rule) { r.Peers = ps } }

	cases := []struct {
		name      string
		rules     []wire.Rule
		usage     workflow.Usage
		snapshot  []Fact
		violating []string // resource ids, in order
		unchecked []string
		contains  string
	}{
		{"no rules: nothing checked", nil, uses("closed", "remote"), nil, nil, nil, ""},
		{"open source", []wire.Rule{rule(wire.RuleOpenSource)}, uses("open", "closed", "fr"), nil, []string{"closed"}, nil, "is not open source"},
		{"personal data", []wire.Rule{rule(wire.RuleNoPersonalData)}, uses("fr", "personal", "closed"), nil, []string{"personal"}, nil, "personal data"},
		{"jurisdictions listed", []wire.Rule{rule(wire.RuleJurisdictions, jur("FR", "DE"))}, uses("fr", "us", "k8s-de", "eu", "none", "open"), nil,
			[]string{"us", "eu", "none"}, nil, ""},
		{"EU covers member states and EU", []wire.Rule{rule(wire.RuleJurisdictions, jur("EU"))}, uses("fr", "k8s-de", "eu", "us", "k8s-b"), nil,
			[]string{"us", "k8s-b"}, nil, "not in one of EU"},
		{"stating none breaks it", []wire.Rule{rule(wire.RuleJurisdictions, jur("EU"))}, uses("none"), nil, []string{"none"}, nil, "states no jurisdiction"},
		{"compute peers", []wire.Rule{rule(wire.RuleComputePeers, peers("partner-b"))}, uses("k8s-de", "k8s-b", "fr"), nil, []string{"k8s-de"}, nil, `peer "local"`},
		{"results members only", []wire.Rule{rule(wire.RuleResultsMembersOnly)},
			workflow.Usage{Resources: []resource.Ref{ref("s-public"), ref("eu")},
				Writes: []resource.Ref{ref("s-public"), ref("s-groups"), ref("eu"), ref("s-foreign")}}, nil,
			[]string{"s-public", "s-foreign"}, nil, ""},
		{"results: reads do not count", []wire.Rule{rule(wire.RuleResultsMembersOnly)}, uses("s-public"), nil, nil, nil, ""},
		{"unresolvable is unchecked once", []wire.Rule{rule(wire.RuleOpenSource), rule(wire.RuleNoPersonalData)}, uses("remote", "open"), nil,
			nil, []string{"remote"}, ""},
		{"snapshot used, as of", []wire.Rule{rule(wire.RuleOpenSource)}, uses("gone"), snapshot, []string{"gone"}, nil, "as of 2024-05-01T10:00:00Z"},
		{"no snapshot: unchecked", []wire.Rule{rule(wire.RuleOpenSource)}, uses("gone"), nil, nil, []string{"gone"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := Book{AreaID: "a1", AreaName: "Area", LocalPeer: "local", MemberPeers: []string{"partner-b"}, Rules: c.rules}
			vs, un := Evaluate(b, Subject{Kind: wire.SharedWorkflow, Usage: c.usage, Snapshot: c.snapshot}, known)
			var got []string
			for _, v := range vs {
				got = append(got, v.Resource.ID)
				if v.AreaID != "a1" || v.AreaName != "Area" || v.RuleID == "" || !strings.Contains(v.Message, v.RuleID) || v.Item != nil {
					t.Errorf("violation = %+v", v)
				}
				if c.contains != "" && !strings.Contains(v.Message, c.contains) {
					t.Errorf("message %q lacks %q", v.Message, c.contains)
				}
			}
			if strings.Join(got, ",") != strings.Join(c.violating, ",") {
				t.Errorf("violations on %v, want %v", got, c.violating)
			}
			var gotUn []string
			for _, u := range un {
				gotUn = append(gotUn, u.Resource.ID)
				if u.Reason == "" {
					t.Errorf("unchecked without reason: %+v", u)
				}
			}
			if strings.Join(gotUn, ",") != strings.Join(c.unchecked, ",") {
				t.Errorf("unchecked %v, want %v", gotUn, c.unchecked)
			}
		})
	}
}

func TestFactOf(t *testing.T) {
	at := time.Now()
	ref := resource.Ref{Peer: "local", ID: "x"}
	cases := []struct {
		r    resource.Resource
		want Fact
	}{
		{resource.Resource{Kind: resource.KindCompute, Compute: &resource.Compute{Country: "DE"}, Visibility: resource.Public},
			Fact{Kind: resource.KindCompute, Jurisdiction: "DE", Visibility: resource.Public}},
		{resource.Resource{Kind: resource.KindData, PeerID: "p", Data: &resource.Data{PersonalData: true, Jurisdiction: "FR"}},
			Fact{Kind: resource.KindData, Peer: "p", PersonalData: true, Jurisdiction: "FR"}},
		{resource.Resource{Kind: resource.KindProcessing, Processing: &resource.Processing{OpenSource: true}},
			Fact{Kind: resource.KindProcessing, OpenSource: true}},
		{resource.Resource{Kind: resource.KindStorage, Storage: &resource.Storage{Jurisdiction: "EU"}},
			Fact{Kind: resource.KindStorage, Jurisdiction: "EU"}},
	}
	for _, c := range cases {
		c.want.Ref, c.want.CheckedAt = ref, at
		if c.want.Peer == "" {
			c.want.Peer = "local"
		}
		if got := FactOf(ref, c.r, at); got != c.want {
			t.Errorf("FactOf(%+v) = %+v, want %+v", c.r, got, c.want)
		}
	}
}
