package service_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/workflow"
	"github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/client"
)

// history returns area id's ops, newest first.
func (e *env) history(id string) []workspace.Op {
	e.t.Helper()
	p, err := e.as(root).History(context.Background(), id, 200, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Items
}

// refused checks that err is a 409 rule_broken naming rule, and returns its violations.
func refused(t *testing.T, err error, rule string) []workspace.Violation {
	t.Helper()
	ae := apiErr(t, err)
	if ae.Status != http.StatusConflict || ae.Code != "rule_broken" || !strings.Contains(ae.Message, rule) {
		t.Fatalf("got %v, want 409 rule_broken naming %q", err, rule)
	}
	raw, _ := json.Marshal(ae.Details)
	var vs []workspace.Violation
	if err := json.Unmarshal(raw, &vs); err != nil || len(vs) == 0 {
		t.Fatalf("details %s are not violations", raw)
	}
	return vs
}

func TestAreaMembersAndAccess(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := must(e.as(alice).CreateArea(ctx, workspace.AreaInput{Name: "Consortium", Description: "heat",
			Members: []string{"bob", "bob"}, Peers: []string{"partner-b"}}))(t)
		if a.Version != 1 || a.Clock != 1 || len(a.Members) != 2 || !a.Members[0].Admin || a.Members[0].Subject != "alice" ||
			a.Members[1].Admin || len(a.Peers) != 1 || a.CreatedBy != "alice" || a.Members[0].Stamp.Peer != peerID {
			t.Fatalf("created = %+v", a)
		}
		if _, err := e.as(bob).GetArea(ctx, a.ID); err != nil {
			t.Errorf("member bob: %v", err)
		}
		if _, err := e.as(carol).GetArea(ctx, a.ID); status(err) != http.StatusNotFound {
			t.Errorf("carol: %v, want 404", err)
		}
		if _, err := e.as(root).GetArea(ctx, a.ID); err != nil {
			t.Errorf("root: %v", err)
		}

		// Only admins change the area, its members and peers.
		if _, err := e.as(bob).UpdateArea(ctx, a.ID, a.Version, workspace.AreaInput{Name: "Mine"}); status(err) != http.StatusForbidden {
			t.Errorf("bob renames: %v, want 403", err)
		}
		if _, err := e.as(carol).UpdateArea(ctx, a.ID, a.Version, workspace.AreaInput{Name: "Mine"}); status(err) != http.StatusNotFound {
			t.Errorf("carol renames: %v, want 404", err)
		}
		if _, err := e.as(alice).UpdateArea(ctx, a.ID, 0, workspace.AreaInput{Name: "x"}); status(err) != http.StatusPreconditionRequired {
			t.Errorf("rename without version: %v, want 428", err)
		}
		a = must(e.as(alice).UpdateArea(ctx, a.ID, a.Version, workspace.AreaInput{Name: "Urban heat", Description: "d"}))(t)
		if a.Name != "Urban heat" || a.Clock != 2 {
			t.Errorf("renamed = %+v", a)
		}
		if _, err := e.as(bob).AddMember(ctx, a.ID, "carol", false); status(err) != http.StatusForbidden {
			t.Errorf("bob adds carol: %v, want 403", err)
		}
		a = must(e.as(alice).AddMember(ctx, a.ID, "carol", false))(t)
		if len(a.Members) != 3 {
			t.Errorf("members = %+v", a.Members)
		}
		// The last admin stays.
		_, err := e.as(alice).RemoveMember(ctx, a.ID, "alice")
		if ae := apiErr(t, err); ae.Status != http.StatusConflict || ae.Code != "last_admin" {
			t.Errorf("remove last admin: %v", err)
		}
		if _, err := e.as(alice).AddMember(ctx, a.ID, "alice", false); status(err) != http.StatusConflict {
			t.Errorf("demote last admin: %v, want 409", err)
		}
		a = must(e.as(alice).AddMember(ctx, a.ID, "bob", true))(t)
		a = must(e.as(bob).RemoveMember(ctx, a.ID, "carol"))(t)
		if _, err := e.as(bob).RemoveMember(ctx, a.ID, "carol"); status(err) != http.StatusNotFound {
			t.Errorf("remove absent member: %v, want 404", err)
		}
		a = must(e.as(bob).AddPeer(ctx, a.ID, "partner-c"))(t)
		a = must(e.as(bob).RemovePeer(ctx, a.ID, "partner-b"))(t)
		if len(a.Peers) != 1 || a.Peers[0].Peer != "partner-c" || a.Peers[0].Stamp.By != "bob" {
			t.Errorf("peers = %+v", a.Peers)
		}

		// Lists: members only see their areas.
		must(e.as(carol).CreateArea(ctx, workspace.AreaInput{Name: "Carol's"}))(t)
		page := must(e.as(bob).ListAreas(ctx, client.AreaListOptions{}))(t)
		if page.Total != 1 || page.Items[0].ID != a.ID {
			t.Errorf("bob's areas = %+v", page)
		}
		page = must(e.as(bob).ListAreas(ctx, client.AreaListOptions{Member: "carol"}))(t)
		if page.Total != 0 {
			t.Errorf("bob lists carol's areas = %+v", page)
		}
		page = must(e.as(root).ListAreas(ctx, client.AreaListOptions{Sort: []string{"-name"}}))(t)
		if page.Total != 2 || page.Items[0].Name != "Urban heat" {
			t.Errorf("root's areas = %+v", page)
		}
		page = must(e.as(root).ListAreas(ctx, client.AreaListOptions{Query: "carol"}))(t)
		if page.Total != 1 {
			t.Errorf("q=carol = %+v", page)
		}

		// History: every change, newest first, who and what.
		ops := e.history(a.ID)
		want := []workspace.OpType{workspace.OpPeerRemoved, workspace.OpPeerAdded, workspace.OpMemberRemoved, workspace.OpMemberAdded,
			workspace.OpMemberAdded, workspace.OpUpdated, workspace.OpCreated}
		if len(ops) != len(want) {
			t.Fatalf("history = %d ops, want %d: %+v", len(ops), len(want), ops)
		}
		for i, op := range ops {
			if op.Type != want[i] || op.Seq != int64(len(want)-i) || op.AreaID != a.ID || op.ID == "" ||
				op.Stamp.At.IsZero() || time.Since(op.Stamp.At) > time.Minute || len(op.Data) == 0 {
				t.Errorf("op %d = %+v, want %s", i, op, want[i])
			}
		}
		if ops[0].Stamp.By != "bob" || ops[len(ops)-1].Stamp.By != "alice" || !strings.Contains(string(ops[2].Data), "carol") {
			t.Errorf("who/what: %+v", ops)
		}
		if _, err := e.as(carol).History(ctx, a.ID, 0, 0); status(err) != http.StatusNotFound {
			t.Errorf("carol reads the history: %v", err)
		}
		hp := must(e.as(alice).History(ctx, a.ID, 2, 1))(t)
		if hp.Total != 7 || len(hp.Items) != 2 || hp.Items[0].Seq != 6 {
			t.Errorf("history page = %+v", hp)
		}

		// Delete: admins only.
		if err := e.as(carol).DeleteArea(ctx, a.ID, 0); status(err) != http.StatusNotFound {
			t.Errorf("carol deletes: %v", err)
		}
		if err := e.as(alice).DeleteArea(ctx, a.ID, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := e.as(alice).GetArea(ctx, a.ID); status(err) != http.StatusNotFound {
			t.Errorf("get deleted: %v", err)
		}
	})
}

func TestAreaRules(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		closed := e.resource(alice, processing("Closed", false))
		open := e.resource(alice, processing("Open", true))
		personal := e.resource(alice, data("Patients", true, "FR"))
		us := e.resource(alice, data("US data", false, "US"))
		nowhere := e.resource(alice, data("Nowhere", false, ""))
		fr := e.resource(alice, data("French", false, "FR"))
		eu := e.resource(alice, data("European", false, "EU"))
		k8s := e.resource(alice, compute("K8s", "DE"))

		a := must(e.as(alice).CreateArea(ctx, workspace.AreaInput{Name: "Open science", Members: []string{"bob"},
			Rules: []workspace.Rule{{ID: "r-open", Kind: workspace.RuleOpenSource, Note: "charter §2"}}}))(t)

		// A closed-source processing is refused, naming the rule; nothing is written.
		_, err := e.as(bob).Share(ctx, a.ID, workspace.SharedResource, closed)
		vs := refused(t, err, "r-open")
		if vs[0].RuleKind != workspace.RuleOpenSource || vs[0].Resource != closed || vs[0].AreaID != a.ID ||
			!strings.Contains(vs[0].Message, "Closed") || !strings.Contains(vs[0].Message, "charter §2") {
			t.Errorf("violation = %+v", vs[0])
		}
		if got := must(e.as(alice).GetArea(ctx, a.ID))(t); got.Version != a.Version || len(got.Shared) != 0 {
			t.Errorf("area after refusal = %+v", got)
		}
		if n := len(e.history(a.ID)); n != 1 {
			t.Errorf("history after refusal = %d ops, want 1", n)
		}
		a = must(e.as(bob).Share(ctx, a.ID, workspace.SharedResource, resource.Ref{ID: open.ID}))(t)
		if len(a.Shared) != 1 || a.Shared[0].Name != "Open" || a.Shared[0].Ref != open || a.Shared[0].Stamp.By != "bob" {
			t.Fatalf("shared = %+v", a.Shared)
		}
		// A resource bob may not see is refused as unknown.
		secret := e.resource(carol, resource.Input{Kind: resource.KindProcessing, Name: "Secret", Visibility: resource.Private,
			Processing: &resource.Processing{Image: "x/y:1", OpenSource: true}})
		if _, err := e.as(bob).Share(ctx, a.ID, workspace.SharedResource, secret); status(err) != http.StatusNotFound {
			t.Errorf("share invisible: %v, want 404", err)
		}
		must(e.as(alice).Share(ctx, a.ID, workspace.SharedResource, personal))(t) // allowed for now
		a = must(e.as(alice).GetArea(ctx, a.ID))(t)

		// New rules: the report lists what the area holds that breaks them.
		res := must(e.as(alice).SetRules(ctx, a.ID, a.Version, []workspace.Rule{
			{ID: "r-open", Kind: workspace.RuleOpenSource, Note: "charter §2"},
			{Kind: workspace.RuleNoPersonalData},
			{ID: "r-eu", Kind: workspace.RuleJurisdictions, Jurisdictions: []string{"EU"}},
		}))(t)
		if len(res.Area.Rules) != 3 || res.Area.Rules[0].Stamp.Clock != 1 || res.Area.Rules[1].ID == "" || res.Area.Rules[2].Stamp.Clock != res.Area.Clock {
			t.Errorf("rules = %+v (an unchanged rule keeps its stamp, a new one gets an id)", res.Area.Rules)
		}
		if len(res.Report.Violations) != 1 || res.Report.Violations[0].RuleKind != workspace.RuleNoPersonalData ||
			res.Report.Violations[0].Resource != personal || res.Report.Violations[0].Item == nil ||
			res.Report.Violations[0].ItemKind != workspace.SharedResource {
			t.Errorf("report = %+v", res.Report)
		}
		rep := must(e.as(bob).Violations(ctx, a.ID))(t)
		if len(rep.Violations) != 1 {
			t.Errorf("violations now = %+v", rep)
		}
		// Personal data, jurisdictions (incl. "EU").
		refused(t, must2(e.as(bob).Share(ctx, a.ID, workspace.SharedResource, personal)), "no_personal_data")
		refused(t, must2(e.as(bob).Share(ctx, a.ID, workspace.SharedResource, us)), "r-eu")
		refused(t, must2(e.as(bob).Share(ctx, a.ID, workspace.SharedResource, nowhere)), "r-eu")
		for _, ok := range []resource.Ref{fr, eu, k8s} {
			if _, err := e.as(bob).Share(ctx, a.ID, workspace.SharedResource, ok); err != nil {
				t.Errorf("share %s under an EU rule: %v", ok, err)
			}
		}
		// Compute peers.
		a = must(e.as(alice).GetArea(ctx, a.ID))(t)
		res = must(e.as(alice).SetRules(ctx, a.ID, a.Version, []workspace.Rule{{ID: "r-peers", Kind: workspace.RuleComputePeers, Peers: []string{"partner-b"}}}))(t)
		if len(res.Report.Violations) != 1 || res.Report.Violations[0].Resource != k8s || !strings.Contains(res.Report.Violations[0].Message, peerID) {
			t.Errorf("compute_peers report = %+v", res.Report)
		}
		other := e.resource(alice, compute("Other", "FR"))
		refused(t, must2(e.as(bob).Share(ctx, a.ID, workspace.SharedResource, other)), "r-peers")
		a = res.Area
		res = must(e.as(alice).SetRules(ctx, a.ID, a.Version, []workspace.Rule{{ID: "r-peers", Kind: workspace.RuleComputePeers, Peers: []string{"partner-b", peerID}}}))(t)
		if len(res.Report.Violations) != 0 || res.Area.Rules[0].Stamp.Clock != res.Area.Clock {
			t.Errorf("changed compute_peers rule: %+v", res)
		}
		// Stale or missing version.
		if _, err := e.as(alice).SetRules(ctx, a.ID, a.Version, nil); status(err) != http.StatusConflict {
			t.Errorf("stale rules: %v", err)
		}
		if _, err := e.as(alice).SetRules(ctx, a.ID, 0, nil); status(err) != http.StatusPreconditionRequired {
			t.Errorf("rules without version: %v", err)
		}
		if _, err := e.as(bob).SetRules(ctx, a.ID, res.Area.Version, nil); status(err) != http.StatusForbidden {
			t.Errorf("bob changes rules: %v", err)
		}

		// A deleted resource is judged on its snapshot, "as of" when.
		res = must(e.as(alice).SetRules(ctx, a.ID, res.Area.Version, []workspace.Rule{{ID: "r-fr", Kind: workspace.RuleJurisdictions, Jurisdictions: []string{"FR"}}}))(t)
		if err := e.catalog(alice).Delete(ctx, k8s.ID, 0); err != nil {
			t.Fatal(err)
		}
		rep = must(e.as(bob).Violations(ctx, a.ID))(t)
		var asOf bool
		for _, v := range rep.Violations {
			if v.Resource == k8s && strings.Contains(v.Message, "as of") {
				asOf = true
			}
		}
		if !asOf {
			t.Errorf("no snapshot violation for the deleted compute: %+v", rep)
		}

		// Unshare, then the history holds every change.
		a = must(e.as(bob).Unshare(ctx, a.ID, workspace.SharedResource, fr))(t)
		if _, err := e.as(bob).Unshare(ctx, a.ID, workspace.SharedResource, fr); status(err) != http.StatusNotFound {
			t.Errorf("unshare again: %v", err)
		}
		ops := e.history(a.ID)
		if int64(len(ops)) != a.Clock || ops[0].Type != workspace.OpUnshared {
			t.Errorf("history = %d ops, area clock %d; newest %+v", len(ops), a.Clock, ops[0])
		}

		// Filters by shared item.
		page := must(e.as(bob).ListAreas(ctx, client.AreaListOptions{Resource: open.String()}))(t)
		if page.Total != 1 {
			t.Errorf("areas sharing %s = %+v", open, page)
		}
		page = must(e.as(bob).ListAreas(ctx, client.AreaListOptions{Resource: fr.String()}))(t)
		if page.Total != 0 {
			t.Errorf("areas sharing unshared %s = %+v", fr, page)
		}
	})
}

// must2 keeps only the error of a call.
func must2[T any](_ T, err error) error { return err }

func TestAreaWorkflows(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		closed := e.resource(alice, processing("Closed", false))
		open := e.resource(alice, processing("Open", true))
		k8s := e.resource(alice, compute("K8s", "FR"))
		public := e.resource(alice, storage("Public bucket", resource.Public, "FR"))
		wfID := "6b0e3c6c-4d0a-4d21-9a43-0e4c1d7b9f10"
		graph := func(proc resource.Ref) workflow.Graph {
			return workflow.Graph{Nodes: []workflow.Node{
				{ID: "p", Kind: resource.KindProcessing, Resource: proc},
				{ID: "c", Kind: resource.KindCompute, Resource: k8s},
				{ID: "s", Kind: resource.KindStorage, Resource: public}},
				Links: []workflow.Link{{ID: "l1", Kind: workflow.LinkCompute, From: "p", To: "c"},
					{ID: "l2", Kind: workflow.LinkStorageWrite, From: "p", To: "s", Source: "/o", Destination: "o"}}}
		}
		e.workflows.put(workflow.Workflow{ID: wfID, Name: "NDVI", Owner: "alice", Graph: graph(closed)})

		a := must(e.as(alice).CreateArea(ctx, workspace.AreaInput{Name: "WF", Members: []string{"bob"},
			Rules: []workspace.Rule{{ID: "r-open", Kind: workspace.RuleOpenSource}}}))(t)
		if _, err := e.as(alice).Share(ctx, a.ID, workspace.SharedWorkflow, resource.Ref{ID: "nope"}); status(err) != http.StatusNotFound {
			t.Errorf("share unknown workflow: %v, want 404", err)
		}
		refused(t, must2(e.as(alice).Share(ctx, a.ID, workspace.SharedWorkflow, resource.Ref{ID: wfID})), "r-open")
		e.workflows.put(workflow.Workflow{ID: wfID, Name: "NDVI", Owner: "alice", Graph: graph(open)})
		a = must(e.as(alice).Share(ctx, a.ID, workspace.SharedWorkflow, resource.Ref{ID: wfID}))(t)
		if len(a.Shared) != 1 || len(a.Shared[0].Usage.Resources) != 3 || len(a.Shared[0].Usage.Writes) != 1 {
			t.Fatalf("shared workflow = %+v", a.Shared)
		}
		page := must(e.as(bob).ListAreas(ctx, client.AreaListOptions{WorkflowID: wfID}))(t)
		if page.Total != 1 {
			t.Errorf("areas of the workflow = %+v", page)
		}

		// oc-workflow checks a change before saving it; carol is no member.
		rep := must(e.as(carol).CheckWorkflow(ctx, workspace.WorkflowCheck{WorkflowID: wfID,
			Usage: workflow.UsageOf(graph(closed))}))(t)
		if len(rep.Violations) != 1 || rep.Violations[0].AreaID != a.ID || rep.Violations[0].AreaName != "WF" ||
			rep.Violations[0].RuleID != "r-open" || rep.Violations[0].Resource != closed {
			t.Errorf("check = %+v", rep)
		}
		rep = must(e.as(carol).CheckWorkflow(ctx, workspace.WorkflowCheck{WorkflowID: "other", Usage: workflow.UsageOf(graph(closed))}))(t)
		if len(rep.Violations) != 0 {
			t.Errorf("check of a workflow no area holds = %+v", rep)
		}

		// results_members_only reports the public bucket the workflow writes to.
		res := must(e.as(alice).SetRules(ctx, a.ID, a.Version, []workspace.Rule{{ID: "r-res", Kind: workspace.RuleResultsMembersOnly}}))(t)
		if len(res.Report.Violations) != 1 || res.Report.Violations[0].Resource != public || res.Report.Violations[0].ItemKind != workspace.SharedWorkflow {
			t.Errorf("results report = %+v", res.Report)
		}

		// Workflow events keep the shared usage fresh, then remove it.
		updated := workflow.Workflow{ID: wfID, Name: "NDVI 2", Owner: "alice", Graph: workflow.Graph{Nodes: []workflow.Node{
			{ID: "p", Kind: resource.KindProcessing, Resource: open}}}}
		publish(t, e.NATS, event.WorkflowUpdated, updated)
		eventually(t, func() bool {
			a := must(e.as(alice).GetArea(ctx, a.ID))(t)
			return len(a.Shared) == 1 && a.Shared[0].Name == "NDVI 2" && len(a.Shared[0].Usage.Resources) == 1
		})
		publish(t, e.NATS, event.WorkflowDeleted, updated)
		eventually(t, func() bool { return len(must(e.as(alice).GetArea(ctx, a.ID))(t).Shared) == 0 })
		ops := e.history(a.ID)
		if ops[0].Type != workspace.OpUnshared || ops[1].Type != workspace.OpItemUpdated || ops[1].Stamp.By != "alice" {
			t.Errorf("history = %+v", ops[:2])
		}
	})
}

func publish(t *testing.T, nc *nats.Conn, subject string, w workflow.Workflow) {
	t.Helper()
	env, err := event.New(subject, "workflow", w.ID, "alice", w)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(env)
	if err := nc.Publish(subject, raw); err != nil {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 5s")
}

func TestEvents(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ch := make(chan *nats.Msg, 16)
		sub, err := e.NATS.ChanSubscribe("oc.>", ch)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Unsubscribe() }()
		if err := e.NATS.Flush(); err != nil {
			t.Fatal(err)
		}
		expect := func(subject, id string) event.Envelope {
			t.Helper()
			m := waitFor(t, ch)
			var env event.Envelope
			if err := json.Unmarshal(m.Data, &env); err != nil || m.Subject != subject || env.Subject != id ||
				env.Source != "workspace" || env.Actor != "alice" {
				t.Fatalf("event on %s = %s, want %s about %s by alice", m.Subject, m.Data, subject, id)
			}
			return env
		}
		w := must(e.as(alice).CreateWorkspace(ctx, workspace.Input{Name: "Evented"}))(t)
		expect(event.WorkspaceCreated, w.ID)
		w = must(e.as(alice).UpdateWorkspace(ctx, w.ID, w.Version, workspace.Input{Name: "Evented 2"}))(t)
		env := expect(event.WorkspaceUpdated, w.ID)
		var got workspace.Workspace
		if err := json.Unmarshal(env.Data, &got); err != nil || got.Name != "Evented 2" || got.Version != w.Version {
			t.Errorf("event data = %s", env.Data)
		}
		must(e.as(alice).DeleteWorkspace(ctx, w.ID, 0), nil)(t)
		expect(event.WorkspaceDeleted, w.ID)

		a := must(e.as(alice).CreateArea(ctx, workspace.AreaInput{Name: "Evented"}))(t)
		env = expect(event.AreaChanged, a.ID)
		var op workspace.Op
		if err := json.Unmarshal(env.Data, &op); err != nil || op.Type != workspace.OpCreated || op.Seq != 1 {
			t.Errorf("area event = %s", env.Data)
		}
		must(e.as(alice).AddPeer(ctx, a.ID, "partner-b"))(t)
		env = expect(event.AreaChanged, a.ID)
		if err := json.Unmarshal(env.Data, &op); err != nil || op.Type != workspace.OpPeerAdded || op.Seq != 2 {
			t.Errorf("area event = %s", env.Data)
		}
		// Refused changes publish nothing.
		_, _ = e.as(alice).CreateArea(ctx, workspace.AreaInput{})
		_, _ = e.as(alice).RemoveMember(ctx, a.ID, "alice")
		if err := e.NATS.Flush(); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-ch:
			t.Errorf("unexpected event %s: %s", m.Subject, m.Data)
		case <-time.After(200 * time.Millisecond):
		}
	})
}
