package service_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestIdempotentCreate(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		body := mustJSON(t, pipeline("Once", e.seed()))
		first := e.do(http.MethodPost, "/workflow/workflows", e.token(alice), body, "Idempotency-Key", "k-1")
		again := e.do(http.MethodPost, "/workflow/workflows", e.token(alice), body, "Idempotency-Key", "k-1")
		if first.Status != http.StatusCreated || again.Status != http.StatusCreated || string(first.Body) != string(again.Body) ||
			again.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("first %d, again %d %v", first.Status, again.Status, again.Header)
		}
		if n := e.count(); n != 1 {
			t.Errorf("%d workflows, want 1", n)
		}
	})
}

func TestUnknownIDsAndTokens(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		tok := e.token(root)
		for _, id := range []string{uuid.NewString(), "not-a-uuid", strings.ToUpper(uuid.NewString())} {
			for _, m := range []struct{ method, suffix, body string }{
				{http.MethodGet, "", ""}, {http.MethodPut, "", `{"name":"x"}`}, {http.MethodDelete, "", ""},
				{http.MethodPost, "/duplicate", ""}, {http.MethodGet, "/export", ""}, {http.MethodPost, "/publish", `{"visibility":"public"}`},
			} {
				resp := e.do(m.method, "/workflow/workflows/"+id+m.suffix, tok, m.body, "If-Match", `"1"`)
				if code, _, _ := resp.envelope(t); resp.Status != http.StatusNotFound || code != "not_found" {
					t.Errorf("%s %s%s: %d %s", m.method, id, m.suffix, resp.Status, resp.Body)
				}
			}
		}
		if resp := e.do(http.MethodGet, "/workflow/workflows", "", ""); resp.Status != http.StatusUnauthorized {
			t.Errorf("no token: %d", resp.Status)
		}
	})
}

func TestProbesAndSwagger(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		for path, want := range map[string]string{
			"/workflow/healthz":          `"ok"`,
			"/workflow/readyz":           `"ready":true`,
			"/workflow/swagger/doc.json": `"/workflows/{id}/publish"`,
			"/workflow/metrics":          "go_goroutines",
		} {
			resp := e.do(http.MethodGet, path, "", "")
			if resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), want) {
				t.Errorf("GET %s: %d, body without %s", path, resp.Status, want)
			}
		}
	})
}
