package peercall

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/peerid"
)

// echo answers with what the handler sees of the call.
type echo struct {
	Peer    string   `json:"peer"`
	Subject string   `json:"subject"`
	Groups  []string `json:"groups"`
	Body    string   `json:"body"`
	Path    string   `json:"path"`
}

// recorder keeps the Authorization headers a transport sends.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	sent []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.sent = append(r.sent, req.Header.Get("Authorization"))
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

func (r *recorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent[len(r.sent)-1]
}

func TestOverHTTP(t *testing.T) {
	w := newWorld(t)
	// Real clocks on both sides: A's document is pinned as of an hour ago.
	start := time.Now().Add(-time.Hour)
	w.docA = peerid.NewSelfDoc(w.keyA, "Peer A", "https://a.example", nil, start)
	w.pin(t, w.keyA, start)
	w.signer.Now = nil
	v, err := NewVerifier(Config{Self: w.b, Keys: w.dir})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(rw http.ResponseWriter, r *http.Request) {
		http.Redirect(rw, r, "/new/place?from=old", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		c, ok := CallerFrom(r.Context())
		if !ok {
			t.Error("no caller in the context")
			return
		}
		b, _ := io.ReadAll(r.Body)
		e := echo{Peer: string(c.Peer), Body: string(b), Path: r.URL.RequestURI()}
		if c.User != nil {
			e.Subject, e.Groups = c.User.Subject, c.User.Groups
		}
		_ = json.NewEncoder(rw).Encode(e)
	})
	srv := httptest.NewServer(Require(v)(mux))
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("the test server listens on %s", srv.URL)
	}

	rec := &recorder{base: http.DefaultTransport}
	client := &http.Client{Transport: w.signer.Transport(w.b, rec), Timeout: 10 * time.Second}

	call := func(t *testing.T, ctx context.Context, method, path, body string) (int, echo, apierror.Envelope) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var e echo
		var env apierror.Envelope
		if resp.StatusCode == http.StatusOK {
			err = json.Unmarshal(raw, &e)
		} else {
			err = json.Unmarshal(raw, &env)
		}
		if err != nil {
			t.Fatalf("%d %s: %v", resp.StatusCode, raw, err)
		}
		return resp.StatusCode, e, env
	}

	t.Run("a POST on behalf of a user", func(t *testing.T) {
		ctx := OnBehalfOf(context.Background(), User{Subject: "alice", Groups: []string{"geo"}})
		status, e, env := call(t, ctx, http.MethodPost, "/areas/a1/ops?since=3", `{"op":"rename"}`)
		if status != http.StatusOK {
			t.Fatalf("%d %+v", status, env.Error)
		}
		if e.Peer != string(w.a) || e.Subject != "alice" || strings.Join(e.Groups, ",") != "geo" ||
			e.Body != `{"op":"rename"}` || e.Path != "/areas/a1/ops?since=3" {
			t.Fatalf("the handler saw %+v", e)
		}
	})
	t.Run("an escaped path and query", func(t *testing.T) {
		status, e, env := call(t, context.Background(), http.MethodGet, "/files/a%2Fb/c%20d?name=x%20y&tag=%C3%A9", "")
		if status != http.StatusOK || e.Subject != "" || e.Path != "/files/a%2Fb/c%20d?name=x%20y&tag=%C3%A9" {
			t.Fatalf("%d %+v %+v", status, e, env.Error)
		}
	})
	t.Run("a redirect is signed again", func(t *testing.T) {
		status, e, env := call(t, context.Background(), http.MethodGet, "/old", "")
		if status != http.StatusOK || e.Path != "/new/place?from=old" {
			t.Fatalf("%d %+v %+v", status, e, env.Error)
		}
	})
	t.Run("a replay is refused", func(t *testing.T) {
		if status, _, env := call(t, context.Background(), http.MethodPut, "/r/1", "v1"); status != http.StatusOK {
			t.Fatalf("%d %+v", status, env.Error)
		}
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/r/1", strings.NewReader("v1"))
		req.Header.Set("Authorization", rec.last())
		resp, env := sendRaw(t, req)
		if resp.StatusCode != http.StatusUnauthorized || env.Error.Code != "replayed" ||
			resp.Header.Get("WWW-Authenticate") != `OCPeer error="replayed"` {
			t.Fatalf("%d %s %+v", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), env.Error)
		}
	})
	t.Run("an unsigned request is refused", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/catalog", nil)
		resp, env := sendRaw(t, req)
		if resp.StatusCode != http.StatusUnauthorized || env.Error.Code != "unsigned" || !strings.Contains(env.Error.Message, "OCPeer") {
			t.Fatalf("%d %+v", resp.StatusCode, env.Error)
		}
	})
	t.Run("a blocked peer is refused", func(t *testing.T) {
		w.dir.Block(w.a)
		defer w.dir.Unblock(w.a)
		status, _, env := call(t, context.Background(), http.MethodGet, "/catalog", "")
		if status != http.StatusForbidden || env.Error.Code != "blocked" {
			t.Fatalf("%d %+v", status, env.Error)
		}
	})
	t.Run("a body changed on the way is refused", func(t *testing.T) {
		tamper := &Signer{Peer: w.a, Key: w.keyA}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/pay", nil)
		if err := tamper.Sign(req, w.b, []byte("10")); err != nil {
			t.Fatal(err)
		}
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader([]byte("1000"))), 4
		resp, env := sendRaw(t, req)
		if resp.StatusCode != http.StatusUnauthorized || env.Error.Code != "digest_mismatch" {
			t.Fatalf("%d %+v", resp.StatusCode, env.Error)
		}
	})
}

// sendRaw sends req without signing it and reads the error envelope of the
// answer.
func sendRaw(t *testing.T, req *http.Request) (*http.Response, apierror.Envelope) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env apierror.Envelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || env.Error == nil {
		t.Fatalf("%d: no error envelope (%v)", resp.StatusCode, err)
	}
	return resp, env
}

// failingResolver stands for a key store that cannot be read.
type failingResolver struct{}

func (failingResolver) ResolveKey(context.Context, peerid.ID, string) (peerid.Key, error) {
	return peerid.Key{}, errors.New("store: connection refused to db.internal:27017")
}

func TestResolverFailureIsA500ThatLeaksNothing(t *testing.T) {
	w := newWorld(t)
	var logged bytes.Buffer
	v, err := NewVerifier(Config{Self: w.b, Keys: failingResolver{}, Now: w.calleeNow.Now, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rw := httptest.NewRecorder()
	Require(v)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("the handler ran")
	})).ServeHTTP(rw, w.signed(t, w.signer, http.MethodGet, target, ""))
	if rw.Code != http.StatusInternalServerError || strings.Contains(rw.Body.String(), "db.internal") {
		t.Fatalf("%d %s", rw.Code, rw.Body)
	}
	if !strings.Contains(logged.String(), "db.internal") {
		t.Fatalf("the cause is not logged: %s", logged.String())
	}
}
