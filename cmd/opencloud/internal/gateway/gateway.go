// Package gateway routes the public path prefixes of the services (see
// docs/architecture.md) to the in-process services of the all-in-one binary,
// the way Traefik routes them to containers in compose.
package gateway

import (
	"net/http"
	"sort"
	"strings"
)

// Route sends every path under Prefix (the prefix itself included) to Handler.
type Route struct {
	Prefix  string
	Handler http.Handler
}

// Gateway is an http.Handler dispatching on the longest matching prefix.
type Gateway struct {
	routes   []Route
	fallback http.Handler
}

// New builds a gateway; fallback serves what no prefix matches (the web front-end at /).
func New(routes []Route, fallback http.Handler) *Gateway {
	rs := append([]Route(nil), routes...)
	sort.Slice(rs, func(i, j int) bool { return len(rs[i].Prefix) > len(rs[j].Prefix) })
	return &Gateway{routes: rs, fallback: fallback}
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	for _, rt := range g.routes {
		if p == rt.Prefix || strings.HasPrefix(p, rt.Prefix+"/") {
			rt.Handler.ServeHTTP(w, r)
			return
		}
	}
	g.fallback.ServeHTTP(w, r)
}
