package testenv

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Gateway is an HTTP server routing by path prefix to the services mounted
// on it, like the all-in-one binary's gateway: tests that need several
// services calling each other start one, build the services with its URL,
// then mount them.
type Gateway struct {
	// URL is the gateway's base URL (no trailing slash), known before any
	// service is mounted.
	URL string

	mu     sync.RWMutex
	routes map[string]http.Handler
}

// Prefixed is what Mount needs of a service (server.Component has it).
type Prefixed interface {
	Prefix() string
	Handler() http.Handler
}

// NewGateway starts a gateway on 127.0.0.1, stopped when the test ends.
func NewGateway(t testing.TB) *Gateway {
	t.Helper()
	g := &Gateway{routes: map[string]http.Handler{}}
	srv := httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	return g
}

// Mount routes the service's prefix ("/catalog") and everything below it
// to the service.
func (g *Gateway) Mount(services ...Prefixed) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, s := range services {
		g.routes[s.Prefix()] = s.Handler()
	}
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	prefix := r.URL.Path
	if i := strings.IndexByte(prefix[1:], '/'); i >= 0 {
		prefix = prefix[:i+1]
	}
	g.mu.RLock()
	h := g.routes[prefix]
	g.mu.RUnlock()
	if h == nil {
		http.Error(w, `{"error":{"code":"not_found","message":"no service at `+prefix+`"}}`, http.StatusNotFound)
		return
	}
	h.ServeHTTP(w, r)
}
