package service_test

import (
	"context"
	"log/slog"
	"maps"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/opencloud/opencloud/libs/authn/authntest"
	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"

	"github.com/opencloud/opencloud/services/oc-catalog/client"
	catalogstore "github.com/opencloud/opencloud/services/oc-catalog/internal/store"
	"github.com/opencloud/opencloud/services/oc-catalog/service"
)

// A catalog that ran as "local" (OC_PEER_ID's old default) and starts
// again with its real peer id serves every resource it kept with that id,
// once, even when two processes start together.
func TestLocalPeerIDsBecomeThisPeers(t *testing.T) {
	for name, open := range map[string]func(testing.TB) store.Store{"sqlite": testenv.SQLiteStore, "mongo": testenv.MongoStore} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			st, nc, iss, logs := open(t), testenv.NATS(t), authntest.New(t), &testenv.Buffer{}
			boot := func(peer string) *client.Client {
				t.Helper()
				svc, err := service.New(ctx, service.Deps{Logger: slog.New(slog.NewTextHandler(logs, nil)), Store: st, NATS: nc,
					Verifier: iss.Verifier(ctx), PeerID: peer})
				if err != nil {
					t.Fatal(err)
				}
				srv := httptest.NewServer(svc.Handler())
				t.Cleanup(srv.Close)
				return client.New(srv.URL, client.StaticToken(iss.Token(root)), nil)
			}

			old := boot("")
			for _, name := range []string{"tiles", "ndvi"} {
				if _, err := old.Create(ctx, resource.Input{Kind: resource.KindData, Name: name, Visibility: resource.Public,
					Data: &resource.Data{Location: "s3://tiles/" + name}}); err != nil {
					t.Fatal(err)
				}
			}
			repo, err := catalogstore.Open(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			// A resource stored without a peer id at all.
			if _, err := repo.Insert(ctx, resource.Resource{ID: "no-peer", Kind: resource.KindData, Name: "bare",
				Owners: []string{"alice"}, Tags: []string{}, Visibility: resource.Public,
				Data: &resource.Data{Location: "s3://bare"}}); err != nil {
				t.Fatal(err)
			}
			before := map[string]string{}
			for _, r := range everyResource(t, old) {
				before[r.Name] = r.PeerID
			}
			if want := map[string]string{"bare": "", "ndvi": "local", "tiles": "local"}; !maps.Equal(before, want) {
				t.Fatalf("before: peer ids %v, want %v", before, want)
			}

			key, err := peerid.GenerateKey(nil)
			if err != nil {
				t.Fatal(err)
			}
			self := key.PeerID().String()
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() { boot(self) })
			}
			wg.Wait()
			after := everyResource(t, boot(self))
			for _, r := range after {
				if r.PeerID != self {
					t.Errorf("resource %q: peer_id %q, want %s", r.Name, r.PeerID, self)
				}
			}
			if got := strings.Count(logs.String(), "resources stamped with this peer's id"); got == 0 {
				t.Errorf("no log line says resources were stamped:\n%s", logs)
			}

			again := everyResource(t, boot(self))
			for i, r := range again {
				if r.Version != after[i].Version {
					t.Errorf("resource %q: version %d after a second start, %d before: it was written again", r.Name, r.Version, after[i].Version)
				}
				if r.Version != 2 {
					t.Errorf("resource %q: version %d, want 2 (stamped once)", r.Name, r.Version)
				}
			}
		})
	}
}

// everyResource is every resource, in name order.
func everyResource(t *testing.T, c *client.Client) []resource.Resource {
	t.Helper()
	page, err := c.List(context.Background(), client.ListOptions{Sort: []string{"name"}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 3 {
		t.Fatalf("%d resources listed, want 3", len(page.Items))
	}
	return page.Items
}
