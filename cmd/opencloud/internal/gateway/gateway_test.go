package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func named(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) })
}

func TestRoutesByLongestPrefix(t *testing.T) {
	g := New([]Route{{"/auth", named("auth")}, {"/catalog", named("catalog")}, {"/catalog/x", named("x")}}, named("web"))
	for path, want := range map[string]string{
		"/auth":                    "auth",
		"/auth/.well-known/openid": "auth",
		"/authority":               "web",
		"/catalog/resources":       "catalog",
		"/catalog/x/1":             "x",
		"/":                        "web",
		"/index.html":              "web",
	} {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if got := rec.Body.String(); got != want {
			t.Errorf("%s routed to %q, want %q", path, got, want)
		}
	}
}
