package service_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/testenv"
	"github.com/opencloud/opencloud/services/oc-auth/client"
	"github.com/opencloud/opencloud/services/oc-auth/service"
)

// countingTransport counts the requests that reach the token endpoint.
type countingTransport struct{ tokenRequests atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/oauth/token") {
		c.tokenRequests.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) client() *http.Client {
	return &http.Client{Transport: c, Timeout: 10 * time.Second}
}

// TestServiceClient: the client the services use for their background
// calls exists as configured, its tokens are admin tokens the services
// accept, and apiclient.ClientCredentials obtains them once and reuses them.
func TestServiceClient(t *testing.T) {
	const (
		firstSecret   = "first-service-secret-0123456789"
		rotatedSecret = "rotated-service-secret-0123456789"
	)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t), service.Config{AdminPassword: adminPassword})
			ctx := context.Background()
			tokenURL := e.issuer + "/oauth/token"
			verifier := authn.NewOIDCVerifier(ctx, e.issuer, e.issuer+"/keys", authn.Audience)
			ac := client.New(e.srv.URL, apiclient.StaticToken(e.adminToken()), nil)
			ids := func() []string {
				t.Helper()
				l, err := ac.ListClients(ctx, client.Page{Limit: 200})
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, c := range l.Items {
					out = append(out, c.ClientID)
				}
				return out
			}

			if got := ids(); !slices.Equal(got, []string{"opencloud-web"}) {
				t.Fatalf("without a secret: clients %v, want only the web client", got)
			}
			// An administrator registered a client of that id: the
			// configuration takes it over.
			own, err := ac.CreateClient(ctx, client.NewOAuthClient{ClientID: "oc-services", Name: "mine", GrantTypes: []string{"client_credentials"}})
			if err != nil {
				t.Fatal(err)
			}

			e.cfg.ServiceClientSecret = firstSecret
			e.restart()
			got, err := ac.GetClient(ctx, "oc-services")
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != "OpenCloud services" || got.Public || !got.BuiltIn ||
				!slices.Equal(got.GrantTypes, []string{"client_credentials"}) || !slices.Equal(got.Roles, []string{"admin", "user"}) {
				t.Errorf("service client %+v", got.Client)
			}
			if _, err := apiclient.ClientCredentials(tokenURL, "oc-services", own.ClientSecret, nil)(ctx); err == nil {
				t.Error("the secret of the taken-over client still works")
			}

			t.Run("token carries admin and user and is accepted", func(t *testing.T) {
				tok, err := apiclient.ClientCredentials(tokenURL, "oc-services", firstSecret, nil)(ctx)
				if err != nil {
					t.Fatal(err)
				}
				p, err := verifier.Verify(ctx, tok)
				if err != nil {
					t.Fatal(err)
				}
				if p.Subject != "oc-services" || p.ClientID != "oc-services" || !slices.Equal(p.Roles, []string{"admin", "user"}) {
					t.Errorf("principal %+v", p)
				}
				// An admin-only route, as a background job would call one.
				if _, err := client.New(e.srv.URL, apiclient.StaticToken(tok), nil).ListUsers(ctx, client.UserQuery{}); err != nil {
					t.Errorf("admin API with the service token: %v", err)
				}
			})

			t.Run("one token request for many concurrent calls", func(t *testing.T) {
				ct := &countingTransport{}
				ts := apiclient.ClientCredentials(tokenURL, "oc-services", firstSecret, ct.client())
				api := client.New(e.srv.URL, ts, nil)
				var wg sync.WaitGroup
				errs := make(chan error, 20)
				for range 20 {
					wg.Go(func() {
						if _, err := api.ListClients(ctx, client.Page{}); err != nil {
							errs <- err
						}
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Error(err)
				}
				if n := ct.tokenRequests.Load(); n != 1 {
					t.Errorf("%d token requests for 20 calls, want 1", n)
				}
			})

			t.Run("configured by the environment, not the API", func(t *testing.T) {
				if _, err := ac.RotateSecret(ctx, "oc-services"); apiclient.Status(err) != http.StatusConflict {
					t.Errorf("rotate through the API: %v, want 409", err)
				}
				if err := ac.DeleteClient(ctx, "oc-services", 0); apiclient.Status(err) != http.StatusConflict {
					t.Errorf("delete through the API: %v, want 409", err)
				}
			})

			t.Run("a restart with a rotated secret", func(t *testing.T) {
				e.cfg.ServiceClientSecret = rotatedSecret
				e.restart()
				_, err := apiclient.ClientCredentials(tokenURL, "oc-services", firstSecret, nil)(ctx)
				var te *apiclient.TokenError
				if !errors.As(err, &te) || te.Status != http.StatusUnauthorized || !strings.Contains(err.Error(), tokenURL) ||
					!strings.Contains(err.Error(), "invalid_client") || strings.Contains(err.Error(), firstSecret) {
					t.Errorf("old secret: %v, want a 401 invalid_client naming %s and not the secret", err, tokenURL)
				}
				if _, err := apiclient.ClientCredentials(tokenURL, "oc-services", rotatedSecret, nil)(ctx); err != nil {
					t.Errorf("new secret: %v", err)
				}
				if got := ids(); !slices.Equal(got, []string{"oc-services", "opencloud-web"}) {
					t.Errorf("clients %v", got)
				}
			})

			t.Run("a restart with the same secret changes nothing", func(t *testing.T) {
				before, err := ac.GetClient(ctx, "oc-services")
				if err != nil {
					t.Fatal(err)
				}
				logged := strings.Count(e.logs.String(), "configured the service client")
				e.restart()
				after, err := ac.GetClient(ctx, "oc-services")
				if err != nil {
					t.Fatal(err)
				}
				if after.Version != before.Version || strings.Count(e.logs.String(), "configured the service client") != logged {
					t.Errorf("version %d then %d; log lines %d then %d", before.Version, after.Version,
						logged, strings.Count(e.logs.String(), "configured the service client"))
				}
				if strings.Contains(e.logs.String(), rotatedSecret) {
					t.Error("the secret is in the logs")
				}
			})
		})
	}
}

// TestServiceClientTokenRefresh: a token is replaced before it expires.
func TestServiceClientTokenRefresh(t *testing.T) {
	const secret = "refresh-service-secret-0123456789"
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t), service.Config{AdminPassword: adminPassword, ServiceClientSecret: secret, AccessTTL: 2 * time.Second})
			ctx := context.Background()
			verifier := authn.NewOIDCVerifier(ctx, e.issuer, e.issuer+"/keys", authn.Audience)
			ct := &countingTransport{}
			ts := apiclient.ClientCredentials(e.issuer+"/oauth/token", "oc-services", secret, ct.client())
			first, err := ts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := ts(ctx); err != nil || again != first || ct.tokenRequests.Load() != 1 {
				t.Fatalf("at once: same token %v, %d requests, %v", again == first, ct.tokenRequests.Load(), err)
			}
			// 2 s tokens are replaced after half their life, before they expire.
			deadline := time.Now().Add(5 * time.Second)
			for ct.tokenRequests.Load() < 3 && time.Now().Before(deadline) {
				tok, err := ts(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := verifier.Verify(ctx, tok); err != nil {
					t.Fatalf("a token handed out has expired: %v", err)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if n := ct.tokenRequests.Load(); n < 3 {
				t.Errorf("%d token requests in 5 s of 2 s tokens, want a renewal each second", n)
			}
		})
	}
}

// TestServiceClientConfig: a bad service client setting stops the start
// with a message naming the variable, before anything is written.
func TestServiceClientConfig(t *testing.T) {
	for _, tc := range []struct {
		name, id, secret, want string
	}{
		{"short secret", "", "too-short", "service client secret (OC_SERVICE_CLIENT_SECRET): 9 characters, expected 24"},
		{"bad id", "Has Spaces", strings.Repeat("s", 24), "service client id \"Has Spaces\" (OC_SERVICE_CLIENT_ID): expected 3 to 64 characters"},
		{"uuid id", "0b5e5cde-8f4c-4a8e-9b6e-1c2d3e4f5a6b", strings.Repeat("s", 24), "must not be a UUID"},
		{"web client id", "opencloud-web", strings.Repeat("s", 24), "taken by the web front-end's client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := testenv.SQLiteStore(t)
			_, err := service.New(context.Background(), service.Config{
				Issuer: "http://localhost:8000/auth", AdminPassword: adminPassword, ServiceClientID: tc.id, ServiceClientSecret: tc.secret,
				KeysKey: keysKey(t),
			}, service.Deps{Store: st})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}
