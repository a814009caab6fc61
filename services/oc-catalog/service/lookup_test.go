package service_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/resource"
)

func TestLookup(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		pub := e.create(alice, sample(resource.KindData, "public tiles"))
		hidden := sample(resource.KindProcessing, "alice's secret")
		hidden.Visibility = resource.Private
		priv := e.create(alice, hidden)
		lab := sample(resource.KindStorage, "lab-a bucket")
		lab.Visibility, lab.Groups = resource.Groups, []string{"lab-a"}
		grp := e.create(alice, lab)
		unknown := uuid.NewString()

		ids := []string{grp.ID, unknown, pub.ID, priv.ID, pub.ID}
		for _, tt := range []struct {
			who         string
			got         func() (resource.LookupResult, error)
			items, miss []string
		}{
			{"alice sees her own", func() (resource.LookupResult, error) { return e.as(alice).Lookup(ctx, ids) },
				[]string{grp.ID, pub.ID, priv.ID}, []string{unknown}},
			{"carol is in lab-a", func() (resource.LookupResult, error) { return e.as(carol).Lookup(ctx, ids) },
				[]string{grp.ID, pub.ID}, []string{unknown, priv.ID}},
			{"bob sees only the public one", func() (resource.LookupResult, error) { return e.as(bob).Lookup(ctx, ids) },
				[]string{pub.ID}, []string{grp.ID, unknown, priv.ID}},
		} {
			t.Run(tt.who, func(t *testing.T) {
				res, err := tt.got()
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, r := range res.Items {
					got = append(got, r.ID)
				}
				if !slices.Equal(got, tt.items) || !slices.Equal(res.Missing, tt.miss) {
					t.Errorf("items %v missing %v, want %v and %v", got, res.Missing, tt.items, tt.miss)
				}
			})
		}

		tok := e.iss.Token(bob)
		many := make([]string, resource.MaxLookup+1)
		for i := range many {
			many[i] = fmt.Sprintf("%q", uuid.NewString())
		}
		for _, tt := range []struct{ name, body string }{
			{"no ids", `{"ids": []}`},
			{"ids missing", `{}`},
			{"too many", `{"ids": [` + strings.Join(many, ",") + `]}`},
			{"wrong type", `{"ids": "x"}`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				resp := e.do(http.MethodPost, "/catalog/resources/lookup", tok, tt.body)
				checkError(t, tt.name, resp, http.StatusBadRequest, "invalid_request", []string{"ids"})
			})
		}
		if resp := e.do(http.MethodPost, "/catalog/resources/lookup", "", `{"ids":["x"]}`); resp.Status != http.StatusUnauthorized {
			t.Errorf("without a token: %d", resp.Status)
		}
	})
}
