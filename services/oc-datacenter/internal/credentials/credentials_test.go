package credentials_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/opencloud/opencloud/libs/resource"
	ds "github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"

	"github.com/opencloud/opencloud/services/oc-datacenter/datacenter"
	"github.com/opencloud/opencloud/services/oc-datacenter/internal/credentials"
	"github.com/opencloud/opencloud/services/oc-datacenter/internal/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// catalog answers every id in kinds, ErrUnknownStorage for the rest.
type catalog map[string]resource.Kind

func (c catalog) Get(_ context.Context, id string) (resource.Resource, error) {
	k, ok := c[id]
	if !ok {
		return resource.Resource{}, credentials.ErrUnknownStorage
	}
	return resource.Resource{ID: id, Kind: k}, nil
}

var (
	key1 = bytes.Repeat([]byte{1}, credentials.KeySize)
	key2 = bytes.Repeat([]byte{2}, credentials.KeySize)
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		access, secret, field string
	}{
		{"AK", "SK", ""},
		{strings.Repeat("a", 128), strings.Repeat("~", 256), ""},
		{"", "SK", "access_key_id"},
		{"AK", "", "secret_access_key"},
		{strings.Repeat("a", 129), "SK", "access_key_id"},
		{"AK", strings.Repeat("s", 257), "secret_access_key"},
		{"A K", "SK", "access_key_id"},
		{"AK", "S\tK", "secret_access_key"},
		{"AK", "S\x7fK", "secret_access_key"},
		{"AK", "sécret", "secret_access_key"},
	} {
		err := credentials.Validate(datacenter.StorageCredentialsInput{AccessKeyID: tc.access, SecretAccessKey: tc.secret})
		var ve *credentials.ValidationError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%q/%q refused: %v", tc.access, tc.secret, err)
		case tc.field != "" && (!errors.As(err, &ve) || ve.Field != tc.field):
			t.Errorf("%q/%q: %v, want a problem with %s", tc.access, tc.secret, err, tc.field)
		}
	}
}

func backends(t *testing.T, fn func(t *testing.T, repo *store.Credentials)) {
	for _, b := range []struct {
		name string
		open func(testing.TB) ds.Store
	}{{"sqlite", testenv.SQLiteStore}, {"mongo", testenv.MongoStore}} {
		t.Run(b.name, func(t *testing.T) {
			repo, err := store.OpenCredentials(context.Background(), b.open(t))
			if err != nil {
				t.Fatal(err)
			}
			fn(t, repo)
		})
	}
}

// The secret is sealed with a fresh nonce on every write, opens only with
// the key and in the record it was sealed for.
func TestSealing(t *testing.T) {
	backends(t, func(t *testing.T, repo *store.Credentials) {
		ctx := context.Background()
		cat := catalog{"a": resource.KindStorage, "b": resource.KindStorage, "c": resource.KindCompute}
		k, err := credentials.NewKeeper(repo, key1)
		if err != nil {
			t.Fatal(err)
		}
		set := func(id, secret string) (bool, error) {
			_, created, err := k.Set(ctx, cat, id, datacenter.StorageCredentialsInput{AccessKeyID: "AK", SecretAccessKey: secret}, "root")
			return created, err
		}
		if created, err := set("a", "one"); err != nil || !created {
			t.Fatalf("first set: %v %v", created, err)
		}
		first, _ := repo.Get(ctx, "a")
		if created, err := set("a", "one"); err != nil || created {
			t.Fatalf("same again: %v %v", created, err)
		}
		if again, _ := repo.Get(ctx, "a"); again.Version != first.Version {
			t.Errorf("setting the same credentials rewrote them (version %d to %d)", first.Version, again.Version)
		}
		if _, err := set("a", "two"); err != nil {
			t.Fatal(err)
		}
		if _, err := set("a", "one"); err != nil {
			t.Fatal(err)
		}
		third, _ := repo.Get(ctx, "a")
		if bytes.Equal(first.Secret, third.Secret) || bytes.Contains(third.Secret, []byte("one")) {
			t.Errorf("the same secret sealed twice gave the same bytes, or is in clear")
		}
		c, err := k.Reveal(ctx, "a")
		if err != nil || c.SecretAccessKey != "one" || c.AccessKeyID != "AK" {
			t.Errorf("reveal: %+v %v", c, err)
		}

		if _, err := set("c", "x"); !errors.Is(err, credentials.ErrNotAStorage) {
			t.Errorf("credentials of a compute: %v", err)
		}
		if _, err := set("zz", "x"); !errors.Is(err, credentials.ErrUnknownStorage) {
			t.Errorf("credentials of an unknown resource: %v", err)
		}
		if _, err := k.Reveal(ctx, "b"); !errors.Is(err, credentials.ErrNotFound) {
			t.Errorf("reveal of none: %v", err)
		}

		// Another key does not open it.
		other, err := credentials.NewKeeper(repo, key2)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Reveal(ctx, "a"); !errors.Is(err, credentials.ErrUnreadable) {
			t.Errorf("reveal under another key: %v", err)
		}
		// A's sealed secret copied into b's record does not open there.
		moved := third
		moved.StorageID = "b"
		if err := repo.Insert(ctx, moved); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Reveal(ctx, "b"); !errors.Is(err, credentials.ErrUnreadable) {
			t.Errorf("reveal of a secret moved to another storage: %v", err)
		}
		// Setting unreadable credentials again repairs them.
		if created, err := set("b", "fresh"); err != nil || created {
			t.Fatalf("set over unreadable: %v %v", created, err)
		}
		if c, err := k.Reveal(ctx, "b"); err != nil || c.SecretAccessKey != "fresh" {
			t.Errorf("after repair: %+v %v", c, err)
		}
	})
}

func TestNewKeeperKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := credentials.NewKeeper(nil, make([]byte, n)); err == nil {
			t.Errorf("a %d-byte key was accepted", n)
		}
	}
}

func TestCheckRefs(t *testing.T) {
	got, err := credentials.CheckRefs([]resource.Ref{{ID: "a"}, {Peer: "p1", ID: "a"}, {Peer: "other", ID: "b"}, {ID: "a"}}, "p1")
	want := []resource.Ref{{Peer: "p1", ID: "a"}, {Peer: "other", ID: "b"}}
	if err != nil || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("CheckRefs: %v %v, want %v", got, err, want)
	}
	var ve *credentials.ValidationError
	if _, err := credentials.CheckRefs([]resource.Ref{{ID: "ok"}, {ID: ""}}, "p1"); !errors.As(err, &ve) || ve.Field != "storages[1].id" {
		t.Errorf("empty id: %v", err)
	}
	if _, err := credentials.CheckRefs(make([]resource.Ref, credentials.MaxStorages+1), "p1"); !errors.As(err, &ve) || ve.Field != "storages" {
		t.Errorf("too many: %v", err)
	}
}

// Every storage is checked; remote ones are refused first, even without a key.
func TestForExecution(t *testing.T) {
	ctx := context.Background()
	repo, err := store.OpenCredentials(ctx, testenv.SQLiteStore(t))
	if err != nil {
		t.Fatal(err)
	}
	k, err := credentials.NewKeeper(repo, key1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := k.Set(ctx, catalog{"a": resource.KindStorage}, "a", datacenter.StorageCredentialsInput{AccessKeyID: "AK", SecretAccessKey: "SK"}, "root"); err != nil {
		t.Fatal(err)
	}
	a, b, far := resource.Ref{Peer: "p1", ID: "a"}, resource.Ref{Peer: "p1", ID: "b"}, resource.Ref{Peer: "p2", ID: "a"}

	got, err := credentials.ForExecution(ctx, k, "p1", []resource.Ref{a})
	if err != nil || len(got) != 1 || got[0].SecretAccessKey != "SK" {
		t.Errorf("a: %+v %v", got, err)
	}
	if got, err := credentials.ForExecution(ctx, nil, "p1", nil); err != nil || got != nil {
		t.Errorf("no storages without a key: %v %v", got, err)
	}
	var re *credentials.RefusedError
	for _, tc := range []struct {
		k     *credentials.Keeper
		refs  []resource.Ref
		code  string
		count int
	}{
		{k, []resource.Ref{a, far, b}, credentials.CodeRemote, 1},
		{nil, []resource.Ref{far}, credentials.CodeRemote, 1},
		{k, []resource.Ref{b, a, {Peer: "p1", ID: "c"}}, credentials.CodeMissing, 2},
	} {
		_, err := credentials.ForExecution(ctx, tc.k, "p1", tc.refs)
		if !errors.As(err, &re) || re.Code != tc.code || len(re.Refusals) != tc.count {
			t.Errorf("%v: %v, want %s refusing %d", tc.refs, err, tc.code, tc.count)
		}
	}
	if _, err := credentials.ForExecution(ctx, nil, "p1", []resource.Ref{a}); !errors.Is(err, credentials.ErrNoKey) {
		t.Errorf("without a key: %v", err)
	}
}
