package apiclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/apiclient"
)

// The end-to-end behaviour against a real oc-auth (caching, expiry, a bad
// secret) is tested in services/oc-auth/service, where oc-auth can be
// started without libs depending on a service. These tests cover what a
// real provider cannot be made to do: answers of proxies, slow answers,
// secrets that need encoding.

// tokenEndpoint answers the client_credentials grant for one client, the
// way RFC 6749 describes, and counts the requests.
type tokenEndpoint struct {
	id, secret string
	expiresIn  int
	delay      time.Duration
	requests   atomic.Int64
}

func (te *tokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := te.requests.Add(1)
	time.Sleep(te.delay)
	w.Header().Set("Content-Type", "application/json")
	user, pass, ok := r.BasicAuth()
	id, _ := url.QueryUnescape(user)
	secret, _ := url.QueryUnescape(pass)
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" ||
		r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_request"}`)
		return
	}
	if !ok || id != te.id || secret != te.secret {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client","error_description":"client authentication failed"}`)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": fmt.Sprintf("token-%d", n), "token_type": "Bearer", "expires_in": te.expiresIn,
	})
}

func TestClientCredentialsEncodesAndCaches(t *testing.T) {
	// Characters Basic would mangle if the secret were not form-encoded first.
	te := &tokenEndpoint{id: "oc-services", secret: "s3cr:et+with%odd chars/é", expiresIn: 3600, delay: 20 * time.Millisecond}
	srv := httptest.NewServer(te)
	defer srv.Close()
	ts := apiclient.ClientCredentials(srv.URL, te.id, te.secret, nil)

	var wg sync.WaitGroup
	got := make([]string, 50)
	errs := make([]error, len(got))
	for i := range got {
		wg.Go(func() { got[i], errs[i] = ts(context.Background()) })
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != "token-1" {
			t.Fatalf("call %d: %q %v", i, got[i], errs[i])
		}
	}
	if n := te.requests.Load(); n != 1 {
		t.Errorf("%d token requests for %d concurrent calls, want 1", n, len(got))
	}
}

func TestClientCredentialsShortLifetime(t *testing.T) {
	// A 1 s token is reused for half its life (the 30 s margin would leave
	// nothing), then replaced.
	te := &tokenEndpoint{id: "c1", secret: "secret", expiresIn: 1}
	srv := httptest.NewServer(te)
	defer srv.Close()
	ts := apiclient.ClientCredentials(srv.URL, te.id, te.secret, nil)
	first, err := ts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := ts(context.Background()); again != first {
		t.Errorf("token not reused at once: %q then %q", first, again)
	}
	time.Sleep(600 * time.Millisecond)
	if later, err := ts(context.Background()); err != nil || later == first {
		t.Errorf("after half its lifetime: %q %v, want a new token", later, err)
	}
}

func TestClientCredentialsErrors(t *testing.T) {
	te := &tokenEndpoint{id: "c1", secret: "right-secret", expiresIn: 60}
	mux := http.NewServeMux()
	mux.Handle("/token", te)
	mux.HandleFunc("/proxy", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html>\n  <h1>502 Bad Gateway</h1>\n</html>")
	})
	mux.HandleFunc("/not-a-token", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"token_type":"Bearer"}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, tc := range []struct {
		name, path, secret string
		status             int
		want               []string
	}{
		{"wrong secret", "/token", "wrong-secret", 401, []string{srv.URL + "/token", "401 Unauthorized", "invalid_client", "client authentication failed"}},
		{"not an OAuth answer", "/proxy", "right-secret", 502, []string{srv.URL + "/proxy", "502 Bad Gateway", "<html> <h1>502 Bad Gateway</h1> </html>"}},
		{"no access token", "/not-a-token", "right-secret", 0, []string{srv.URL + "/not-a-token", "no access_token"}},
		{"unreachable", ":1/token", "right-secret", 0, []string{"127.0.0.1:1/token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokenURL := srv.URL + tc.path
			if strings.HasPrefix(tc.path, ":") {
				tokenURL = "http://127.0.0.1" + tc.path
			}
			_, err := apiclient.ClientCredentials(tokenURL, "c1", tc.secret, nil)(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error %q shows the secret", err)
			}
			var te *apiclient.TokenError
			if tc.status != 0 && (!errors.As(err, &te) || te.Status != tc.status) {
				t.Errorf("error %#v, want a *TokenError with status %d", err, tc.status)
			}
		})
	}
	if n := te.requests.Load(); n != 1 {
		t.Errorf("%d requests to the token endpoint, want 1", n)
	}
}

func TestClientCredentialsFailureIsNotCached(t *testing.T) {
	te := &tokenEndpoint{id: "c1", secret: "secret", expiresIn: 60}
	var down atomic.Bool
	down.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		te.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ts := apiclient.ClientCredentials(srv.URL, te.id, te.secret, nil)
	if _, err := ts(context.Background()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("while down: %v", err)
	}
	down.Store(false)
	if tok, err := ts(context.Background()); err != nil || tok == "" {
		t.Fatalf("once up: %q %v", tok, err)
	}
}

func TestClientCredentialsWaiterHonoursItsContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		<-release
		fmt.Fprint(w, `{"access_token":"t","token_type":"Bearer","expires_in":60}`)
	}))
	defer srv.Close()
	defer close(release)
	ts := apiclient.ClientCredentials(srv.URL, "c1", "secret", nil)
	go func() { _, _ = ts(context.Background()) }() // holds the one token request
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := ts(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting caller: %v, want its deadline", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("waiting caller returned after %s", d)
	}
}
