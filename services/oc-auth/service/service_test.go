package service_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/services/oc-auth/client"
	"github.com/opencloud/opencloud/services/oc-auth/service"
)

// TestOpenIDProvider walks through what a user of the provider checks, on
// both store backends: discovery, the browser login with PKCE, refresh,
// revocation, userinfo, logout, client credentials, key rotation and a
// restart.
func TestOpenIDProvider(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t), service.Config{AdminPassword: adminPassword})
			ctx := context.Background()
			verifier := authn.NewOIDCVerifier(ctx, e.issuer, e.issuer+"/keys", authn.Audience)

			t.Run("discovery", func(t *testing.T) {
				var d map[string]any
				resp := e.call(http.MethodGet, "/auth/.well-known/openid-configuration", "", nil, &d)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d", resp.StatusCode)
				}
				want := map[string]string{
					"issuer": e.issuer, "jwks_uri": e.issuer + "/keys", "authorization_endpoint": e.issuer + "/authorize",
					"token_endpoint": e.issuer + "/oauth/token", "userinfo_endpoint": e.issuer + "/userinfo",
					"revocation_endpoint": e.issuer + "/revoke", "end_session_endpoint": e.issuer + "/end_session",
				}
				for k, v := range want {
					if d[k] != v {
						t.Errorf("%s = %v, want %s", k, d[k], v)
					}
				}
				// go-oidc's own discovery checks the issuer matches exactly.
				if _, err := oidc.NewProvider(ctx, e.issuer); err != nil {
					t.Fatal(err)
				}
			})

			var admin tokens
			b := e.browser()
			t.Run("authorization code with PKCE", func(t *testing.T) {
				admin = b.login("admin", adminPassword, "openid profile email offline_access")
				if admin.AccessToken == "" || admin.IDToken == "" || admin.RefreshToken == "" {
					t.Fatalf("missing tokens: %+v", admin)
				}
				p, err := verifier.Verify(ctx, admin.AccessToken)
				if err != nil {
					t.Fatal(err)
				}
				if p.Username != "admin" || p.ClientID != "opencloud-web" || !slices.Equal(p.Roles, []string{"admin", "user"}) || !slices.Equal(p.Groups, []string{"admin"}) {
					t.Errorf("principal %+v", p)
				}
				prov, err := oidc.NewProvider(ctx, e.issuer)
				if err != nil {
					t.Fatal(err)
				}
				id, err := prov.Verifier(&oidc.Config{ClientID: "opencloud-web"}).Verify(ctx, admin.IDToken)
				if err != nil {
					t.Fatal(err)
				}
				if id.Nonce != b.nonce || id.Subject != p.Subject {
					t.Errorf("id token nonce %q sub %q", id.Nonce, id.Subject)
				}
			})

			t.Run("wrong password is refused", func(t *testing.T) {
				b := e.browser()
				id := b.authorize("openid")
				resp, body := b.submit(id, "admin", "not-the-password")
				if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong user name or password") {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				resp, body = b.submit(id, "nobody", "whatever-password")
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("unknown user: status %d: %s", resp.StatusCode, body)
				}
				// The same request still completes with the right password.
				resp, _ = b.submit(id, "admin", adminPassword)
				if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "code=") {
					t.Fatalf("status %d to %s", resp.StatusCode, resp.Header.Get("Location"))
				}
			})

			t.Run("the client hears of cancel and prompt=none", func(t *testing.T) {
				b := e.browser()
				resp, _ := b.submit(b.authorize("openid"), "", "", "cancel", "1")
				loc, _ := url.Parse(resp.Header.Get("Location"))
				if resp.StatusCode != http.StatusFound || loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != b.state {
					t.Errorf("cancel: %d to %s", resp.StatusCode, loc)
				}
				resp, err := b.hc.Get(b.authorizeURL("openid", url.Values{"prompt": {"none"}}))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				loc, _ = url.Parse(resp.Header.Get("Location"))
				if resp.StatusCode != http.StatusFound || loc.Query().Get("error") != "login_required" {
					t.Errorf("prompt=none: %d to %s", resp.StatusCode, loc)
				}
				// An unregistered redirect URI is never redirected to.
				resp, err = b.hc.Get(b.authorizeURL("openid", url.Values{"redirect_uri": {"https://evil.example/cb"}}))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("unregistered redirect_uri: %d (%s)", resp.StatusCode, resp.Request.URL)
				}
				// A public client must use PKCE.
				resp, err = b.hc.Get(b.authorizeURL("openid", url.Values{"code_challenge": {""}}))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				loc, _ = url.Parse(resp.Header.Get("Location"))
				if loc.Query().Get("error") != "invalid_request" {
					t.Errorf("no PKCE: %d to %s", resp.StatusCode, loc)
				}
			})

			t.Run("repeated failures are throttled", func(t *testing.T) {
				b := e.browser()
				id := b.authorize("openid")
				for range 10 {
					b.submit(id, "target", "guess-guess-guess")
				}
				resp, body := b.submit(id, "target", "guess-guess-guess")
				if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed attempts") {
					t.Errorf("11th attempt: %d", resp.StatusCode)
				}
			})

			t.Run("code is single use and bound to the verifier", func(t *testing.T) {
				b := e.browser()
				id := b.authorize("openid")
				resp, _ := b.submit(id, "admin", adminPassword)
				loc, _ := url.Parse(resp.Header.Get("Location"))
				code := loc.Query().Get("code")
				exchange := func(verifier string) tokens {
					var tok tokens
					e.postForm("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
						"redirect_uri": {b.redirect}, "client_id": {"opencloud-web"}, "code_verifier": {verifier}}, &tok)
					return tok
				}
				if tok := exchange("wrong-verifier-wrong-verifier-wrong-verifier"); tok.Error != "invalid_grant" {
					t.Errorf("wrong verifier: %+v", tok)
				}
				if tok := exchange(b.verifier); tok.AccessToken != "" {
					t.Errorf("a code was exchanged twice")
				}
			})

			t.Run("refresh rotates, reuse and revoked tokens are refused", func(t *testing.T) {
				refresh := func(rt string) tokens {
					var tok tokens
					e.postForm("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"opencloud-web"}}, &tok)
					return tok
				}
				next := refresh(admin.RefreshToken)
				if next.AccessToken == "" || next.RefreshToken == "" || next.RefreshToken == admin.RefreshToken {
					t.Fatalf("refresh: %+v", next)
				}
				if _, err := verifier.Verify(ctx, next.AccessToken); err != nil {
					t.Fatal(err)
				}
				other := e.browser().login("admin", adminPassword, "openid offline_access")
				if tok := refresh(admin.RefreshToken); tok.Error != "invalid_grant" {
					t.Errorf("reused refresh token: %+v", tok)
				}
				if tok := refresh(next.RefreshToken); tok.Error != "invalid_grant" {
					t.Errorf("the current token after a reuse in its chain: %+v", tok)
				}
				next = refresh(other.RefreshToken)
				if next.RefreshToken == "" {
					t.Fatalf("refresh of another login after a reuse: %+v", next)
				}
				resp := e.postForm("/revoke", url.Values{"token": {next.RefreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {"opencloud-web"}}, nil)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("revoke: %d", resp.StatusCode)
				}
				if tok := refresh(next.RefreshToken); tok.Error != "invalid_grant" {
					t.Errorf("revoked refresh token: %+v", tok)
				}
				var rerr tokens
				resp = e.postForm("/revoke", url.Values{"token": {next.AccessToken}, "token_type_hint": {"access_token"}, "client_id": {"opencloud-web"}}, &rerr)
				if resp.StatusCode != http.StatusBadRequest || rerr.Error != "unsupported_token_type" {
					t.Errorf("revoke an access token: %d %+v", resp.StatusCode, rerr)
				}
			})

			t.Run("userinfo", func(t *testing.T) {
				var info map[string]any
				req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
				req.Header.Set("Authorization", "Bearer "+admin.AccessToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("%d %v", resp.StatusCode, err)
				}
				if info["preferred_username"] != "admin" || info["sub"] == "" || info["roles"] == nil {
					t.Errorf("userinfo %v", info)
				}
			})

			t.Run("logout revokes the session's refresh tokens", func(t *testing.T) {
				tok := e.browser().login("admin", adminPassword, "openid offline_access")
				hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				q := url.Values{"id_token_hint": {tok.IDToken}, "post_logout_redirect_uri": {e.srv.URL + "/"}, "state": {"s1"}}
				resp, err := hc.Get(e.issuer + "/end_session?" + q.Encode())
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), e.srv.URL+"/?") {
					t.Fatalf("end_session: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
				}
				var again tokens
				e.postForm("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"opencloud-web"}}, &again)
				if again.Error != "invalid_grant" {
					t.Errorf("refresh after logout: %+v", again)
				}
			})

			ac := client.New(e.srv.URL, func(context.Context) (string, error) { return admin.AccessToken, nil }, nil)
			var svcClient client.OAuthClient
			t.Run("client credentials", func(t *testing.T) {
				var err error
				svcClient, err = ac.CreateClient(ctx, client.NewOAuthClient{ClientID: "oc-scheduler", Name: "Scheduler", GrantTypes: []string{"client_credentials"}})
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(svcClient.ClientSecret, "ocs_") || !slices.Equal(svcClient.Roles, []string{"user"}) {
					t.Fatalf("created %+v", svcClient)
				}
				tok, err := client.ClientCredentialsToken(ctx, e.issuer+"/oauth/token", svcClient.ClientID, svcClient.ClientSecret)
				if err != nil {
					t.Fatal(err)
				}
				p, err := verifier.Verify(ctx, tok)
				if err != nil {
					t.Fatal(err)
				}
				if p.Subject != "oc-scheduler" || p.ClientID != "oc-scheduler" || !slices.Equal(p.Roles, []string{"user"}) {
					t.Errorf("principal %+v", p)
				}
				if _, err := client.ClientCredentialsToken(ctx, e.issuer+"/oauth/token", svcClient.ClientID, "ocs_wrong"); err == nil {
					t.Error("a wrong secret got a token")
				}
				var intro map[string]any
				e.postForm("/oauth/introspect", url.Values{"token": {admin.AccessToken}}, &intro, svcClient.ClientID, svcClient.ClientSecret)
				if intro["active"] != true || intro["username"] != "admin" {
					t.Errorf("introspection: %v", intro)
				}
				e.postForm("/oauth/introspect", url.Values{"token": {"garbage"}}, &intro, svcClient.ClientID, svcClient.ClientSecret)
				if intro["active"] != false {
					t.Errorf("introspection of garbage: %v", intro)
				}

				ops, err := ac.CreateClient(ctx, client.NewOAuthClient{Name: "Ops script", GrantTypes: []string{"client_credentials"}, Roles: []string{"admin", "user"}})
				if err != nil {
					t.Fatal(err)
				}
				tok, err = client.ClientCredentialsToken(ctx, e.issuer+"/oauth/token", ops.ClientID, ops.ClientSecret)
				if err != nil {
					t.Fatal(err)
				}
				if p, err := verifier.Verify(ctx, tok); err != nil || !p.IsAdmin() {
					t.Errorf("admin client: %+v %v", p, err)
				}
				// A token source for services, and a call with it.
				ts := client.ClientCredentialsSource(ctx, e.issuer+"/oauth/token", ops.ClientID, ops.ClientSecret)
				if _, err := client.New(e.srv.URL, ts, nil).ListUsers(ctx, client.UserQuery{}); err != nil {
					t.Errorf("admin API with a client-credentials token: %v", err)
				}
				rotated, err := ac.RotateSecret(ctx, ops.ClientID)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := client.ClientCredentialsToken(ctx, e.issuer+"/oauth/token", ops.ClientID, ops.ClientSecret); err == nil {
					t.Error("the old secret still works after rotation")
				}
				if _, err := client.ClientCredentialsToken(ctx, e.issuer+"/oauth/token", ops.ClientID, rotated.ClientSecret); err != nil {
					t.Errorf("the new secret: %v", err)
				}
			})

			t.Run("key rotation keeps issued tokens valid", func(t *testing.T) {
				before, err := client.ClientCredentialsToken(ctx, e.issuer+"/oauth/token", svcClient.ClientID, svcClient.ClientSecret)
				if err != nil {
					t.Fatal(err)
				}
				oldKID := jwtHeader(t, before)["kid"]
				key, err := ac.RotateKey(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if key.KID == oldKID || key.State != "active" {
					t.Fatalf("rotated to %+v from %v", key, oldKID)
				}
				after, err := client.ClientCredentialsToken(ctx, e.issuer+"/oauth/token", svcClient.ClientID, svcClient.ClientSecret)
				if err != nil {
					t.Fatal(err)
				}
				if got := jwtHeader(t, after)["kid"]; got != key.KID {
					t.Errorf("new token kid %v, want %s", got, key.KID)
				}
				fresh := authn.NewOIDCVerifier(ctx, e.issuer, e.issuer+"/keys", authn.Audience)
				for name, v := range map[string]*authn.OIDCVerifier{"cached keys": verifier, "fresh keys": fresh} {
					for _, tok := range []string{before, after} {
						if _, err := v.Verify(ctx, tok); err != nil {
							t.Errorf("%s: %v", name, err)
						}
					}
				}
				// The admin API (verified in-process) accepts both as well.
				for _, tok := range []string{admin.AccessToken, after} {
					if r := e.call(http.MethodGet, "/auth/me", tok, nil, nil); r.StatusCode != http.StatusOK {
						t.Errorf("/auth/me after rotation: %d", r.StatusCode)
					}
				}
				ks, err := ac.ListKeys(ctx)
				if err != nil || len(ks) != 2 || ks[1].State != "retired" || ks[1].PublishedUntil == nil {
					t.Errorf("keys %+v %v", ks, err)
				}
			})

			t.Run("restart keeps users, clients, keys and sessions", func(t *testing.T) {
				tok := e.browser().login("admin", adminPassword, "openid offline_access")
				e.restart()
				if _, err := verifier.Verify(ctx, tok.AccessToken); err != nil {
					t.Errorf("token from before the restart: %v", err)
				}
				if r := e.call(http.MethodGet, "/auth/me", tok.AccessToken, nil, nil); r.StatusCode != http.StatusOK {
					t.Errorf("/auth/me with a token from before the restart: %d", r.StatusCode)
				}
				var next tokens
				e.postForm("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"opencloud-web"}}, &next)
				if next.AccessToken == "" {
					t.Errorf("refresh after restart: %+v", next)
				}
				if _, err := client.ClientCredentialsToken(ctx, e.issuer+"/oauth/token", svcClient.ClientID, svcClient.ClientSecret); err != nil {
					t.Errorf("client after restart: %v", err)
				}
				e.browser().login("admin", adminPassword, "openid")
				ks, err := ac.ListKeys(ctx)
				if err != nil || len(ks) != 2 {
					t.Errorf("keys after restart: %d %v", len(ks), err)
				}
			})
		})
	}
}

// TestAdminAPI checks access control, validation, conflicts and events.
func TestAdminAPI(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t), service.Config{AdminPassword: adminPassword})
			ctx := context.Background()
			events := make(chan *nats.Msg, 64)
			sub, err := e.nc.ChanSubscribe("oc.auth.>", events)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			admin := e.adminToken()
			ac := client.New(e.srv.URL, func(context.Context) (string, error) { return admin, nil }, nil)

			t.Run("open routes", func(t *testing.T) {
				for _, p := range []string{"/auth/healthz", "/auth/readyz", "/auth/metrics", "/auth/swagger/doc.json", "/auth/keys"} {
					if r := e.call(http.MethodGet, p, "", nil, nil); r.StatusCode != http.StatusOK {
						t.Errorf("%s: %d", p, r.StatusCode)
					}
				}
			})

			t.Run("no token is 401", func(t *testing.T) {
				for _, p := range []string{"/auth/me", "/auth/admin/users", "/auth/admin/keys"} {
					var env envelope
					if r := e.call(http.MethodGet, p, "", nil, &env); r.StatusCode != http.StatusUnauthorized || env.Error.Code != "unauthorized" {
						t.Errorf("%s: %d %+v", p, r.StatusCode, env)
					}
				}
				if r := e.call(http.MethodGet, "/auth/admin/users", "not.a.token", nil, nil); r.StatusCode != http.StatusUnauthorized {
					t.Errorf("garbage token: %d", r.StatusCode)
				}
			})

			var ada client.User
			t.Run("create user", func(t *testing.T) {
				ada, err = ac.CreateUser(ctx, client.NewUser{Username: "ada", Email: "ada@example.org", DisplayName: "Ada Lovelace", Password: "analytical-engine"})
				if err != nil {
					t.Fatal(err)
				}
				if ada.ID == "" || ada.Version != 1 || !slices.Equal(ada.Roles, []string{"user"}) {
					t.Errorf("created %+v", ada)
				}
				waitEvent(t, events, event.UserCreated, ada.ID)
			})

			user := e.browser().login("ada", "analytical-engine", "openid").AccessToken
			t.Run("non-admin is 403", func(t *testing.T) {
				var env envelope
				if r := e.call(http.MethodGet, "/auth/admin/users", user, nil, &env); r.StatusCode != http.StatusForbidden || env.Error.Code != "forbidden" {
					t.Errorf("%d %+v", r.StatusCode, env)
				}
				if r := e.call(http.MethodPost, "/auth/admin/keys/rotate", user, nil, nil); r.StatusCode != http.StatusForbidden {
					t.Errorf("rotate as user: %d", r.StatusCode)
				}
				var me client.Me
				if r := e.call(http.MethodGet, "/auth/me", user, nil, &me); r.StatusCode != http.StatusOK || me.Username != "ada" || me.Email != "ada@example.org" {
					t.Errorf("/auth/me: %d %+v", r.StatusCode, me)
				}
			})

			t.Run("bad input is 400 naming the field", func(t *testing.T) {
				for _, c := range []struct {
					name, path, body, field string
				}{
					{"bad username", "/auth/admin/users", `{"username":"Ada Lovelace","password":"long-enough-password"}`, "username"},
					{"short password", "/auth/admin/users", `{"username":"bob","password":"short"}`, "password"},
					{"bad email", "/auth/admin/users", `{"username":"bob","email":"not an email","password":"long-enough-password"}`, "email"},
					{"unknown field", "/auth/admin/users", `{"username":"bob","password":"long-enough-password","admin":true}`, "admin"},
					{"wrong type", "/auth/admin/users", `{"username":"bob","password":"long-enough-password","groups":"admin"}`, "groups"},
					{"unknown group", "/auth/admin/users", `{"username":"bob","password":"long-enough-password","groups":["wizards"]}`, "groups"},
					{"bad group name", "/auth/admin/groups", `{"name":"Bad Name"}`, "name"},
					{"bad grant", "/auth/admin/clients", `{"name":"x","grant_types":["password"]}`, "grant_types"},
					{"public with secret grant", "/auth/admin/clients", `{"name":"x","public":true,"grant_types":["client_credentials"]}`, "grant_types"},
					{"code without redirect", "/auth/admin/clients", `{"name":"x","grant_types":["authorization_code"]}`, "redirect_uris"},
					{"bad redirect", "/auth/admin/clients", `{"name":"x","grant_types":["authorization_code"],"redirect_uris":["javascript:alert(1)"]}`, "redirect_uris"},
					{"bad role", "/auth/admin/clients", `{"name":"x","grant_types":["client_credentials"],"roles":["root"]}`, "roles"},
					{"uuid client id", "/auth/admin/clients", `{"client_id":"` + ada.ID + `","name":"x","grant_types":["client_credentials"]}`, "client_id"},
				} {
					var env envelope
					r := e.call(http.MethodPost, c.path, admin, c.body, &env)
					if r.StatusCode != http.StatusBadRequest || !slices.Contains(env.fields(), c.field) {
						t.Errorf("%s: %d %+v", c.name, r.StatusCode, env)
					}
				}
				var env envelope
				if r := e.call(http.MethodGet, "/auth/admin/users?limit=0", admin, nil, &env); r.StatusCode != http.StatusBadRequest || !slices.Contains(env.fields(), "limit") {
					t.Errorf("limit=0: %d %+v", r.StatusCode, env)
				}
				if r := e.call(http.MethodPost, "/auth/admin/users", admin, `{"username":`, &env); r.StatusCode != http.StatusBadRequest {
					t.Errorf("truncated JSON: %d", r.StatusCode)
				}
			})

			t.Run("duplicates are 409, unknown ids 404", func(t *testing.T) {
				var env envelope
				r := e.call(http.MethodPost, "/auth/admin/users", admin, client.NewUser{Username: "ada", Password: "another-password"}, &env)
				if r.StatusCode != http.StatusConflict || env.Error.Code != "username_taken" {
					t.Errorf("duplicate user: %d %+v", r.StatusCode, env)
				}
				if _, err := ac.CreateGroup(ctx, "analysts", "Data analysts"); err != nil {
					t.Fatal(err)
				}
				if r := e.call(http.MethodPost, "/auth/admin/groups", admin, map[string]string{"name": "analysts"}, nil); r.StatusCode != http.StatusConflict {
					t.Errorf("duplicate group: %d", r.StatusCode)
				}
				if r := e.call(http.MethodPost, "/auth/admin/clients", admin, map[string]any{"client_id": "opencloud-web", "name": "x", "grant_types": []string{"client_credentials"}}, nil); r.StatusCode != http.StatusConflict {
					t.Errorf("duplicate client: %d", r.StatusCode)
				}
				for _, p := range []string{"/auth/admin/users/nope", "/auth/admin/groups/nope", "/auth/admin/clients/nope"} {
					if r := e.call(http.MethodGet, p, admin, nil, &env); r.StatusCode != http.StatusNotFound || env.Error.Code != "not_found" {
						t.Errorf("%s: %d", p, r.StatusCode)
					}
				}
			})

			t.Run("versioned updates", func(t *testing.T) {
				name := "Ada King"
				if r := e.call(http.MethodPatch, "/auth/admin/users/"+ada.ID, admin, client.UserChange{DisplayName: &name}, nil); r.StatusCode != http.StatusPreconditionRequired {
					t.Errorf("no version: %d", r.StatusCode)
				}
				groups := []string{"analysts"}
				up, err := ac.UpdateUser(ctx, ada.ID, ada.Version, client.UserChange{DisplayName: &name, Groups: &groups})
				if err != nil {
					t.Fatal(err)
				}
				if up.DisplayName != name || up.Email != "ada@example.org" || !slices.Equal(up.Groups, groups) || up.Version != ada.Version+1 {
					t.Errorf("updated %+v", up)
				}
				var env envelope
				r := e.call(http.MethodPatch, "/auth/admin/users/"+ada.ID, admin, client.UserChange{DisplayName: &name}, &env, "If-Match", `"1"`)
				if r.StatusCode != http.StatusConflict || env.Error.Code != "version_conflict" {
					t.Errorf("stale version: %d %+v", r.StatusCode, env)
				}
				if r := e.call(http.MethodGet, "/auth/admin/users/"+ada.ID, admin, nil, nil); r.Header.Get("ETag") != `"2"` {
					t.Errorf("ETag %q", r.Header.Get("ETag"))
				}
				list, err := ac.ListUsers(ctx, client.UserQuery{Group: "analysts"})
				if err != nil || list.Total != 1 || list.Items[0].ID != ada.ID {
					t.Errorf("filter by group: %+v %v", list, err)
				}
				list, err = ac.ListUsers(ctx, client.UserQuery{Text: "king"})
				if err != nil || list.Total != 1 {
					t.Errorf("text filter: %+v %v", list, err)
				}
				if err := ac.DeleteGroup(ctx, "analysts", 0); apiStatus(err) != http.StatusConflict {
					t.Errorf("delete a group with members: %v", err)
				}
			})

			t.Run("the last admin stays", func(t *testing.T) {
				me, err := ac.Me(ctx)
				if err != nil {
					t.Fatal(err)
				}
				u, err := ac.GetUser(ctx, me.Subject)
				if err != nil {
					t.Fatal(err)
				}
				none := []string{}
				if _, err := ac.UpdateUser(ctx, u.ID, u.Version, client.UserChange{Groups: &none}); apiStatus(err) != http.StatusConflict {
					t.Errorf("demote the last admin: %v", err)
				}
				if err := ac.DeleteUser(ctx, u.ID, 0); apiStatus(err) != http.StatusConflict {
					t.Errorf("delete the last admin: %v", err)
				}
				if err := ac.DeleteGroup(ctx, "admin", 0); apiStatus(err) != http.StatusConflict {
					t.Errorf("delete the admin group: %v", err)
				}
			})

			t.Run("users change their own password", func(t *testing.T) {
				uc := client.New(e.srv.URL, apiclient.StaticToken(user), nil)
				err := uc.ChangePassword(ctx, "wrong-current-password", "difference-engine")
				if apiStatus(err) != http.StatusBadRequest {
					t.Errorf("wrong current password: %v", err)
				}
				if err := uc.ChangePassword(ctx, "analytical-engine", "difference-engine"); err != nil {
					t.Fatal(err)
				}
				b := e.browser()
				if resp, _ := b.submit(b.authorize("openid"), "ada", "analytical-engine"); resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("old password: %d", resp.StatusCode)
				}
				if _, err := ac.SetPassword(ctx, ada.ID, "analytical-engine"); err != nil {
					t.Fatal(err)
				}
			})

			t.Run("disabling a user ends its sessions", func(t *testing.T) {
				tok := e.browser().login("ada", "analytical-engine", "openid offline_access")
				u, err := ac.GetUser(ctx, ada.ID)
				if err != nil {
					t.Fatal(err)
				}
				yes := true
				if _, err := ac.UpdateUser(ctx, ada.ID, u.Version, client.UserChange{Disabled: &yes}); err != nil {
					t.Fatal(err)
				}
				var next tokens
				e.postForm("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"opencloud-web"}}, &next)
				if next.Error != "invalid_grant" {
					t.Errorf("refresh of a disabled user: %+v", next)
				}
				b := e.browser()
				resp, body := b.submit(b.authorize("openid"), "ada", "analytical-engine")
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("login of a disabled user: %d %s", resp.StatusCode, body)
				}
				if err := ac.DeleteUser(ctx, ada.ID, 0); err != nil {
					t.Fatal(err)
				}
				waitEvent(t, events, event.UserDeleted, ada.ID)
				if _, err := ac.GetUser(ctx, ada.ID); apiStatus(err) != http.StatusNotFound {
					t.Errorf("deleted user: %v", err)
				}
			})

			t.Run("built-in web client", func(t *testing.T) {
				c, err := ac.GetClient(ctx, "opencloud-web")
				if err != nil {
					t.Fatal(err)
				}
				if !c.Public || !c.BuiltIn || !slices.Contains(c.RedirectURIs, e.srv.URL+"/callback") {
					t.Errorf("web client %+v", c)
				}
				if err := ac.DeleteClient(ctx, "opencloud-web", 0); apiStatus(err) != http.StatusConflict {
					t.Errorf("delete the web client: %v", err)
				}
				if _, err := ac.RotateSecret(ctx, "opencloud-web"); apiStatus(err) != http.StatusConflict {
					t.Errorf("secret of a public client: %v", err)
				}
			})
		})
	}
}

// TestFirstAdminGenerated: without OC_ADMIN_PASSWORD the first start
// generates a password and logs it once; later starts do not.
func TestFirstAdminGenerated(t *testing.T) {
	e := newEnv(t, backends[0].open(t), service.Config{})
	rec, err := e.logRecord("created the first administrator with a generated password; sign in and change it")
	if err != nil {
		t.Fatalf("%v in:\n%s", err, e.logs.String())
	}
	pw, _ := rec["password"].(string)
	if len(pw) < 20 {
		t.Fatalf("generated password %q", pw)
	}
	e.browser().login("admin", pw, "openid")
	e.restart()
	if n := strings.Count(e.logs.String(), pw); n != 1 {
		t.Errorf("the password appears %d times in the logs, want once", n)
	}
	e.browser().login("admin", pw, "openid")
}

func TestConfigValidation(t *testing.T) {
	key := keysKey(t)
	for name, c := range map[string]struct {
		cfg  service.Config
		want string
	}{
		"no issuer":            {service.Config{KeysKey: key}, "issuer"},
		"relative issuer":      {service.Config{Issuer: "/auth", KeysKey: key}, "issuer"},
		"issuer with query":    {service.Config{Issuer: "http://x/auth?a=b", KeysKey: key}, "issuer"},
		"short admin password": {service.Config{Issuer: "http://x/auth", AdminPassword: "short", KeysKey: key}, "admin password"},
		"bad admin user":       {service.Config{Issuer: "http://x/auth", AdminUser: "Admin User", KeysKey: key}, "admin user"},
		"bad redirect":         {service.Config{Issuer: "http://x/auth", WebRedirectURIs: []string{"/callback"}, KeysKey: key}, "web redirect URIs"},
		"retention under ttl":  {service.Config{Issuer: "http://x/auth", AccessTTL: time.Hour, KeyRetention: time.Minute, KeysKey: key}, "key retention"},
		"negative refresh ttl": {service.Config{Issuer: "http://x/auth", RefreshTTL: -time.Hour, KeysKey: key}, "refresh TTL"},
		"negative session ttl": {service.Config{Issuer: "http://x/auth", SessionTTL: -time.Hour, KeysKey: key}, "session TTL"},
		"no keys key":          {service.Config{Issuer: "http://x/auth"}, "OC_AUTH_KEYS_KEY): 0 bytes, want 32"},
		"short keys key":       {service.Config{Issuer: "http://x/auth", KeysKey: key[:16]}, "OC_AUTH_KEYS_KEY): 16 bytes, want 32"},
		"bad trusted proxy": {service.Config{Issuer: "http://x/auth", KeysKey: key, TrustedProxies: []string{"10.0.0.1", "traefik"}},
			`OC_TRUSTED_PROXIES): "traefik" is neither an IP address nor a CIDR range`},
		"every proxy trusted": {service.Config{Issuer: "http://x/auth", KeysKey: key, TrustedProxies: []string{"0.0.0.0/0"}},
			`OC_TRUSTED_PROXIES): "0.0.0.0/0" trusts every address`},
	} {
		_, err := service.New(context.Background(), c.cfg, service.Deps{Store: backends[0].open(t)})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func waitEvent(t *testing.T, ch <-chan *nats.Msg, typ, subject string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m := <-ch:
			var env event.Envelope
			if err := json.Unmarshal(m.Data, &env); err != nil {
				t.Fatal(err)
			}
			if env.Type == typ && env.Subject == subject {
				if env.Source != "auth" || env.Actor == "" {
					t.Errorf("event %+v", env)
				}
				return
			}
		case <-timeout:
			t.Fatalf("no %s event for %s", typ, subject)
		}
	}
}

func apiStatus(err error) int { return apiclient.Status(err) }
