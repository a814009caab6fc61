package service_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/opencloud/opencloud/libs/workspace"
)

func TestBadInput(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tok := e.iss.Token(alice)
		a := must(e.as(alice).CreateArea(ctx, workspace.AreaInput{Name: "A"}))(t)
		w := must(e.as(alice).CreateWorkspace(ctx, workspace.Input{Name: "W"}))(t)
		long := strings.Repeat("é", 201)
		cases := []struct {
			name, method, path, body string
			status                   int
			fields                   []string
		}{
			{"malformed", "POST", "/workspace/workspaces", `{"name":`, 400, nil},
			{"unknown field", "POST", "/workspace/workspaces", `{"name":"x","color":"red"}`, 400, []string{"color"}},
			{"wrong type", "POST", "/workspace/workspaces", `{"name":3}`, 400, []string{"name"}},
			{"no name", "POST", "/workspace/workspaces", `{}`, 400, []string{"name"}},
			{"long name", "POST", "/workspace/workspaces", `{"name":"` + long + `"}`, 400, []string{"name"}},
			{"long description", "POST", "/workspace/workspaces", `{"name":"x","description":"` + strings.Repeat("d", 10001) + `"}`, 400, []string{"description"}},
			{"bad refs", "POST", "/workspace/workspaces", `{"name":"x","resources":[{"id":""},{"peer":"a b","id":"x"},{"id":"` + strings.Repeat("i", 129) + `"}]}`, 400,
				[]string{"resources[0].id", "resources[1].peer", "resources[2].id"}},
			{"version on create", "POST", "/workspace/workspaces", `{"name":"x","version":3}`, 400, []string{"version"}},
			{"add bad ref", "POST", "/workspace/workspaces/" + w.ID + "/resources", `{"peer":"p"}`, 400, []string{"id"}},
			{"workflow ws no version", "PUT", "/workspace/workspaces/by-workflow/wf1", `{"name":"n","owner":"alice"}`, 400, []string{"workflow_version"}},
			{"workflow ws no owner", "PUT", "/workspace/workspaces/by-workflow/wf1", `{"name":"n","workflow_version":1}`, 400, []string{"owner"}},
			{"area no name", "POST", "/workspace/areas", `{"name":" "}`, 400, []string{"name"}},
			{"area bad rules", "POST", "/workspace/areas", `{"name":"x","rules":[{"kind":"nope"},{"kind":"jurisdictions"},{"kind":"jurisdictions","jurisdictions":["fr","EU","FRA"]},{"kind":"compute_peers"},{"kind":"no_personal_data","peers":["p"]},{"id":"a","kind":"no_personal_data"},{"id":"a","kind":"open_source_processings"}]}`, 400,
				[]string{"rules[0].kind", "rules[1].jurisdictions", "rules[2].jurisdictions[0]", "rules[2].jurisdictions[2]", "rules[3].peers", "rules[4].peers", "rules[6].id"}},
			{"area bad members", "POST", "/workspace/areas", `{"name":"x","members":[""],"peers":["a/b"]}`, 400, []string{"members[0]", "peers[0]"}},
			{"rename with members", "PUT", "/workspace/areas/" + a.ID, `{"name":"x","members":["bob"],"version":1}`, 400, []string{"members"}},
			{"bad member", "POST", "/workspace/areas/" + a.ID + "/members", `{"subject":"a b"}`, 400, []string{"subject"}},
			{"bad share kind", "POST", "/workspace/areas/" + a.ID + "/shared", `{"kind":"car","ref":{"id":"x"}}`, 400, []string{"kind"}},
			{"bad share ref", "POST", "/workspace/areas/" + a.ID + "/shared", `{"kind":"resource","ref":{"id":""}}`, 400, []string{"ref.id"}},
			{"remote workspace share", "POST", "/workspace/areas/" + a.ID + "/shared", `{"kind":"workspace","ref":{"peer":"far","id":"x"}}`, 400, []string{"ref.peer"}},
			{"rules missing", "PUT", "/workspace/areas/" + a.ID + "/rules", `{"version":1}`, 400, []string{"rules"}},
			{"bad If-Match", "PUT", "/workspace/areas/" + a.ID + "/rules", `{"rules":[]}`, 400, []string{"If-Match"}},
			{"check no id", "POST", "/workspace/areas/check", `{"usage":{"resources":[{"id":""}]}}`, 400, []string{"workflow_id", "usage.resources[0].id"}},
			{"unknown param", "GET", "/workspace/workspaces?color=red&limit=0", "", 400, []string{"color", "limit"}},
			{"huge limit", "GET", "/workspace/areas?limit=100000&offset=-1", "", 400, []string{"limit", "offset"}},
			{"bad sort", "GET", "/workspace/areas?sort=kind", "", 400, []string{"sort"}},
			{"bad resource filter", "GET", "/workspace/areas?resource=nope", "", 400, []string{"resource"}},
			{"unknown history param", "GET", "/workspace/areas/" + a.ID + "/history?since=1", "", 400, []string{"since"}},
			{"long q", "GET", "/workspace/workspaces?q=" + strings.Repeat("a", 201), "", 400, []string{"q"}},
			{"not a uuid", "GET", "/workspace/areas/nope", "", 404, nil},
		}
		before := countAll(t, e)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				h := []string{}
				if c.name == "bad If-Match" {
					h = []string{"If-Match", "W/x"}
				}
				resp := e.do(c.method, c.path, tok, c.body, h...)
				if resp.Status != c.status {
					t.Fatalf("status %d, want %d: %s", resp.Status, c.status, resp.Body)
				}
				got := map[string]bool{}
				for _, f := range resp.fields(t) {
					got[f.Field] = true
					if f.Problem == "" {
						t.Errorf("field %s without a problem", f.Field)
					}
				}
				for _, f := range c.fields {
					if !got[f] {
						t.Errorf("field %s not named in %s", f, resp.Body)
					}
				}
			})
		}
		if after := countAll(t, e); after != before {
			t.Errorf("stored counts changed from %v to %v", before, after)
		}
		// Without a token.
		if resp := e.do(http.MethodGet, "/workspace/areas", "", ""); resp.Status != http.StatusUnauthorized {
			t.Errorf("no token: %d", resp.Status)
		}
	})
}

// countAll is how many workspaces, and ops of all areas listed by root, are stored.
func countAll(t *testing.T, e *env) [2]int64 {
	t.Helper()
	n, err := e.workspaces.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ops int64
	for _, a := range must(e.as(root).ListAreas(context.Background(), clientAll()))(t).Items {
		c, err := e.ops.Count(context.Background(), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		ops += c
	}
	return [2]int64{n, ops}
}
