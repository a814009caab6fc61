package main

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/opencloud/opencloud/libs/server"
)

// webFiles is the web front-end as `make web` built it into webapp/dist.
// The directory always holds its README, so that a clone that has not
// built the front-end still compiles; it then serves notBuiltPage.
//
//go:embed all:webapp
var webFiles embed.FS

// webCSP lets the app load its own scripts and styles only, talk to this
// peer only, and show resource logos from anywhere (http(s) URLs).
// React Flow positions nodes with style attributes: 'unsafe-inline' is for
// styles, never scripts.
const webCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: https: http:; connect-src 'self'; font-src 'self'; object-src 'none'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// webHandler serves the web front-end at / (the gateway's fallback), or,
// when it was not built, a page of links saying how to build it.
func webHandler(publicURL string, comps []server.Component) http.Handler {
	dist, err := fs.Sub(webFiles, "webapp/dist")
	if err == nil {
		if app, err := newWebApp(dist); err == nil {
			return app
		}
	}
	return notBuiltPage(publicURL, comps)
}

// webApp serves the files of a single-page application: a file that
// exists is served as it is (the hashed ones under /assets/ cached for
// good), and any other path without an extension gets index.html, so that
// a deep link opens the app on that page.
type webApp struct {
	files fs.FS
	index []byte
	// gz holds the gzip form of the text files, made once.
	gz map[string][]byte
}

func newWebApp(files fs.FS) (*webApp, error) {
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		return nil, err
	}
	a := &webApp{files: files, index: index, gz: map[string][]byte{}}
	err = fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !compressible(name) {
			return err
		}
		raw, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		if _, err := zw.Write(raw); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		if b.Len() < len(raw) {
			a.gz[name] = b.Bytes()
		}
		return nil
	})
	return a, err
}

func compressible(name string) bool {
	switch path.Ext(name) {
	case ".html", ".js", ".css", ".svg", ".json", ".txt", ".map":
		return true
	}
	return false
}

func (a *webApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name != "" && name != "index.html" {
		if st, err := fs.Stat(a.files, name); err == nil && !st.IsDir() {
			if strings.HasPrefix(name, "assets/") {
				h.Set("Cache-Control", "public, max-age=31536000, immutable")
			} else {
				h.Set("Cache-Control", "no-cache")
			}
			a.serveFile(w, r, name)
			return
		}
		if path.Ext(name) != "" {
			// A missing script or image: never answer it with the app.
			h.Set("Cache-Control", "no-cache")
			http.NotFound(w, r)
			return
		}
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", webCSP)
	h.Set("X-Frame-Options", "DENY")
	a.write(w, r, "index.html", "text/html; charset=utf-8", a.index)
}

func (a *webApp) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	raw, err := fs.ReadFile(a.files, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	a.write(w, r, name, ctype, raw)
}

// write sends raw, or its gzip form to a client that accepts it.
func (a *webApp) write(w http.ResponseWriter, r *http.Request, name, ctype string, raw []byte) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	body := raw
	if gz, ok := a.gz[name]; ok {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			h.Set("Content-Encoding", "gzip")
			body = gz
		}
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// notBuiltPage is what a binary built before `make web` serves at /: how
// to build the front-end, and the links to this peer's APIs.
func notBuiltPage(publicURL string, comps []server.Component) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>OpenCloud</title>
<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;color:#1f2933}code{background:#f0f4f8;padding:.1rem .3rem}</style></head>
<body><main><h1>OpenCloud</h1><p>This peer is running, but this binary was built without its web front-end.
Build it with <code>make web</code> (or run the peer with <code>make run</code>, which builds it first), then start the peer again.</p>
<p>OpenID discovery: <a href="%[1]s/auth/.well-known/openid-configuration"><code>/auth/.well-known/openid-configuration</code></a>.</p><h2>APIs</h2><ul>`, publicURL)
		for _, c := range comps {
			fmt.Fprintf(w, `<li><a href="%s%s/swagger/index.html">%s</a></li>`, publicURL, c.Prefix(), c.Name())
		}
		fmt.Fprint(w, `</ul></main></body></html>`)
	})
}
