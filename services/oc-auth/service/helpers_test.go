package service_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"
	"github.com/opencloud/opencloud/services/oc-auth/service"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const adminPassword = "admin-password-123"

// backends are the two store backends every component test runs against.
var backends = []struct {
	name string
	open func(testing.TB) store.Store
}{
	{"sqlite", testenv.SQLiteStore},
	{"mongo", testenv.MongoStore},
}

// env is one oc-auth served in-process by an httptest server whose URL is
// the issuer's origin. restart replaces the service with a new one on the
// same store, behind the same URL.
type env struct {
	t       testing.TB
	srv     *httptest.Server
	issuer  string
	store   store.Store
	nc      *nats.Conn
	cfg     service.Config
	logs    *testenv.Buffer
	handler atomic.Pointer[http.Handler]
	cancel  context.CancelFunc
}

// keysKey returns a fresh key sealing the signing keys.
func keysKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func newEnv(t testing.TB, st store.Store, cfg service.Config) *env {
	t.Helper()
	if cfg.KeysKey == nil {
		cfg.KeysKey = keysKey(t) // kept across restarts, as a deployment keeps it
	}
	e := &env{t: t, store: st, cfg: cfg, logs: &testenv.Buffer{}}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*e.handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service logs:\n%s", e.logs.String())
		}
	})
	e.issuer = e.srv.URL + "/auth"
	nsrv, err := broker.StartEmbedded(broker.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nsrv.Shutdown)
	e.nc, err = nats.Connect(nsrv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.nc.Close)
	e.restart()
	return e
}

func (e *env) restart() {
	e.t.Helper()
	if e.cancel != nil {
		e.cancel()
	}
	cfg := e.cfg
	cfg.Issuer = e.issuer
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := service.New(ctx, cfg, service.Deps{Logger: log, Store: e.store, NATS: e.nc})
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	e.cancel = cancel
	e.t.Cleanup(cancel)
	go func() { _ = svc.Run(ctx) }()
	h := svc.Handler()
	e.handler.Store(&h)
}

// call makes a JSON request with an optional bearer token and decodes a
// JSON answer into out (when not nil).
func (e *env) call(method, path, token string, body any, out any, headers ...string) *http.Response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			raw, err := json.Marshal(body)
			if err != nil {
				e.t.Fatal(err)
			}
			rd = bytes.NewReader(raw)
		}
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return resp
}

// envelope is the error body of the API.
type envelope struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Field   string `json:"field"`
			Problem string `json:"problem"`
		} `json:"details"`
	} `json:"error"`
}

func (v envelope) fields() []string {
	var out []string
	for _, d := range v.Error.Details {
		out = append(out, d.Field)
	}
	return out
}

// tokens is a token endpoint answer.
type tokens struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// postForm posts to an OIDC endpoint and decodes the JSON answer.
func (e *env) postForm(path string, form url.Values, out any, basic ...string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 && json.Valid(raw) {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("POST %s: decode %q: %v", path, raw, err)
		}
	}
	return resp
}

var idField = regexp.MustCompile(`name="id" value="([^"]+)"`)

// browser drives the authorization code flow with PKCE as the web
// front-end would.
type browser struct {
	e        *env
	hc       *http.Client
	redirect string
	verifier string
	state    string
	nonce    string
}

func (e *env) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	b := &browser{e: e, redirect: e.srv.URL + "/callback", verifier: randomString(e.t), state: randomString(e.t), nonce: randomString(e.t)}
	b.hc = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), b.redirect) {
			return http.ErrUseLastResponse // the front-end's callback: stop here
		}
		return nil
	}}
	return b
}

func randomString(t testing.TB) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// authorizeURL is the front-end's authorization request; extra adds or
// replaces parameters.
func (b *browser) authorizeURL(scope string, extra url.Values) string {
	sum := sha256.Sum256([]byte(b.verifier))
	q := url.Values{
		"client_id": {"opencloud-web"}, "redirect_uri": {b.redirect}, "response_type": {"code"},
		"scope": {scope}, "state": {b.state}, "nonce": {b.nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	for k, v := range extra {
		q[k] = v
	}
	return b.e.issuer + "/authorize?" + q.Encode()
}

// authorize opens the authorization endpoint and returns the login page's
// request id.
func (b *browser) authorize(scope string) string {
	b.e.t.Helper()
	return b.authorizeForm(scope, nil)
}

// authorizeForm is authorize with extra parameters.
func (b *browser) authorizeForm(scope string, extra url.Values) string {
	b.e.t.Helper()
	resp, err := b.hc.Get(b.authorizeURL(scope, extra))
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Request.URL.Path, "/auth/login") {
		b.e.t.Fatalf("authorize: %d at %s: %s", resp.StatusCode, resp.Request.URL, page)
	}
	m := idField.FindSubmatch(page)
	if m == nil {
		b.e.t.Fatalf("login page without request id: %s", page)
	}
	return string(m[1])
}

// submit posts the login form; it returns the response (a redirect to the
// front-end carrying the code, or the login page again).
func (b *browser) submit(id, username, password string, extra ...string) (*http.Response, string) {
	b.e.t.Helper()
	form := url.Values{"id": {id}, "username": {username}, "password": {password}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	resp, err := b.hc.PostForm(b.e.issuer+"/login", form)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// login runs the whole flow and exchanges the code for tokens.
func (b *browser) login(username, password, scope string) tokens {
	b.e.t.Helper()
	id := b.authorize(scope)
	resp, body := b.submit(id, username, password)
	if resp.StatusCode != http.StatusFound {
		b.e.t.Fatalf("login of %s: %d %s", username, resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		b.e.t.Fatal(err)
	}
	if got := loc.Query().Get("state"); got != b.state {
		b.e.t.Fatalf("state %q, want %q (redirect %s)", got, b.state, loc)
	}
	code := loc.Query().Get("code")
	if code == "" {
		b.e.t.Fatalf("no code in %s", loc)
	}
	return b.exchange(code)
}

// exchange trades a code for tokens.
func (b *browser) exchange(code string) tokens {
	b.e.t.Helper()
	var tok tokens
	r := b.e.postForm("/oauth/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {b.redirect},
		"client_id": {"opencloud-web"}, "code_verifier": {b.verifier},
	}, &tok)
	if r.StatusCode != http.StatusOK {
		b.e.t.Fatalf("code exchange: %d %s %s", r.StatusCode, tok.Error, tok.Description)
	}
	return tok
}

// callback opens the authorization endpoint expecting no login form (the
// sign-in session answers, or prompt=none fails) and returns the query the
// front-end's callback receives: a code or an error, and the state.
func (b *browser) callback(scope string, extra url.Values) url.Values {
	b.e.t.Helper()
	resp, err := b.hc.Get(b.authorizeURL(scope, extra))
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), b.redirect) {
		b.e.t.Fatalf("authorize without the form: %d at %s: %s", resp.StatusCode, resp.Request.URL, page)
	}
	if got := loc.Query().Get("state"); got != b.state {
		b.e.t.Fatalf("state %q, want %q (redirect %s)", got, b.state, loc)
	}
	return loc.Query()
}

// sessionCookie is the value of the browser's oc_session cookie, "" if it
// has none.
func (b *browser) sessionCookie() string {
	u, _ := url.Parse(b.e.issuer + "/login")
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == "oc_session" {
			return c.Value
		}
	}
	return ""
}

// setSessionCookie puts value in the browser's oc_session cookie, as a
// browser that kept an old cookie or an attacker would.
func (b *browser) setSessionCookie(value string) {
	u, _ := url.Parse(b.e.issuer + "/")
	b.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "oc_session", Value: value, Path: "/auth"}})
}

// adminToken signs the admin in and returns an access token.
func (e *env) adminToken() string {
	e.t.Helper()
	return e.browser().login("admin", adminPassword, "openid profile").AccessToken
}

// jwtHeader returns the decoded JOSE header of a compact JWT.
func jwtHeader(t testing.TB, raw string) map[string]any {
	t.Helper()
	h, _, ok := strings.Cut(raw, ".")
	if !ok {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// jwtClaims returns the decoded payload of a compact JWT, unverified.
func jwtClaims(t testing.TB, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

var errNoRecord = errors.New("no such log record")

// logRecord finds the first JSON log line with msg.
func (e *env) logRecord(msg string) (map[string]any, error) {
	for _, line := range strings.Split(e.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			return m, nil
		}
	}
	return nil, errNoRecord
}
