package service_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/resource"
	ds "github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"

	"github.com/opencloud/opencloud/services/oc-datacenter/datacenter"
	dcstore "github.com/opencloud/opencloud/services/oc-datacenter/internal/store"
)

// storage creates a storage resource in the catalog, as the admin.
func (e *env) storage(name string) resource.Resource {
	e.t.Helper()
	r, err := e.catalog(root).Create(context.Background(), resource.Input{Kind: resource.KindStorage, Name: name,
		Visibility: resource.Public, Storage: &resource.Storage{Endpoint: "http://s3.example.org:9000", Bucket: "results"}})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// credentialsRecords are the raw stored credentials documents.
func (e *env) credentialsRecords() []ds.Record {
	e.t.Helper()
	c, err := e.st.Collection(context.Background(), dcstore.CredentialsSpec)
	if err != nil {
		e.t.Fatal(err)
	}
	recs, _, err := c.Find(context.Background(), ds.Query{})
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

// An admin keeps a storage's credentials: validated, checked against the
// catalog, stored sealed, shown without the secret, replaced, deleted.
func TestStorageCredentials(t *testing.T) {
	backends(t, func(t *testing.T, st ds.Store) {
		e := start(t, st, "")
		ctx := context.Background()
		admin := e.as(root)
		bucket := e.storage("results bucket")
		const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
		in := datacenter.StorageCredentialsInput{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: secret}

		before := time.Now().UTC().Truncate(time.Millisecond)
		r := e.do(http.MethodPut, "/datacenter/storages/"+bucket.ID+"/credentials", e.token(root),
			`{"access_key_id":"AKIAIOSFODNN7EXAMPLE","secret_access_key":"`+secret+`"}`)
		if r.Status != http.StatusCreated || strings.Contains(string(r.Body), secret) {
			t.Fatalf("first PUT: %d %s, want 201 without the secret", r.Status, r.Body)
		}
		got, err := admin.StorageCredentials(ctx, bucket.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.StorageID != bucket.ID || got.AccessKeyID != in.AccessKeyID || got.UpdatedBy != root.Subject || got.UpdatedAt.Before(before) {
			t.Errorf("credentials %+v", got)
		}
		if r := e.do(http.MethodGet, "/datacenter/storages/"+bucket.ID+"/credentials", e.token(root), ""); r.Status != http.StatusOK ||
			strings.Contains(string(r.Body), secret) || strings.Contains(string(r.Body), "secret") {
			t.Errorf("GET shows more than the metadata: %d %s", r.Status, r.Body)
		}

		// The same credentials again: nothing changes.
		again, err := admin.SetStorageCredentials(ctx, bucket.ID, in)
		if err != nil || !again.UpdatedAt.Equal(got.UpdatedAt) {
			t.Errorf("same credentials again: %+v %v, want unchanged %v", again, err, got.UpdatedAt)
		}
		// New ones replace them.
		time.Sleep(2 * time.Millisecond)
		in.SecretAccessKey = secret + "2"
		replaced, err := admin.SetStorageCredentials(ctx, bucket.ID, in)
		if err != nil || !replaced.UpdatedAt.After(got.UpdatedAt) {
			t.Errorf("new credentials: %+v %v", replaced, err)
		}

		// Stored sealed: the secret is nowhere in the record, in clear or base64.
		recs := e.credentialsRecords()
		if len(recs) != 1 {
			t.Fatalf("%d records, want 1", len(recs))
		}
		raw := string(recs[0].Data)
		for _, s := range []string{in.SecretAccessKey, secret, base64.StdEncoding.EncodeToString([]byte(in.SecretAccessKey))} {
			if strings.Contains(raw, s) {
				t.Errorf("the stored record holds the secret in clear: %s", raw)
			}
		}
		if !strings.Contains(raw, in.AccessKeyID) {
			t.Errorf("stored record %s", raw)
		}

		// A compute is not a storage; an unknown id is not found; nothing stored.
		compute, err := e.catalog(root).Create(ctx, resource.Input{Kind: resource.KindCompute, Name: "c", Visibility: resource.Public,
			Compute: &resource.Compute{ClusterRef: "x", Architecture: "amd64", CPUCores: 1}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = admin.SetStorageCredentials(ctx, compute.ID, in)
		if ae := apiErr(t, err); ae.Status != http.StatusBadRequest || ae.Code != "not_a_storage" {
			t.Errorf("credentials of a compute: %v", err)
		}
		_, err = admin.SetStorageCredentials(ctx, "4a7f3c1e-0000-4000-8000-000000000000", in)
		if ae := apiErr(t, err); ae.Status != http.StatusNotFound {
			t.Errorf("credentials of an unknown storage: %v", err)
		}
		if n := len(e.credentialsRecords()); n != 1 {
			t.Errorf("%d records after refused writes, want 1", n)
		}

		if err := admin.DeleteStorageCredentials(ctx, bucket.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.StorageCredentials(ctx, bucket.ID); apiErr(t, err).Status != http.StatusNotFound {
			t.Errorf("GET after DELETE: %v", err)
		}
		if ae := apiErr(t, admin.DeleteStorageCredentials(ctx, bucket.ID)); ae.Status != http.StatusNotFound {
			t.Errorf("DELETE again: %v", ae)
		}
		if n := len(e.credentialsRecords()); n != 0 {
			t.Errorf("%d records after DELETE", n)
		}
	})
}

// Only an admin may touch credentials; bad input is a 400 naming the field.
func TestStorageCredentialsInput(t *testing.T) {
	e := start(t, testenv.SQLiteStore(t), "")
	ctx := context.Background()
	bucket := e.storage("b")
	in := datacenter.StorageCredentialsInput{AccessKeyID: "AK", SecretAccessKey: "SK"}
	user := e.as(alice)
	for name, err := range map[string]error{
		"put":    func() error { _, err := user.SetStorageCredentials(ctx, bucket.ID, in); return err }(),
		"get":    func() error { _, err := user.StorageCredentials(ctx, bucket.ID); return err }(),
		"delete": user.DeleteStorageCredentials(ctx, bucket.ID),
	} {
		if ae := apiErr(t, err); ae.Status != http.StatusForbidden {
			t.Errorf("%s as a user: %v, want 403", name, ae)
		}
	}

	tok := e.token(root)
	path := "/datacenter/storages/" + bucket.ID + "/credentials"
	for _, tc := range []struct{ name, path, body, field string }{
		{"no access key", path, `{"secret_access_key":"s"}`, "access_key_id"},
		{"no secret", path, `{"access_key_id":"a"}`, "secret_access_key"},
		{"access key too long", path, `{"access_key_id":"` + strings.Repeat("a", 129) + `","secret_access_key":"s"}`, "access_key_id"},
		{"secret too long", path, `{"access_key_id":"a","secret_access_key":"` + strings.Repeat("s", 257) + `"}`, "secret_access_key"},
		{"space in the secret", path, `{"access_key_id":"a","secret_access_key":"s s"}`, "secret_access_key"},
		{"newline in the key", path, `{"access_key_id":"a\n","secret_access_key":"s"}`, "access_key_id"},
		{"not ASCII", path, `{"access_key_id":"clé","secret_access_key":"s"}`, "access_key_id"},
		{"unknown field", path, `{"access_key_id":"a","secret_access_key":"s","region":"x"}`, "region"},
		{"wrong type", path, `{"access_key_id":1,"secret_access_key":"s"}`, "access_key_id"},
		{"bad id", "/datacenter/storages/-x/credentials", `{"access_key_id":"a","secret_access_key":"s"}`, "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodPut, tc.path, tok, tc.body)
			env := envelope(t, r)
			if r.Status != http.StatusBadRequest || !strings.Contains(env.Message, tc.field) {
				t.Errorf("%d %s, want 400 naming %s", r.Status, r.Body, tc.field)
			}
		})
	}
	if n := len(e.credentialsRecords()); n != 0 {
		t.Errorf("%d records after bad input", n)
	}
	// At the limits, accepted.
	in = datacenter.StorageCredentialsInput{AccessKeyID: strings.Repeat("A", 128), SecretAccessKey: strings.Repeat("~", 256)}
	if _, err := e.as(root).SetStorageCredentials(ctx, bucket.ID, in); err != nil {
		t.Errorf("credentials at the limits: %v", err)
	}
}

// Without a credentials key the routes say which variable to set.
func TestStorageCredentialsWithoutKey(t *testing.T) {
	e := start(t, testenv.SQLiteStore(t), "", noCredentialsKey)
	ctx := context.Background()
	bucket := e.storage("b")
	admin := e.as(root)
	for name, err := range map[string]error{
		"put": func() error {
			_, err := admin.SetStorageCredentials(ctx, bucket.ID, datacenter.StorageCredentialsInput{AccessKeyID: "a", SecretAccessKey: "s"})
			return err
		}(),
		"get":    func() error { _, err := admin.StorageCredentials(ctx, bucket.ID); return err }(),
		"delete": admin.DeleteStorageCredentials(ctx, bucket.ID),
	} {
		if ae := apiErr(t, err); ae.Status != http.StatusServiceUnavailable || ae.Code != "no_credentials_key" ||
			!strings.Contains(ae.Message, "OC_DATACENTER_CREDENTIALS_KEY") {
			t.Errorf("%s without a key: %v", name, ae)
		}
	}
}

// setCredentials gives storage r credentials, as the admin.
func (e *env) setCredentials(r resource.Resource, access, secret string) {
	e.t.Helper()
	_, err := e.as(root).SetStorageCredentials(context.Background(), r.ID,
		datacenter.StorageCredentialsInput{AccessKeyID: access, SecretAccessKey: secret})
	if err != nil {
		e.t.Fatal(err)
	}
}
