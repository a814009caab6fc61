package service_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/services/oc-auth/service"
)

// submitFrom posts the login form through a proxy that names client in
// X-Forwarded-For.
func (b *browser) submitFrom(client, id, username, password string) (*http.Response, string) {
	b.e.t.Helper()
	form := url.Values{"id": {id}, "username": {username}, "password": {password}}
	req, err := http.NewRequest(http.MethodPost, b.e.issuer+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", client)
	resp, err := b.hc.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// guess makes n wrong sign-ins as admin, from the clients clientOf names.
func guess(e *env, n int, clientOf func(i int) string) {
	e.t.Helper()
	b := e.browser()
	id := b.authorize("openid")
	for i := range n {
		if resp, body := b.submitFrom(clientOf(i), id, "admin", "not-the-password"); resp.StatusCode != http.StatusUnauthorized {
			e.t.Fatalf("guess %d from %s: %d %s", i+1, clientOf(i), resp.StatusCode, body)
		}
	}
}

// signInFrom signs the admin in from client and returns the status (302:
// signed in) and the Retry-After header.
func signInFrom(e *env, client string) (int, string, string) {
	e.t.Helper()
	b := e.browser()
	resp, body := b.submitFrom(client, b.authorize("openid"), "admin", adminPassword)
	return resp.StatusCode, resp.Header.Get("Retry-After"), body
}

// Behind a reverse proxy every client has the proxy's address. With the
// proxy trusted, failed sign-ins count per client it names: guesses from
// other clients never keep the administrator out, one guessing client
// blocks itself only, and guesses from many clients only slow down the
// addresses the administrator never signed in from.
func TestLoginThrottleBehindProxy(t *testing.T) {
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			clk := &clock{}
			e := newEnv(t, bk.open(t), service.WithClock(service.Config{AdminPassword: adminPassword,
				TrustedProxies: []string{"127.0.0.1", "10.0.0.0/8"}}, clk.now))

			guess(e, 10, func(i int) string { return fmt.Sprintf("203.0.113.%d", i+1) })
			office := "192.0.2.50"
			if status, _, body := signInFrom(e, office); status != http.StatusFound {
				t.Fatalf("the admin after ten guesses from other clients: %d %s", status, body)
			}

			// One client guessing: blocked itself, for the rest of the window.
			guess(e, 10, func(int) string { return "198.51.100.99" })
			b := e.browser()
			resp, body := b.submitFrom("198.51.100.99", b.authorize("openid"), "admin", adminPassword)
			if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed attempts. Try again in 15 minutes.") {
				t.Fatalf("11th attempt from the guessing client: %d %s", resp.StatusCode, body)
			}
			if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra < 600 || ra > 900 {
				t.Errorf("Retry-After %q, want up to 900 (15 minutes from the first failure)", resp.Header.Get("Retry-After"))
			}
			// The address the proxy names is taken past the proxy chain.
			if status, _, body := signInFrom(e, "198.51.100.99, 10.1.2.3"); status != http.StatusTooManyRequests {
				t.Fatalf("the guessing client behind a second proxy: %d %s", status, body)
			}
			if status, _, body := signInFrom(e, office); status != http.StatusFound {
				t.Fatalf("the admin while one client is blocked: %d %s", status, body)
			}

			// Many clients guessing: the admin's office is not slowed; a
			// new address waits a delay of at most a minute, then gets in.
			// (These twenty failures and the twenty above make the admin's
			// count pass the per-user threshold: most of these guesses are
			// refused already.)
			b = e.browser()
			id := b.authorize("openid")
			refused := 0
			for i := range 30 {
				resp, body := b.submitFrom(fmt.Sprintf("203.0.113.%d", 100+i), id, "admin", "not-the-password")
				switch resp.StatusCode {
				case http.StatusUnauthorized:
				case http.StatusTooManyRequests:
					refused++
				default:
					t.Fatalf("distributed guess %d: %d %s", i, resp.StatusCode, body)
				}
			}
			if refused < 25 {
				t.Errorf("%d of 30 distributed guesses refused, want nearly all", refused)
			}
			if status, _, body := signInFrom(e, office); status != http.StatusFound {
				t.Fatalf("the admin from the office during a distributed attack: %d %s", status, body)
			}
			status, retry, body := signInFrom(e, "192.0.2.77")
			wait, _ := strconv.Atoi(retry)
			if status != http.StatusTooManyRequests || wait < 1 || wait > 60 || !strings.Contains(body, "Try again in") {
				t.Fatalf("the admin from a new address during a distributed attack: %d, Retry-After %q: %s", status, retry, body)
			}
			clk.advance(time.Duration(wait) * time.Second)
			if status, _, body := signInFrom(e, "192.0.2.77"); status != http.StatusFound {
				t.Fatalf("the admin from a new address after Retry-After: %d %s", status, body)
			}
		})
	}
}

// A client that is not a trusted proxy cannot choose the address it is
// counted under.
func TestLoginThrottleIgnoresUntrustedForwardedFor(t *testing.T) {
	for _, trusted := range [][]string{nil, {"10.0.0.0/8"}} {
		t.Run(fmt.Sprint(trusted), func(t *testing.T) {
			e := newEnv(t, backends[0].open(t), service.Config{AdminPassword: adminPassword, TrustedProxies: trusted})
			guess(e, 10, func(i int) string { return fmt.Sprintf("203.0.113.%d", i+1) })
			if status, retry, body := signInFrom(e, "198.51.100.1"); status != http.StatusTooManyRequests || retry == "" {
				t.Fatalf("11th attempt from the same connection with another X-Forwarded-For: %d %q %s", status, retry, body)
			}
		})
	}
}

// Wrong current passwords on PUT /auth/me/password are throttled as
// sign-ins are: a stolen access token cannot be used to guess the password.
func TestPasswordChangeThrottled(t *testing.T) {
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			clk := &clock{}
			e := newEnv(t, bk.open(t), service.WithClock(service.Config{AdminPassword: adminPassword}, clk.now))
			token := e.adminToken()
			change := func(current string) (*http.Response, envelope) {
				var env envelope
				resp := e.call(http.MethodPut, "/auth/me/password", token,
					map[string]string{"current_password": current, "new_password": "a-brand-new-password"}, &env)
				return resp, env
			}
			for i := range 10 {
				if resp, env := change("wrong-password-" + strconv.Itoa(i)); resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("wrong password %d: %d %+v", i+1, resp.StatusCode, env)
				}
			}
			for _, current := range []string{"wrong-password-x", adminPassword} {
				resp, env := change(current)
				if resp.StatusCode != http.StatusTooManyRequests || env.Error.Code != "too_many_attempts" ||
					!strings.Contains(env.Error.Message, "try again in 15 minutes") || resp.Header.Get("Retry-After") == "" {
					t.Fatalf("attempt past the limit: %d %q %+v", resp.StatusCode, resp.Header.Get("Retry-After"), env)
				}
			}
			clk.advance(15 * time.Minute)
			if resp, env := change(adminPassword); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("after the window: %d %+v", resp.StatusCode, env)
			}
		})
	}
}
