package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/testenv"
	authclient "github.com/opencloud/opencloud/services/oc-auth/client"
	catalogclient "github.com/opencloud/opencloud/services/oc-catalog/client"
)

const adminPassword = "e2e-admin-password"

// peer is one all-in-one process started by a test.
type peer struct {
	base   string // http://127.0.0.1:port, what the test dials
	issuer string // http://localhost:port/auth
	out    *testenv.Buffer
	stop   func()
}

func startPeer(t testing.TB, dataDir, addr string) *peer {
	t.Helper()
	return startPeerEnv(t, dataDir, addr, nil)
}

// startPeerEnv starts a peer with more configuration.
func startPeerEnv(t testing.TB, dataDir, addr string, extra map[string]string) *peer {
	t.Helper()
	env := map[string]string{
		"OC_DATA": dataDir, "OC_HTTP_ADDR": addr, "OC_ADMIN_PASSWORD": adminPassword, "OC_LOG_LEVEL": "warn",
	}
	for k, v := range extra {
		env[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	out := &testenv.Buffer{}
	go func() { done <- run(ctx, func(k string) string { return env[k] }, out, func(u string) { ready <- u }) }()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("opencloud did not start: %v\n%s", err, out)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("opencloud not ready after 60s\n%s", out)
	}
	p := &peer{base: base, issuer: "http://localhost" + base[strings.LastIndex(base, ":"):] + "/auth", out: out}
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("opencloud stopped with %v\n%s", err, out)
			}
		})
	}
	t.Cleanup(p.stop)
	return p
}

func (p *peer) login(t testing.TB, user, password string) string {
	t.Helper()
	tok, err := authclient.PasswordLogin(context.Background(), p.issuer, "opencloud-web",
		strings.TrimSuffix(p.issuer, "/auth")+"/callback", user, password, "openid profile offline_access")
	if err != nil {
		t.Fatalf("login %s: %v\n%s", user, err, p.out)
	}
	return tok.AccessToken
}

func getJSON(t *testing.T, url, token string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && (resp.StatusCode == http.StatusOK || json.Valid(raw)) {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s: %v: %s", url, err, raw)
		}
	}
	return resp.StatusCode
}

// TestAllInOne drives a whole peer as a user would with curl: discovery,
// sign-in, client credentials, the catalog end to end, and a restart that
// keeps everything.
func TestAllInOne(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	p := startPeer(t, dataDir, "127.0.0.1:0")

	var disc struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
		JWKSURI       string `json:"jwks_uri"`
	}
	if s := getJSON(t, p.base+"/auth/.well-known/openid-configuration", "", &disc); s != http.StatusOK || disc.Issuer != p.issuer {
		t.Fatalf("discovery: %d %+v (want issuer %s)", s, disc, p.issuer)
	}
	for _, path := range []string{"/", "/catalog/swagger/index.html", "/auth/keys"} {
		if s := getJSON(t, p.base+path, "", nil); s != http.StatusOK {
			t.Errorf("GET %s: %d", path, s)
		}
	}
	for _, svc := range []string{"auth", "catalog", "workspace", "workflow", "scheduler", "schedulerd", "monitord", "datacenter", "peer"} {
		if s := getJSON(t, p.base+"/"+svc+"/healthz", "", nil); s != http.StatusOK {
			t.Errorf("%s healthz: %d", svc, s)
		}
		var ready struct {
			Checks map[string]string `json:"checks"`
		}
		switch s := getJSON(t, p.base+"/"+svc+"/readyz", "", &ready); {
		case svc == "datacenter":
			// Without OC_KUBECONFIG there is no cluster, and readyz says so.
			if s != http.StatusServiceUnavailable || ready.Checks["kubernetes"] != "no kubeconfig configured (OC_KUBECONFIG)" {
				t.Errorf("datacenter readyz without a cluster: %d %v", s, ready.Checks)
			}
		case s != http.StatusOK:
			t.Errorf("%s readyz: %d", svc, s)
		}
		var doc struct {
			Swagger string `json:"swagger"`
		}
		if s := getJSON(t, p.base+"/"+svc+"/swagger/doc.json", "", &doc); s != http.StatusOK || doc.Swagger != "2.0" {
			t.Errorf("%s swagger: %d %+v", svc, s, doc)
		}
	}

	// Sign-in through authorization code + PKCE; a wrong password is refused.
	if _, err := authclient.PasswordLogin(ctx, p.issuer, "opencloud-web", strings.TrimSuffix(p.issuer, "/auth")+"/callback",
		"admin", "not-the-password", "openid"); !errors.Is(err, authclient.ErrLoginRefused) {
		t.Fatalf("wrong password: %v", err)
	}
	adminTok := p.login(t, "admin", adminPassword)
	admin := authclient.New(p.base, apiclient.StaticToken(adminTok), nil)
	for _, u := range []string{"alice", "bob"} {
		if _, err := admin.CreateUser(ctx, authclient.NewUser{Username: u, Password: u + "-password-123", Groups: nil}); err != nil {
			t.Fatalf("create user %s: %v", u, err)
		}
	}
	script, err := admin.CreateClient(ctx, authclient.NewOAuthClient{Name: "nightly import", GrantTypes: []string{"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	scriptTok, err := authclient.ClientCredentialsToken(ctx, disc.TokenEndpoint, script.ClientID, script.ClientSecret)
	if err != nil {
		t.Fatalf("client credentials: %v", err)
	}
	aliceTok, bobTok := p.login(t, "alice", "alice-password-123"), p.login(t, "bob", "bob-password-123")
	alice := catalogclient.New(p.base, apiclient.StaticToken(aliceTok), nil)
	bob := catalogclient.New(p.base, apiclient.StaticToken(bobTok), nil)
	scriptCat := catalogclient.New(p.base, apiclient.StaticToken(scriptTok), nil)

	// Every kind, created through the gateway.
	inputs := []resource.Input{
		{Kind: resource.KindData, Name: "Field survey 2025", Visibility: resource.Public, Tags: []string{"survey"},
			Data: &resource.Data{Location: "s3://surveys/2025/", Format: "csv", SizeBytes: 1 << 20, Jurisdiction: "FR"}},
		{Kind: resource.KindProcessing, Name: "NDVI", Visibility: resource.Public, Tags: []string{"satellite"},
			Processing: &resource.Processing{Image: "ghcr.io/acme/ndvi:1.2.0", OpenSource: true,
				Requests: resource.Requests{CPUMillicores: 500, MemoryBytes: 256 << 20}}},
		{Kind: resource.KindStorage, Name: "Results bucket", Visibility: resource.Partners,
			Storage: &resource.Storage{Endpoint: "https://s3.example.org", Bucket: "results", Encryption: resource.EncryptionSSES3}},
		{Kind: resource.KindCompute, Name: "Edge cluster", Visibility: resource.Public,
			Compute: &resource.Compute{ClusterRef: "edge-1", Architecture: "arm64", CPUCores: 16, Country: "FR"}},
		{Kind: resource.KindWorkflow, Name: "Secret pipeline", Visibility: resource.Private,
			Workflow: &resource.Workflow{WorkflowID: "6b0e3c6c-4d0a-4d21-9a43-0e4c1d7b9f10"}},
	}
	created := map[resource.Kind]resource.Resource{}
	for _, in := range inputs {
		r, err := alice.Create(ctx, in)
		if err != nil {
			t.Fatalf("create %s: %v", in.Kind, err)
		}
		created[in.Kind] = r
	}
	if _, err := scriptCat.Create(ctx, resource.Input{Kind: resource.KindData, Name: "Imported by script", Visibility: resource.Public,
		Data: &resource.Data{Location: "https://example.org/import.csv"}}); err != nil {
		t.Fatalf("client-credentials caller cannot create: %v", err)
	}

	page, err := alice.List(ctx, catalogclient.ListOptions{Query: "ndvi"})
	if err != nil || page.Total != 1 || page.Items[0].ID != created[resource.KindProcessing].ID {
		t.Fatalf("search ndvi: %+v %v", page, err)
	}
	page, err = bob.List(ctx, catalogclient.ListOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range page.Items {
		if r.ID == created[resource.KindWorkflow].ID {
			t.Fatal("bob sees alice's private workflow in the list")
		}
	}
	if page.Total != 5 { // alice's four non-private ones and the script's
		t.Fatalf("bob sees %d resources, want 5", page.Total)
	}
	if _, err := bob.Get(ctx, created[resource.KindWorkflow].ID); apiclient.Status(err) != http.StatusNotFound {
		t.Fatalf("bob reading alice's private resource: %v", err)
	}
	data := created[resource.KindData]
	in := data.Input()
	in.Description = "bob was here"
	if _, err := bob.Update(ctx, data.ID, data.Version, in); apiclient.Status(err) != http.StatusForbidden {
		t.Fatalf("bob changing alice's resource: %v", err)
	}
	in.Description = "2025 campaign"
	updated, err := alice.Update(ctx, data.ID, data.Version, in)
	if err != nil || updated.Version != data.Version+1 {
		t.Fatalf("update: %+v %v", updated, err)
	}
	if _, err := alice.Update(ctx, data.ID, data.Version, in); apiclient.Status(err) != http.StatusConflict {
		t.Fatalf("stale update: %v", err)
	}
	if err := alice.Delete(ctx, created[resource.KindCompute].ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Get(ctx, created[resource.KindCompute].ID); apiclient.Status(err) != http.StatusNotFound {
		t.Fatalf("deleted resource still readable: %v", err)
	}

	// Tokens are checked at the gateway's every API route; an ID token, signed
	// by the same issuer for the same user, is not an access token.
	idTok, err := authclient.PasswordLogin(ctx, p.issuer, "opencloud-web", strings.TrimSuffix(p.issuer, "/auth")+"/callback",
		"alice", "alice-password-123", "openid profile")
	if err != nil || idTok.IDToken == "" {
		t.Fatalf("login for an ID token: %v", err)
	}
	for name, tok := range map[string]string{"none": "", "garbage": "x.y.z", "truncated": aliceTok[:len(aliceTok)-4], "id token": idTok.IDToken} {
		if s := getJSON(t, p.base+"/catalog/resources", tok, nil); s != http.StatusUnauthorized {
			t.Errorf("%s token: %d", name, s)
		}
	}
	var me authn.Principal
	if s := getJSON(t, p.base+"/auth/me", aliceTok, &me); s != http.StatusOK {
		t.Errorf("/auth/me: %d", s)
	}

	// A restart on the same data and address (the issuer is part of every
	// token) keeps users, signing keys, tokens and resources.
	p.stop()
	p2 := startPeer(t, dataDir, strings.TrimPrefix(p.base, "http://"))
	if s := getJSON(t, p2.base+"/catalog/resources/"+data.ID, aliceTok, nil); s != http.StatusOK {
		t.Fatalf("after restart, alice's old token and resource: %d\n%s", s, p2.out)
	}
	var got resource.Resource
	getJSON(t, p2.base+"/catalog/resources/"+data.ID, p2.login(t, "alice", "alice-password-123"), &got)
	if got.Description != "2025 campaign" || got.Version != updated.Version {
		t.Fatalf("after restart: %+v", got)
	}
}

func TestRunRejectsBadConfiguration(t *testing.T) {
	env := map[string]string{"OC_PUBLIC_URL": "localhost:8000", "OC_NATS_ADDR": "127.0.0.1:nats", "OC_LOG_LEVEL": "loud", "OC_DATA": t.TempDir(),
		"OC_TRUSTED_PROXIES": "10.0.0.0/8,traefik", "OC_EVENTS_MAX_BYTES": "lots"}
	err := run(context.Background(), func(k string) string { return env[k] }, io.Discard, nil)
	if err == nil {
		t.Fatal("started with a bad configuration")
	}
	for _, v := range []string{"OC_PUBLIC_URL", "OC_NATS_ADDR", "OC_LOG_LEVEL", `OC_TRUSTED_PROXIES: "traefik" is neither`, "OC_EVENTS_MAX_BYTES"} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("%q does not name %s", err, v)
		}
	}
}
