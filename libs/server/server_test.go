package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/swaggo/swag"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/authn/authntest"
	"github.com/opencloud/opencloud/libs/server"
)

type payload struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	Items []struct {
		Size int `json:"size"`
	} `json:"items,omitempty"`
	Meta *struct {
		Owner string `json:"owner"`
	} `json:"meta,omitempty"`
}

func newTestServer(t *testing.T, iss *authntest.Issuer, checks ...server.Check) *httptest.Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e, api := server.New(server.Options{Name: "test", Prefix: "/test", Logger: log,
		Verifier: iss.Verifier(context.Background()), Checks: checks, MaxBodyBytes: 64, SwaggerInstance: "server-test"})
	api.GET("/whoami", func(c *gin.Context) {
		p, _ := authn.FromContext(c.Request.Context())
		c.JSON(http.StatusOK, p)
	})
	api.GET("/admin", server.RequireRole(authn.RoleAdmin), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	api.POST("/echo", func(c *gin.Context) {
		var p payload
		if err := server.DecodeJSON(c, &p); err != nil {
			server.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, p)
	})
	api.GET("/boom", func(*gin.Context) { panic("secret detail") })
	api.GET("/fail", func(c *gin.Context) { server.Fail(c, errors.New("db password leaked in message")) })
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, method, url, token, body string) (int, apierror.Envelope, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var env apierror.Envelope
	_ = json.Unmarshal(raw, &env)
	return resp.StatusCode, env, string(raw)
}

func TestTokenChecks(t *testing.T) {
	iss := authntest.New(t)
	srv := newTestServer(t, iss)
	alice := authntest.User("alice")
	cases := []struct {
		name  string
		token string
		want  int
	}{
		{"valid", iss.Token(alice), http.StatusOK},
		{"missing", "", http.StatusUnauthorized},
		{"garbage", "not-a-jwt", http.StatusUnauthorized},
		{"expired", iss.Token(alice, authntest.Expired()), http.StatusUnauthorized},
		{"wrong signature", iss.Token(alice, authntest.WrongKey()), http.StatusUnauthorized},
		{"alg none", iss.NoneToken(alice), http.StatusUnauthorized},
		{"wrong audience", iss.Token(alice, authntest.Audience("someone-else")), http.StatusUnauthorized},
		{"id token", iss.Token(alice, authntest.NotAccessToken()), http.StatusUnauthorized},
		{"wrong issuer", iss.Token(alice, authntest.IssuedBy("http://evil.example/auth")), http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, env, raw := call(t, http.MethodGet, srv.URL+"/test/whoami", tc.token, "")
			if status != tc.want {
				t.Fatalf("status %d, want %d: %s", status, tc.want, raw)
			}
			if tc.want == http.StatusUnauthorized && (env.Error == nil || env.Error.Code != "unauthorized") {
				t.Fatalf("no error envelope: %s", raw)
			}
		})
	}
}

func TestOpenRoutesNeedNoToken(t *testing.T) {
	srv := newTestServer(t, authntest.New(t))
	for _, p := range []string{"/test/healthz", "/test/readyz", "/test/metrics"} {
		if status, _, raw := call(t, http.MethodGet, srv.URL+p, "", ""); status != http.StatusOK {
			t.Errorf("%s: %d %s", p, status, raw)
		}
	}
}

type fakeDoc struct{}

func (fakeDoc) ReadDoc() string { return `{"swagger":"2.0","info":{"title":"server test"}}` }

func init() { swag.Register("server-test", fakeDoc{}) }

func TestSwaggerUI(t *testing.T) {
	srv := newTestServer(t, authntest.New(t))
	for path, want := range map[string]string{
		"/test/swagger/index.html":           `id="swagger-ui"`,
		"/test/swagger/":                     `swagger-ui-bundle.js`,
		"/test/swagger/doc.json":             `"title":"server test"`,
		"/test/swagger/swagger-init.js":      `url: "doc.json"`,
		"/test/swagger/swagger-ui.css":       `.swagger-ui`,
		"/test/swagger/swagger-ui-bundle.js": `SwaggerUIBundle`,
	} {
		status, _, raw := call(t, http.MethodGet, srv.URL+path, "", "")
		if status != http.StatusOK || !strings.Contains(raw, want) {
			t.Errorf("%s: %d, body lacks %q", path, status, want)
		}
	}
	if status, _, _ := call(t, http.MethodGet, srv.URL+"/test/swagger/nothing.js", "", ""); status != http.StatusNotFound {
		t.Errorf("unknown asset: %d", status)
	}
}

func TestReadyzReportsFailingCheck(t *testing.T) {
	srv := newTestServer(t, authntest.New(t), server.Check{Name: "store", Check: func(context.Context) error {
		return errors.New("store unreachable")
	}})
	status, _, raw := call(t, http.MethodGet, srv.URL+"/test/readyz", "", "")
	if status != http.StatusServiceUnavailable || !strings.Contains(raw, "store unreachable") {
		t.Fatalf("readyz: %d %s", status, raw)
	}
}

func TestRoleAndErrors(t *testing.T) {
	iss := authntest.New(t)
	srv := newTestServer(t, iss)
	user, admin := iss.Token(authntest.User("bob")), iss.Token(authntest.Admin("root"))
	if s, _, _ := call(t, http.MethodGet, srv.URL+"/test/admin", user, ""); s != http.StatusForbidden {
		t.Errorf("user on admin route: %d", s)
	}
	if s, _, _ := call(t, http.MethodGet, srv.URL+"/test/admin", admin, ""); s != http.StatusNoContent {
		t.Errorf("admin on admin route: %d", s)
	}
	for _, p := range []string{"/test/boom", "/test/fail"} {
		s, env, raw := call(t, http.MethodGet, srv.URL+p, user, "")
		if s != http.StatusInternalServerError || env.Error == nil || env.Error.Code != "internal" {
			t.Errorf("%s: %d %s", p, s, raw)
		}
		if strings.Contains(raw, "secret") || strings.Contains(raw, "password") {
			t.Errorf("%s leaks its cause: %s", p, raw)
		}
	}
	if s, env, _ := call(t, http.MethodGet, srv.URL+"/test/nowhere", user, ""); s != http.StatusNotFound || env.Error == nil {
		t.Errorf("unknown route: %d", s)
	}
}

func TestDecodeJSON(t *testing.T) {
	iss := authntest.New(t)
	srv := newTestServer(t, iss)
	tok := iss.Token(authntest.User("carol"))
	cases := []struct {
		name, body string
		status     int
		field      string
	}{
		{"ok", `{"name":"x","count":2}`, http.StatusOK, ""},
		{"empty", ``, http.StatusBadRequest, ""},
		{"malformed", `{"name":`, http.StatusBadRequest, ""},
		{"not an object", `[1,2]`, http.StatusBadRequest, ""},
		{"unknown field", `{"name":"x","colour":"red"}`, http.StatusBadRequest, "colour"},
		{"nested unknown field", `{"NAME":"x","meta":{"owner":"a","colour":"red"}}`, http.StatusBadRequest, "meta.colour"},
		{"unknown field in a list", `{"items":[{"size":1},{"size":2,"weight":3}]}`, http.StatusBadRequest, "items[1].weight"},
		{"wrong type", `{"name":"x","count":"two"}`, http.StatusBadRequest, "count"},
		{"wrong nested type", `{"items":[{"size":"big"}]}`, http.StatusBadRequest, "items.size"},
		{"trailing data", `{"name":"x"} {"name":"y"}`, http.StatusBadRequest, ""},
		{"too large", `{"name":"` + strings.Repeat("a", 100) + `"}`, http.StatusRequestEntityTooLarge, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, env, raw := call(t, http.MethodPost, srv.URL+"/test/echo", tok, tc.body)
			if s != tc.status {
				t.Fatalf("status %d, want %d: %s", s, tc.status, raw)
			}
			if tc.field != "" {
				details, _ := json.Marshal(env.Error.Details)
				if !strings.Contains(string(details), `"field":"`+tc.field+`"`) {
					t.Fatalf("error does not name %s: %s", tc.field, raw)
				}
			}
		})
	}
}

func FuzzDecodeBytes(f *testing.F) {
	for _, s := range []string{`{"name":"x","count":1}`, `{"count":1e400}`, `{"name":null}`, `[]`, `"x"`, `{"a":1}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var p payload
		err := server.DecodeBytes(body, &p)
		if err == nil {
			return
		}
		var ae *apierror.Error
		if !errors.As(err, &ae) || ae.Status < 400 || ae.Status >= 500 {
			t.Fatalf("decode error is not a 4xx *apierror.Error: %v", err)
		}
	})
}

func TestEveryRunsUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan struct{}, 10)
	done := make(chan error, 1)
	go func() { done <- server.Every(ctx, time.Millisecond, func(context.Context) { calls <- struct{}{} }) }()
	<-calls
	<-calls
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
