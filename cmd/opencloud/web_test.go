package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func serve(h http.Handler, method, path string, header ...string) *http.Response {
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		rd = zr
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWebApp(t *testing.T) {
	index := `<!doctype html><html><head><script type="module" src="/assets/index-abc.js"></script></head><body><div id="root"></div></body></html>`
	script := strings.Repeat("console.log('opencloud');\n", 200)
	app, err := newWebApp(fstest.MapFS{
		"index.html":          {Data: []byte(index)},
		"assets/index-abc.js": {Data: []byte(script)},
		"robots.txt":          {Data: []byte("User-agent: *\n")},
	})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("deep links open the app", func(t *testing.T) {
		for _, p := range []string{"/", "/index.html", "/resources", "/executions/6b0e3c6c-4d0a-4d21-9a43-0e4c1d7b9f10", "/workflows/x/book", "/a/../b"} {
			r := serve(app, http.MethodGet, p)
			if r.StatusCode != http.StatusOK || body(t, r) != index {
				t.Errorf("GET %s: %d, not the app", p, r.StatusCode)
			}
			if got := r.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
				t.Errorf("GET %s: Content-Type %q", p, got)
			}
			if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "script-src 'self' 'unsafe") {
				t.Errorf("GET %s: Content-Security-Policy %q", p, csp)
			}
			if r.Header.Get("Cache-Control") != "no-cache" {
				t.Errorf("GET %s: the app's page may be cached: %q", p, r.Header.Get("Cache-Control"))
			}
		}
	})

	t.Run("assets are served as they are, cached for good, gzipped on request", func(t *testing.T) {
		r := serve(app, http.MethodGet, "/assets/index-abc.js")
		if r.StatusCode != http.StatusOK || body(t, r) != script || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/javascript") {
			t.Fatalf("script: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
		}
		if !strings.Contains(r.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
		}
		gz := serve(app, http.MethodGet, "/assets/index-abc.js", "Accept-Encoding", "br, gzip;q=0.8")
		if gz.Header.Get("Content-Encoding") != "gzip" || gz.ContentLength >= int64(len(script)) || body(t, gz) != script {
			t.Errorf("gzip: %q, %d bytes for %d", gz.Header.Get("Content-Encoding"), gz.ContentLength, len(script))
		}
		if off := serve(app, http.MethodGet, "/assets/index-abc.js", "Accept-Encoding", "gzip;q=0"); off.Header.Get("Content-Encoding") != "" {
			t.Error("gzip sent to a client refusing it")
		}
		if txt := serve(app, http.MethodGet, "/robots.txt"); txt.StatusCode != http.StatusOK || txt.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("robots.txt: %d %q", txt.StatusCode, txt.Header.Get("Cache-Control"))
		}
	})

	t.Run("a missing file is a 404, not the app", func(t *testing.T) {
		for _, p := range []string{"/assets/index-old.js", "/favicon.ico", "/assets"} {
			r := serve(app, http.MethodGet, p)
			if p == "/assets" {
				// A directory without an extension: the app says it has no such page.
				if r.StatusCode != http.StatusOK {
					t.Errorf("GET %s: %d", p, r.StatusCode)
				}
				continue
			}
			if r.StatusCode != http.StatusNotFound || strings.Contains(body(t, r), "<div id=\"root\">") {
				t.Errorf("GET %s: %d", p, r.StatusCode)
			}
		}
	})

	t.Run("only reads", func(t *testing.T) {
		r := serve(app, http.MethodPost, "/")
		if r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST /: %d %q", r.StatusCode, r.Header.Get("Allow"))
		}
		head := serve(app, http.MethodHead, "/")
		if head.StatusCode != http.StatusOK || body(t, head) != "" {
			t.Errorf("HEAD /: %d", head.StatusCode)
		}
	})
}

func TestWebNotBuilt(t *testing.T) {
	if _, err := newWebApp(fstest.MapFS{"README.md": {Data: []byte("x")}}); err == nil {
		t.Fatal("an app without index.html was accepted")
	}
	page := notBuiltPage("http://localhost:8000", nil)
	r := serve(page, http.MethodGet, "/")
	if text := body(t, r); r.StatusCode != http.StatusOK || !strings.Contains(text, "make web") ||
		!bytes.Contains([]byte(text), []byte("/auth/.well-known/openid-configuration")) {
		t.Errorf("GET /: %d %s", r.StatusCode, text)
	}
	if r := serve(page, http.MethodGet, "/resources"); r.StatusCode != http.StatusNotFound {
		t.Errorf("GET /resources: %d", r.StatusCode)
	}
}
