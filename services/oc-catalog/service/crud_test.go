package service_test

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/resource"

	"github.com/opencloud/opencloud/services/oc-catalog/client"
)

func TestCRUDEveryKind(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.as(alice)
		for _, k := range resource.Kinds {
			t.Run(string(k), func(t *testing.T) {
				in := sample(k, "My "+string(k))
				in.Tags = []string{"first"}
				before := time.Now().UTC().Add(-time.Second)

				created, err := c.Create(ctx, in)
				if err != nil {
					t.Fatalf("create: %v", err)
				}
				if _, err := uuid.Parse(created.ID); err != nil {
					t.Errorf("id %q is not a UUID", created.ID)
				}
				if created.Kind != k || created.Name != in.Name || created.Version != 1 || created.Creator != "alice" ||
					!slices.Equal(created.Owners, []string{"alice"}) || created.PeerID != peerID {
					t.Errorf("created = %+v", created)
				}
				if created.CreatedAt.Before(before) || !created.CreatedAt.Equal(created.UpdatedAt) || created.CreatedAt.Location() != time.UTC {
					t.Errorf("times: created %v, updated %v", created.CreatedAt, created.UpdatedAt)
				}
				wantPricing := resource.Pricing{Model: resource.Free}
				if in.Pricing != nil {
					wantPricing = *in.Pricing
				}
				if created.Pricing != wantPricing {
					t.Errorf("pricing = %+v, want %+v", created.Pricing, wantPricing)
				}
				assertKindObject(t, created, in)

				got, err := c.Get(ctx, created.ID)
				if err != nil {
					t.Fatalf("get: %v", err)
				}
				if !reflect.DeepEqual(got, created) {
					t.Errorf("get = %+v\nwant  %+v", got, created)
				}

				next := got.Input()
				next.Name = "Renamed " + string(k)
				next.Description = "Now with a description."
				updated, err := c.Update(ctx, created.ID, got.Version, next)
				if err != nil {
					t.Fatalf("update: %v", err)
				}
				if updated.Version != 2 || updated.Name != next.Name || updated.Description != next.Description ||
					!updated.CreatedAt.Equal(created.CreatedAt) || updated.UpdatedAt.Before(created.UpdatedAt) || updated.Creator != "alice" {
					t.Errorf("updated = %+v", updated)
				}
				assertKindObject(t, updated, in)

				patched, err := c.Patch(ctx, created.ID, 0, map[string]any{"tags": []string{"first", "second"}, "short_description": "short"})
				if err != nil {
					t.Fatalf("patch: %v", err)
				}
				if patched.Version != 3 || !slices.Equal(patched.Tags, []string{"first", "second"}) ||
					patched.ShortDescription != "short" || patched.Name != next.Name {
					t.Errorf("patched = %+v", patched)
				}

				page, err := c.List(ctx, client.ListOptions{Kind: k})
				if err != nil {
					t.Fatalf("list: %v", err)
				}
				if page.Total != 1 || len(page.Items) != 1 || !reflect.DeepEqual(page.Items[0], patched) {
					t.Errorf("list kind=%s = %+v, want just %+v", k, page, patched)
				}

				if err := c.Delete(ctx, created.ID, patched.Version); err != nil {
					t.Fatalf("delete: %v", err)
				}
				if _, err := c.Get(ctx, created.ID); status(err) != http.StatusNotFound {
					t.Errorf("get after delete: %v, want 404", err)
				}
				if err := c.Delete(ctx, created.ID, 0); status(err) != http.StatusNotFound {
					t.Errorf("second delete: %v, want 404", err)
				}
			})
		}
		if n := e.count(); n != 0 {
			t.Errorf("%d resources left after deleting all", n)
		}
	})
}

// assertKindObject checks that r carries exactly the per-kind object of in.
func assertKindObject(t *testing.T, r resource.Resource, in resource.Input) {
	t.Helper()
	got := []any{r.Data, r.Processing, r.Storage, r.Compute, r.Workflow}
	want := []any{in.Data, in.Processing, in.Storage, in.Compute, in.Workflow}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("%s object = %+v, want %+v", resource.Kinds[i], got[i], want[i])
		}
	}
}

func TestCreateAnswers(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		body := `{"kind":"workflow","name":"  Pipeline  ","tags":["b","a","b"],"owners":["alice","carol"],` +
			`"visibility":"groups","groups":["lab-a"],"workflow":{"workflow_id":"wf-1"}}`
		resp := e.do(http.MethodPost, "/catalog/resources", e.iss.Token(alice), body)
		if resp.Status != http.StatusCreated {
			t.Fatalf("status %d: %s", resp.Status, resp.Body)
		}
		if resp.Header.Get("ETag") != `"1"` {
			t.Errorf("ETag = %q, want \"1\"", resp.Header.Get("ETag"))
		}
		loc := resp.Header.Get("Location")
		if !strings.HasPrefix(loc, "/catalog/resources/") {
			t.Fatalf("Location = %q", loc)
		}
		get := e.do(http.MethodGet, loc, e.iss.Token(carol), "")
		if get.Status != http.StatusOK || get.Header.Get("ETag") != `"1"` {
			t.Fatalf("GET Location as a co-owner: %d %s", get.Status, get.Body)
		}
		r := e.stored(strings.TrimPrefix(loc, "/catalog/resources/"))
		if r.Name != "Pipeline" || !slices.Equal(r.Tags, []string{"b", "a"}) || !slices.Equal(r.Owners, []string{"alice", "carol"}) {
			t.Errorf("stored = %+v: want the name trimmed, tags deduplicated, owners as given", r)
		}
		// A co-owner may change it.
		if _, err := e.as(carol).Patch(context.Background(), r.ID, 1, map[string]any{"name": "Carol's"}); err != nil {
			t.Errorf("co-owner patch: %v", err)
		}
	})
}

func TestUnknownIDs(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		tok := e.iss.Token(root) // even an admin
		for _, id := range []string{uuid.NewString(), "not-a-uuid", strings.ToUpper(uuid.NewString()), "%00"} {
			for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete} {
				body := ""
				if m == http.MethodPut || m == http.MethodPatch {
					body = `{"kind":"workflow","name":"x","workflow":{"workflow_id":"w"}}`
				}
				resp := e.do(m, "/catalog/resources/"+id, tok, body, "If-Match", `"1"`)
				if resp.Status != http.StatusNotFound || resp.envelope(t).Code != "not_found" {
					t.Errorf("%s %s: %d %s, want 404", m, id, resp.Status, resp.Body)
				}
			}
		}
	})
}

func TestProbesAndSwagger(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		for path, want := range map[string]string{
			"/catalog/healthz":            `"ok"`,
			"/catalog/readyz":             `"ready":true`,
			"/catalog/swagger/doc.json":   `"/resources/{id}"`,
			"/catalog/metrics":            "go_goroutines",
			"/catalog/swagger/index.html": "swagger",
		} {
			resp := e.do(http.MethodGet, path, "", "")
			if resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), want) {
				t.Errorf("GET %s: %d, body without %s", path, resp.Status, want)
			}
		}
	})
}
