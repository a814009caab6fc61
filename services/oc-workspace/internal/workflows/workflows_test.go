package workflows

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/opencloud/opencloud/services/oc-workspace/internal/errs"
)

func TestHTTPGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Authorization") != "Bearer tok":
			w.WriteHeader(http.StatusUnauthorized)
		case r.URL.Path == "/workflow/workflows/w1":
			_, _ = w.Write([]byte(`{"id":"w1","name":"NDVI","graph":{"nodes":[{"id":"p","kind":"processing","resource":{"peer":"local","id":"r"}}],"links":[]}}`))
		case r.URL.Path == "/workflow/workflows/boom":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"no"}}`))
		}
	}))
	defer srv.Close()
	f := &HTTP{GatewayURL: srv.URL, Client: srv.Client()}
	ctx := context.Background()
	w, err := f.Get(ctx, "tok", "w1")
	if err != nil || w.Name != "NDVI" || len(w.Graph.Nodes) != 1 {
		t.Errorf("get = %+v, %v", w, err)
	}
	if _, err := f.Get(ctx, "tok", "nope"); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("unknown: %v, want ErrNotFound", err)
	}
	if _, err := f.Get(ctx, "tok", "boom"); err == nil || errors.Is(err, errs.ErrNotFound) {
		t.Errorf("server error: %v", err)
	}
}
