package service_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencloud/opencloud/services/oc-auth/client"
	"github.com/opencloud/opencloud/services/oc-auth/service"
)

// clock is the service's clock in these tests: the real time, moved on at will.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().UTC().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// TestSignInSession checks single sign-on on both store backends: a password
// sign-in starts a session that later authorization requests of the same
// browser reuse, until the client asks for a fresh sign-in or the session
// ends (logout, expiry, the user disabled or its password changed).
func TestSignInSession(t *testing.T) {
	const pw = "analytical-engine"
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			clk := &clock{}
			e := newEnv(t, bk.open(t), service.WithClock(service.Config{AdminPassword: adminPassword}, clk.now))
			ctx := context.Background()
			admin := e.adminToken()
			ac := client.New(e.srv.URL, func(context.Context) (string, error) { return admin, nil }, nil)
			ada, err := ac.CreateUser(ctx, client.NewUser{Username: "ada", Password: pw})
			if err != nil {
				t.Fatal(err)
			}

			t.Run("a second authorize gets a code without the form", func(t *testing.T) {
				b := e.browser()
				id := b.authorize("openid")
				// The form's answer sets the cookie, then redirects.
				noFollow := &http.Client{Jar: b.hc.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				resp, err := noFollow.PostForm(e.issuer+"/login", url.Values{"id": {id}, "username": {"ada"}, "password": {pw}})
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				set := resp.Header.Get("Set-Cookie")
				for _, want := range []string{"oc_session=", "Path=/auth", "HttpOnly", "SameSite=Lax", "Max-Age=43200"} {
					if !strings.Contains(set, want) {
						t.Errorf("Set-Cookie %q lacks %s", set, want)
					}
				}
				if strings.Contains(set, "Secure") {
					t.Errorf("Set-Cookie %q: Secure on an http issuer", set)
				}
				resp, err = b.hc.Get(resp.Header.Get("Location"))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				loc, _ := url.Parse(resp.Header.Get("Location"))
				first := b.exchange(loc.Query().Get("code"))

				clk.advance(time.Minute)
				q := b.callback("openid profile", nil)
				if q.Get("code") == "" {
					t.Fatalf("no code: %v", q)
				}
				second := b.exchange(q.Get("code"))
				c1, c2 := jwtClaims(t, first.IDToken), jwtClaims(t, second.IDToken)
				if c2["sub"] != ada.ID || c2["auth_time"] != c1["auth_time"] || c2["auth_time"] == nil {
					t.Errorf("second ID token sub %v auth_time %v; want %s and the sign-in's %v", c2["sub"], c2["auth_time"], ada.ID, c1["auth_time"])
				}
				if amr, _ := c2["amr"].([]any); len(amr) != 1 || amr[0] != "pwd" {
					t.Errorf("amr %v", c2["amr"])
				}
			})

			t.Run("prompt=login shows the form and the new sign-in replaces the session", func(t *testing.T) {
				b := e.browser()
				b.login("ada", pw, "openid")
				old := b.sessionCookie()
				id := b.authorizeForm("openid", url.Values{"prompt": {"login"}})
				if resp, body := b.submit(id, "ada", pw); resp.StatusCode != http.StatusFound {
					t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
				}
				if cur := b.sessionCookie(); cur == "" || cur == old {
					t.Errorf("session cookie %q after a new sign-in, was %q", cur, old)
				}
				b.callback("openid", nil) // the new session answers
				b.setSessionCookie(old)
				b.authorize("openid")
			})

			t.Run("max_age older than the session shows the form", func(t *testing.T) {
				b := e.browser()
				b.login("ada", pw, "openid")
				clk.advance(2 * time.Minute)
				b.authorizeForm("openid", url.Values{"max_age": {"60"}})
				if q := b.callback("openid", url.Values{"max_age": {"3600"}}); q.Get("code") == "" {
					t.Errorf("max_age=3600: %v", q)
				}
			})

			t.Run("prompt=none succeeds with a session and fails without", func(t *testing.T) {
				b := e.browser()
				b.login("ada", pw, "openid")
				if q := b.callback("openid", url.Values{"prompt": {"none"}}); q.Get("code") == "" {
					t.Errorf("prompt=none with a session: %v", q)
				}
				if q := e.browser().callback("openid", url.Values{"prompt": {"none"}}); q.Get("error") != "login_required" || q.Get("code") != "" {
					t.Errorf("prompt=none without a session: %v", q)
				}
			})

			t.Run("an id_token_hint for another user is not answered by the session", func(t *testing.T) {
				other := e.browser().login("admin", adminPassword, "openid")
				b := e.browser()
				b.login("ada", pw, "openid")
				hint := url.Values{"id_token_hint": {other.IDToken}}
				b.authorizeForm("openid", hint)
				hint.Set("prompt", "none")
				if q := b.callback("openid", hint); q.Get("error") != "login_required" {
					t.Errorf("prompt=none with another user's hint: %v", q)
				}
			})

			t.Run("a forged or unknown cookie shows the form", func(t *testing.T) {
				b := e.browser()
				b.setSessionCookie(randomString(t))
				b.authorize("openid")
				if b.sessionCookie() != "" {
					t.Error("the unknown cookie was not cleared")
				}
				b.setSessionCookie("forged")
				if q := b.callback("openid", url.Values{"prompt": {"none"}}); q.Get("error") != "login_required" {
					t.Errorf("prompt=none with a forged cookie: %v", q)
				}
			})

			t.Run("logout ends the session", func(t *testing.T) {
				b := e.browser()
				tok := b.login("ada", pw, "openid")
				cookie := b.sessionCookie()
				resp, err := b.hc.Get(e.issuer + "/end_session?" + url.Values{"id_token_hint": {tok.IDToken}}.Encode())
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/auth/logged-out" {
					t.Fatalf("end_session: %d at %s", resp.StatusCode, resp.Request.URL)
				}
				if b.sessionCookie() != "" {
					t.Error("the cookie survived the logout")
				}
				b.authorize("openid")
				b.setSessionCookie(cookie) // the server forgot it too
				b.authorize("openid")
			})

			t.Run("a password change or disabling the user ends its sessions", func(t *testing.T) {
				b := e.browser()
				b.login("ada", pw, "openid")
				if _, err := ac.SetPassword(ctx, ada.ID, pw); err != nil {
					t.Fatal(err)
				}
				b.authorize("openid")

				b = e.browser()
				b.login("ada", pw, "openid")
				cookie := b.sessionCookie()
				u, err := ac.GetUser(ctx, ada.ID)
				if err != nil {
					t.Fatal(err)
				}
				yes, no := true, false
				if _, err := ac.UpdateUser(ctx, ada.ID, u.Version, client.UserChange{Disabled: &yes}); err != nil {
					t.Fatal(err)
				}
				b.authorize("openid")
				u, err = ac.GetUser(ctx, ada.ID)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ac.UpdateUser(ctx, ada.ID, u.Version, client.UserChange{Disabled: &no}); err != nil {
					t.Fatal(err)
				}
				b.setSessionCookie(cookie) // enabling the user again does not bring it back
				b.authorize("openid")
			})

			t.Run("the session expires 12h after the sign-in, however often it is reused", func(t *testing.T) {
				b := e.browser()
				b.login("ada", pw, "openid")
				cookie := b.sessionCookie()
				clk.advance(6 * time.Hour)
				b.callback("openid", nil)
				clk.advance(6*time.Hour - time.Minute)
				b.callback("openid", nil)
				clk.advance(2 * time.Minute)
				b.setSessionCookie(cookie) // the browser still sends it; the server refuses it
				b.authorize("openid")
			})
		})
	}
}
