package service_test

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"testing"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/authn/authntest"
	"github.com/opencloud/opencloud/libs/resource"

	"github.com/opencloud/opencloud/services/oc-catalog/client"
)

func TestAuthentication(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		body := `{"kind":"workflow","name":"x","workflow":{"workflow_id":"w"}}`
		tokens := map[string]string{
			"no token":       "",
			"garbage":        "not-a-jwt",
			"expired":        e.iss.Token(alice, authntest.Expired()),
			"wrong key":      e.iss.Token(alice, authntest.WrongKey()),
			"alg none":       e.iss.NoneToken(alice),
			"wrong audience": e.iss.Token(alice, authntest.Audience("another-api")),
			"wrong issuer":   e.iss.Token(alice, authntest.IssuedBy("https://evil.example/auth")),
		}
		for name, tok := range tokens {
			t.Run(name, func(t *testing.T) {
				before := e.count()
				for _, req := range []struct{ method, path, body string }{
					{http.MethodGet, "/catalog/resources", ""},
					{http.MethodPost, "/catalog/resources", body},
					{http.MethodGet, "/catalog/resources/6b0e3c6c-4d0a-4d21-9a43-0e4c1d7b9f10", ""},
					{http.MethodDelete, "/catalog/resources/6b0e3c6c-4d0a-4d21-9a43-0e4c1d7b9f10", ""},
				} {
					resp := e.do(req.method, req.path, tok, req.body)
					if resp.Status != http.StatusUnauthorized || resp.envelope(t).Code != "unauthorized" {
						t.Errorf("%s %s: %d %s, want 401", req.method, req.path, resp.Status, resp.Body)
					}
					if resp.Header.Get("WWW-Authenticate") == "" {
						t.Errorf("%s %s: no WWW-Authenticate challenge", req.method, req.path)
					}
				}
				if after := e.count(); after != before {
					t.Errorf("%d resources written by unauthenticated calls", after-before)
				}
			})
		}
		if resp := e.do(http.MethodGet, "/catalog/resources", e.iss.Token(alice), ""); resp.Status != http.StatusOK {
			t.Errorf("a valid token: %d %s", resp.Status, resp.Body)
		}
	})
}

func TestVisibility(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		made := map[resource.Visibility]resource.Resource{}
		for _, v := range resource.Visibilities {
			in := sample(resource.KindData, "alice "+string(v))
			in.Visibility = v
			if v == resource.Groups {
				in.Groups = []string{"lab-a"}
			}
			made[v] = e.create(alice, in)
		}
		// Who may see what; everyone else gets a 404, as for an unknown id.
		visible := map[string][]resource.Visibility{
			"alice": resource.Visibilities, // the owner
			"bob":   {resource.Public, resource.Partners},
			"carol": {resource.Public, resource.Partners, resource.Groups}, // in lab-a
			"root":  resource.Visibilities,                                 // admin
		}
		for _, p := range []authn.Principal{alice, bob, carol, root} {
			c := e.as(p)
			page, err := c.List(ctx, client.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var listed []resource.Visibility
			for _, r := range page.Items {
				listed = append(listed, r.Visibility)
			}
			if want := visible[p.Subject]; !sameSet(listed, want) || page.Total != int64(len(want)) {
				t.Errorf("%s lists %v (total %d), want %v", p.Subject, listed, page.Total, want)
			}
			for v, r := range made {
				got, err := c.Get(ctx, r.ID)
				if slices.Contains(visible[p.Subject], v) {
					if err != nil || !reflect.DeepEqual(got, r) {
						t.Errorf("%s GET %s: %v", p.Subject, v, err)
					}
				} else if status(err) != http.StatusNotFound {
					t.Errorf("%s GET %s: %v, want 404", p.Subject, v, err)
				}
			}
		}
		// A private resource of another user cannot be changed either, and
		// the answer does not reveal that it exists.
		priv := made[resource.Private]
		if _, err := e.as(bob).Update(ctx, priv.ID, priv.Version, priv.Input()); status(err) != http.StatusNotFound {
			t.Errorf("bob PUT on alice's private: %v, want 404", err)
		}
		if err := e.as(bob).Delete(ctx, priv.ID, 0); status(err) != http.StatusNotFound {
			t.Errorf("bob DELETE on alice's private: %v, want 404", err)
		}
	})
}

func TestOwnership(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.create(alice, sample(resource.KindCompute, "Alice's cluster"))
		in := r.Input()
		in.Name = "Taken by bob"

		// Bob sees it (public) but may not change it.
		bobC := e.as(bob)
		if _, err := bobC.Update(ctx, r.ID, r.Version, in); status(err) != http.StatusForbidden {
			t.Errorf("bob PUT: %v, want 403", err)
		}
		if _, err := bobC.Patch(ctx, r.ID, 0, map[string]any{"name": "Taken by bob"}); status(err) != http.StatusForbidden {
			t.Errorf("bob PATCH: %v, want 403", err)
		}
		if err := bobC.Delete(ctx, r.ID, 0); status(err) != http.StatusForbidden {
			t.Errorf("bob DELETE: %v, want 403", err)
		}
		if got := e.stored(r.ID); !reflect.DeepEqual(got, r) {
			t.Errorf("stored after refused changes = %+v, want unchanged %+v", got, r)
		}

		// Alice makes bob a co-owner: now he may.
		in.Name, in.Owners = r.Name, []string{"alice", "bob"}
		r2, err := e.as(alice).Update(ctx, r.ID, r.Version, in)
		if err != nil {
			t.Fatal(err)
		}
		r3, err := bobC.Patch(ctx, r.ID, r2.Version, map[string]any{"name": "Shared cluster"})
		if err != nil || r3.Name != "Shared cluster" {
			t.Fatalf("co-owner bob PATCH: %+v, %v", r3, err)
		}

		// An admin may change and delete anyone's resource.
		other := e.create(bob, sample(resource.KindStorage, "Bob's bucket"))
		oin := other.Input()
		oin.Description = "Moderated"
		if got, err := e.as(root).Update(ctx, other.ID, other.Version, oin); err != nil || got.Description != "Moderated" || got.Creator != "bob" {
			t.Errorf("admin PUT: %+v, %v", got, err)
		}
		if err := e.as(root).Delete(ctx, other.ID, 0); err != nil {
			t.Errorf("admin DELETE: %v", err)
		}
		if n := e.count(); n != 1 {
			t.Errorf("%d resources stored, want 1", n)
		}
	})
}

func sameSet[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
