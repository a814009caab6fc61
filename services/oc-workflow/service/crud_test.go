package service_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"

	"github.com/opencloud/opencloud/services/oc-workflow/client"
	"github.com/opencloud/opencloud/services/oc-workflow/internal/graphgen"
)

func TestSaveAndFetch(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.seed()
		in := pipeline("NDVI over Paris", r)
		resp := e.do(http.MethodPost, "/workflow/workflows", e.token(alice), mustJSON(t, in))
		if resp.Status != http.StatusCreated || resp.Header.Get("ETag") != `"1"` {
			t.Fatalf("create: %d %s", resp.Status, resp.Body)
		}
		var created wf.Workflow
		if err := json.Unmarshal(resp.Body, &created); err != nil {
			t.Fatal(err)
		}
		if loc := resp.Header.Get("Location"); loc != "/workflow/workflows/"+created.ID {
			t.Errorf("Location = %q", loc)
		}
		if created.Owner != "alice" || created.Version != 1 || created.Name != in.Name || !reflect.DeepEqual(created.Graph, in.Graph) ||
			!slices.Equal(created.Tags, in.Tags) || !created.WorkspaceInSync || created.WorkspaceID == "" || len(created.Warnings) != 0 {
			t.Errorf("created = %+v", created)
		}
		got, err := e.as(alice).Get(ctx, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, created) {
			t.Errorf("get = %+v\nwant  %+v", got, created)
		}
		page, err := e.as(alice).List(ctx, client.ListOptions{})
		if err != nil || page.Total != 1 || !reflect.DeepEqual(page.Items[0], created) {
			t.Errorf("list = %+v, %v", page, err)
		}

		// Empty peers are this peer's.
		in.Name = "Peerless"
		in.Graph.Nodes[0].Resource.Peer = ""
		w := e.create(alice, in)
		if w.Graph.Nodes[0].Resource != r.Data {
			t.Errorf("ref = %+v, want %+v", w.Graph.Nodes[0].Resource, r.Data)
		}
	})
}

// TestEachInvalidCase: every kind of problem is refused with the precise
// problem, and nothing is written.
func TestEachInvalidCase(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.seed()
		bobsPrivate := e.newResource(bob, resource.KindProcessing, "Bob's secret", resource.Private, true)
		for _, tc := range []struct {
			name   string
			change func(in *wf.Input)
			want   wf.Problem // code, node, link, field; Message is a substring
		}{
			{"cycle", func(in *wf.Input) {
				in.Graph.Links = append(in.Graph.Links, wf.Link{ID: "back", Kind: wf.LinkDependency, From: "p2", To: "p1"})
			}, wf.Problem{Code: wf.ProblemCycle, Node: "p1", Link: "back", Field: "graph.links[6]", Path: []string{"p1", "p2", "p1"},
				Message: `"p1" → "p2" → "p1"`}},
			{"processing without compute", func(in *wf.Input) { in.Graph.Links = slices.Delete(in.Graph.Links, 3, 4) },
				wf.Problem{Code: wf.ProblemNoCompute, Node: "p2", Field: "graph.nodes[2]", Message: "add one compute link from it to a compute node"}},
			{"two computes", func(in *wf.Input) {
				in.Graph.Nodes = append(in.Graph.Nodes, wf.Node{ID: "k2", Kind: resource.KindCompute, Resource: r.Compute})
				in.Graph.Links = append(in.Graph.Links, wf.Link{ID: "l7", Kind: wf.LinkCompute, From: "p1", To: "k2"})
			}, wf.Problem{Code: wf.ProblemSeveralComputes, Node: "p1", Field: "graph.nodes[1]", Message: "keep exactly one"}},
			{"link kind not allowed", func(in *wf.Input) {
				in.Graph.Links = append(in.Graph.Links, wf.Link{ID: "bad", Kind: wf.LinkCompute, From: "tiles", To: "out"})
			}, wf.Problem{Code: wf.ProblemLinkNotAllowed, Link: "bad", Field: "graph.links[6].kind",
				Message: `a compute link goes from a processing to a compute; this one goes from data "tiles" to storage "out"`}},
			{"storage link without path", func(in *wf.Input) { in.Graph.Links[5].Destination = "" },
				wf.Problem{Code: wf.ProblemMissingPath, Link: "l6", Field: "graph.links[5].destination", Message: "has no destination: give the key or prefix to write in the bucket"}},
			{"missing resource", func(in *wf.Input) { in.Graph.Nodes[0].Resource.ID = uuid.NewString() },
				wf.Problem{Code: wf.ProblemResourceNotFound, Node: "tiles", Field: "graph.nodes[0].resource.id", Message: "does not exist or you may not see it"}},
			{"another user's private resource", func(in *wf.Input) { in.Graph.Nodes[1].Resource = bobsPrivate },
				wf.Problem{Code: wf.ProblemResourceNotFound, Node: "p1", Field: "graph.nodes[1].resource.id", Message: "does not exist or you may not see it"}},
			{"kind mismatch", func(in *wf.Input) { in.Graph.Nodes[4].Resource = r.Data },
				wf.Problem{Code: wf.ProblemKindMismatch, Node: "out", Field: "graph.nodes[4].kind", Message: `is a storage but resource "` + r.Data.String() + `" is a data`}},
			{"duplicate node ids", func(in *wf.Input) {
				in.Graph.Nodes = append(in.Graph.Nodes, wf.Node{ID: "p2", Kind: resource.KindData, Resource: r.Data})
			}, wf.Problem{Code: wf.ProblemDuplicateID, Node: "p2", Field: "graph.nodes[5].id", Message: "used by graph.nodes[2] and graph.nodes[5]"}},
			{"duplicate link ids", func(in *wf.Input) { in.Graph.Links[1].ID = "l1" },
				wf.Problem{Code: wf.ProblemDuplicateID, Link: "l1", Field: "graph.links[1].id", Message: "used by graph.links[0] and graph.links[1]"}},
			{"dangling link", func(in *wf.Input) { in.Graph.Links[0].From = "nowhere" },
				wf.Problem{Code: wf.ProblemDanglingLink, Link: "l1", Field: "graph.links[0].from", Message: `"nowhere", which is not a node of the graph`}},
			{"self-loop", func(in *wf.Input) { in.Graph.Links[1].To = "p1" },
				wf.Problem{Code: wf.ProblemSelfLoop, Link: "l2", Node: "p1", Field: "graph.links[1].to", Message: "to itself"}},
			{"huge name", func(in *wf.Input) { in.Name = strings.Repeat("n", 100000) },
				wf.Problem{Code: wf.ProblemInvalidField, Field: "name", Message: "shorten it to at most 200"}},
			{"huge node id", func(in *wf.Input) {
				in.Graph.Nodes = append(in.Graph.Nodes, wf.Node{ID: strings.Repeat("x", 1<<20), Kind: resource.KindData, Resource: r.Data})
			},
				wf.Problem{Code: wf.ProblemInvalidField, Field: "graph.nodes[5].id", Message: "is not 1 to 64 characters"}},
			{"huge path", func(in *wf.Input) { in.Graph.Links[4].Source = strings.Repeat("p", 5000) },
				wf.Problem{Code: wf.ProblemInvalidField, Link: "l5", Field: "graph.links[4].source", Message: "at most 1024"}},
			{"workflow as a node", func(in *wf.Input) { in.Graph.Nodes[0].Kind = resource.KindWorkflow },
				wf.Problem{Code: wf.ProblemInvalidField, Node: "tiles", Field: "graph.nodes[0].kind", Message: "a workflow cannot be a node"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				in := pipeline("Broken", r)
				tc.change(&in)
				before := e.count()
				_, err := e.as(alice).Create(ctx, in)
				v := problems(t, err)
				if v.Valid || len(v.Problems) != 1 {
					t.Fatalf("problems = %+v, want exactly one", v.Problems)
				}
				g, w := v.Problems[0], tc.want
				if g.Code != w.Code || g.Node != w.Node || g.Link != w.Link || g.Field != w.Field || !strings.Contains(g.Message, w.Message) ||
					(w.Path != nil && !slices.Equal(g.Path, w.Path)) {
					t.Errorf("problem = %+v\nwant %+v", g, w)
				}
				if len(g.Message) > 2000 {
					t.Errorf("message of %d bytes", len(g.Message))
				}
				if after := e.count(); after != before {
					t.Errorf("%d workflows stored after a refusal, %d before", after, before)
				}
			})
		}
	})
}

// TestAllProblemsAtOnce: one response lists every problem, ordered by field.
func TestAllProblemsAtOnce(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		r := e.seed()
		in := pipeline("Many problems", r)
		in.Graph.Links = append(in.Graph.Links, wf.Link{ID: "back", Kind: wf.LinkDependency, From: "p2", To: "p1"})
		in.Graph.Links[3].From = "tiles"                 // p2 loses its compute; a compute link from data
		in.Graph.Links[4].Source = ""                    // storage read without source
		in.Graph.Nodes[0].Resource.ID = uuid.NewString() // missing
		resp := e.do(http.MethodPost, "/workflow/workflows", e.token(alice), mustJSON(t, in))
		code, msg, details := resp.envelope(t)
		if resp.Status != http.StatusBadRequest || code != "invalid_workflow" || !strings.Contains(msg, "5 problems") {
			t.Fatalf("%d %s: %s", resp.Status, code, msg)
		}
		var v wf.Validation
		if err := json.Unmarshal(details, &v); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range v.Problems {
			got = append(got, p.Field+" "+p.Code)
		}
		want := []string{
			"graph.links[3].from link_not_allowed",
			"graph.links[4].source missing_path",
			"graph.links[6] cycle",
			"graph.nodes[0].resource.id resource_not_found",
			"graph.nodes[2] no_compute",
		}
		if !slices.Equal(got, want) {
			t.Errorf("problems:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if e.count() != 0 {
			t.Error("something was written")
		}
	})
}

// TestLargeGraphs: a 5,000-node graph is accepted, 10,000 validate, and
// 10,001 are refused as too large, never a 500.
func TestLargeGraphs(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.seed()
		byKind := map[resource.Kind]resource.Ref{resource.KindData: r.Data, resource.KindProcessing: r.Proc,
			resource.KindStorage: r.Storage, resource.KindCompute: r.Compute}
		refs := func(k resource.Kind, _ int) resource.Ref { return byKind[k] }

		big := graphgen.Realistic(5000, refs)
		w, err := e.as(alice).Create(ctx, big)
		if err != nil {
			t.Fatalf("5,000 nodes: %v", err)
		}
		if len(w.Graph.Nodes) != 5000 || !w.WorkspaceInSync {
			t.Errorf("saved %d nodes, in sync %v", len(w.Graph.Nodes), w.WorkspaceInSync)
		}

		huge := graphgen.Realistic(wf.MaxNodes, refs)
		v, err := e.as(alice).Validate(ctx, huge, "")
		if err != nil || !v.Valid {
			t.Fatalf("10,000 nodes: %v %+v", err, v.Problems[:min(1, len(v.Problems))])
		}

		huge.Graph.Nodes = append(huge.Graph.Nodes, wf.Node{ID: "one-more", Kind: resource.KindData, Resource: r.Data})
		before := e.count()
		_, err = e.as(alice).Create(ctx, huge)
		got := problems(t, err)
		if len(got.Problems) != 1 || got.Problems[0].Code != wf.ProblemTooLarge || got.Problems[0].Field != "graph.nodes" ||
			!strings.Contains(got.Problems[0].Message, "10001 nodes") {
			t.Errorf("10,001 nodes: %+v", got.Problems)
		}
		if e.count() != before {
			t.Error("a too-large workflow was written")
		}
	})
}

func TestValidateRoute(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.seed()
		in := pipeline("Check me", r)
		v, err := e.as(alice).Validate(ctx, in, "")
		if err != nil || !v.Valid || len(v.Problems) != 0 {
			t.Fatalf("valid: %+v %v", v, err)
		}
		in.Graph.Links = in.Graph.Links[:2]
		v, err = e.as(alice).Validate(ctx, in, "")
		if err != nil || v.Valid || len(v.Problems) != 2 || v.Problems[0].Code != wf.ProblemNoCompute {
			t.Fatalf("invalid: %+v %v", v, err)
		}
		if e.count() != 0 {
			t.Error("validate wrote a workflow")
		}

		for _, bad := range []struct{ query, body, field string }{
			{"", `{"name":"x","graph":{"nodes":[{"id":"a","colour":"red"}]}}`, "graph.nodes[0].colour"},
			{"", `{"name":"x","graph":{"links":[{"id":"a","kind":"data","weight":2}]}}`, "graph.links[0].weight"},
			{"?workflow=x", `{"name":"x"}`, "workflow"},
		} {
			resp := e.do(http.MethodPost, "/workflow/workflows/validate"+bad.query, e.token(alice), bad.body)
			_, _, details := resp.envelope(t)
			if resp.Status != http.StatusBadRequest || !strings.Contains(string(details), `"field":"`+bad.field+`"`) {
				t.Errorf("%s %s: %d %s", bad.query, bad.body, resp.Status, resp.Body)
			}
		}
		resp := e.do(http.MethodPost, "/workflow/workflows/validate", e.token(alice), `{"name": `)
		if resp.Status != http.StatusBadRequest {
			t.Errorf("malformed: %d", resp.Status)
		}
		resp = e.do(http.MethodPost, "/workflow/workflows/validate?workflow_id="+uuid.NewString(), e.token(alice), `{"name":"x"}`)
		if resp.Status != http.StatusNotFound {
			t.Errorf("unknown workflow_id: %d %s", resp.Status, resp.Body)
		}
	})
}

func TestListFilters(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.seed()
		a := e.create(alice, pipeline("Alpha vegetation", r))
		in := pipeline("Beta", r)
		in.Tags = []string{"other"}
		in.Graph.Nodes[0].Resource = e.newResource(alice, resource.KindData, "Other tiles", resource.Public, false)
		b := e.create(alice, in)
		e.create(bob, pipeline("Bob's", r))

		for _, tc := range []struct {
			opts client.ListOptions
			want []string
		}{
			{client.ListOptions{}, []string{a.ID, b.ID}},
			{client.ListOptions{Sort: []string{"-name"}}, []string{b.ID, a.ID}},
			{client.ListOptions{Query: "alpha"}, []string{a.ID}},
			{client.ListOptions{Tags: []string{"other"}}, []string{b.ID}},
			{client.ListOptions{Uses: &r.Data}, []string{a.ID}},
			{client.ListOptions{Owner: "bob"}, nil},
			{client.ListOptions{Limit: 1, Offset: 1}, []string{b.ID}},
		} {
			page, err := e.as(alice).List(ctx, tc.opts)
			if err != nil {
				t.Fatalf("%+v: %v", tc.opts, err)
			}
			var got []string
			for _, w := range page.Items {
				got = append(got, w.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%+v: got %v, want %v", tc.opts, got, tc.want)
			}
		}
		all, err := e.as(root).List(ctx, client.ListOptions{})
		if err != nil || all.Total != 3 {
			t.Errorf("admin list: %d %v", all.Total, err)
		}
		for _, q := range []string{"?colour=red", "?sort=size", "?limit=0", "?uses=nopeer", "?tag=Bad%20Tag"} {
			resp := e.do(http.MethodGet, "/workflow/workflows"+q, e.token(alice), "")
			if resp.Status != http.StatusBadRequest {
				t.Errorf("%s: %d", q, resp.Status)
			}
		}
	})
}

func TestConcurrency(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.seed()
		w := e.create(alice, pipeline("Versioned", r))
		in := pipeline("Versioned v2", r)
		body := mustJSON(t, in)
		resp := e.do(http.MethodPut, "/workflow/workflows/"+w.ID, e.token(alice), body)
		if code, _, _ := resp.envelope(t); resp.Status != http.StatusPreconditionRequired || code != "precondition_required" {
			t.Errorf("without version: %d %s", resp.Status, resp.Body)
		}
		up, err := e.as(alice).Update(ctx, w.ID, w.Version, in)
		if err != nil || up.Version != 2 || up.Name != in.Name {
			t.Fatalf("update: %+v %v", up, err)
		}
		resp = e.do(http.MethodPut, "/workflow/workflows/"+w.ID, e.token(alice), body, "If-Match", `"1"`)
		_, _, details := resp.envelope(t)
		if resp.Status != http.StatusConflict || string(details) != `{"current_version":2}` {
			t.Errorf("stale: %d %s", resp.Status, resp.Body)
		}
		in.Version = 2
		if up, err = e.as(alice).Update(ctx, w.ID, 0, in); err != nil || up.Version != 3 {
			t.Errorf("body version: %+v %v", up, err)
		}
		if err := e.as(alice).Delete(ctx, w.ID, 2); status(err) != http.StatusConflict {
			t.Errorf("stale delete: %v", err)
		}
		if err := e.as(alice).Delete(ctx, w.ID, 3); err != nil {
			t.Fatal(err)
		}
		if _, err := e.as(alice).Get(ctx, w.ID); status(err) != http.StatusNotFound {
			t.Errorf("get after delete: %v", err)
		}
	})
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
