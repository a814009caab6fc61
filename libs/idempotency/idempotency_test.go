package idempotency_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/authn/authntest"
	"github.com/opencloud/opencloud/libs/idempotency"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var backends = []struct {
	name string
	open func(testing.TB) store.Store
}{{"sqlite", testenv.SQLiteStore}, {"mongo", testenv.MongoStore}}

type fixture struct {
	srv     *httptest.Server
	iss     *authntest.Issuer
	keys    *idempotency.Keys
	effects atomic.Int64
	fail    atomic.Bool
	gate    chan struct{} // when set, /slow waits for it
}

func newFixture(t *testing.T, st store.Store, o idempotency.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	keys, err := idempotency.New(ctx, st, o)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{iss: authntest.New(t), keys: keys, gate: make(chan struct{})}
	e, api := server.New(server.Options{Name: "t", Prefix: "/t", Logger: testenv.Logger(t), Verifier: f.iss.Verifier(ctx)})
	api.POST("/things", keys.Middleware(), func(c *gin.Context) {
		body, _ := io.ReadAll(c.Request.Body)
		n := f.effects.Add(1)
		if f.fail.Load() {
			c.JSON(http.StatusInternalServerError, gin.H{"error": "boom"})
			return
		}
		c.Header("Location", fmt.Sprintf("/t/things/%d", n))
		c.JSON(http.StatusCreated, gin.H{"n": n, "body": string(body)})
	})
	api.POST("/slow", keys.Middleware(), func(c *gin.Context) {
		f.effects.Add(1)
		<-f.gate
		c.JSON(http.StatusCreated, gin.H{"ok": true})
	})
	f.srv = httptest.NewServer(e)
	t.Cleanup(f.srv.Close)
	return f
}

type answer struct {
	status   int
	body     string
	location string
	replayed bool
}

func (f *fixture) post(t *testing.T, path, user, key, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+f.iss.Token(authntest.User(user)))
	if key != "" {
		req.Header.Set(idempotency.Header, key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return answer{}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(raw), resp.Header.Get("Location"), resp.Header.Get(idempotency.ReplayedHeader) == "true"}
}

func TestIdempotencyKeys(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Run("without a key every request runs", func(t *testing.T) {
				f := newFixture(t, b.open(t), idempotency.Options{})
				f.post(t, "/t/things", "alice", "", `{"a":1}`)
				f.post(t, "/t/things", "alice", "", `{"a":1}`)
				if n := f.effects.Load(); n != 2 {
					t.Fatalf("%d effects, want 2", n)
				}
			})
			t.Run("a retry gets the first response", func(t *testing.T) {
				f := newFixture(t, b.open(t), idempotency.Options{})
				first := f.post(t, "/t/things", "alice", "k-1", `{"a":1}`)
				again := f.post(t, "/t/things", "alice", "k-1", `{"a":1}`)
				if f.effects.Load() != 1 {
					t.Fatalf("%d effects, want 1", f.effects.Load())
				}
				if first.status != http.StatusCreated || again.status != first.status || again.body != first.body ||
					again.location != first.location || first.replayed || !again.replayed {
					t.Fatalf("first %+v, retry %+v", first, again)
				}
			})
			t.Run("keys are per caller", func(t *testing.T) {
				f := newFixture(t, b.open(t), idempotency.Options{})
				f.post(t, "/t/things", "alice", "shared", `{}`)
				if a := f.post(t, "/t/things", "bob", "shared", `{}`); a.replayed || f.effects.Load() != 2 {
					t.Fatalf("bob got alice's response: %+v", a)
				}
			})
			t.Run("the same key with another body is refused", func(t *testing.T) {
				f := newFixture(t, b.open(t), idempotency.Options{})
				f.post(t, "/t/things", "alice", "k-2", `{"a":1}`)
				a := f.post(t, "/t/things", "alice", "k-2", `{"a":2}`)
				if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, "idempotency_key_reused") || f.effects.Load() != 1 {
					t.Fatalf("%+v, %d effects", a, f.effects.Load())
				}
			})
			t.Run("a server error is not kept", func(t *testing.T) {
				f := newFixture(t, b.open(t), idempotency.Options{})
				f.fail.Store(true)
				if a := f.post(t, "/t/things", "alice", "k-3", `{}`); a.status != http.StatusInternalServerError {
					t.Fatalf("%+v", a)
				}
				f.fail.Store(false)
				if a := f.post(t, "/t/things", "alice", "k-3", `{}`); a.status != http.StatusCreated || a.replayed || f.effects.Load() != 2 {
					t.Fatalf("retry after a 500: %+v", a)
				}
			})
			t.Run("bad keys are refused", func(t *testing.T) {
				f := newFixture(t, b.open(t), idempotency.Options{})
				for _, key := range []string{"has space", strings.Repeat("k", idempotency.MaxKeyLength+1), "é"} {
					if a := f.post(t, "/t/things", "alice", key, `{}`); a.status != http.StatusBadRequest || !strings.Contains(a.body, idempotency.Header) {
						t.Errorf("key %q: %+v", key, a)
					}
				}
				if f.effects.Load() != 0 {
					t.Fatal("a request with a bad key ran")
				}
			})
			t.Run("concurrent retries run once", func(t *testing.T) {
				f := newFixture(t, b.open(t), idempotency.Options{})
				var wg sync.WaitGroup
				answers := make([]answer, 20)
				for i := range answers {
					wg.Go(func() { answers[i] = f.post(t, "/t/slow", "alice", "k-4", `{}`) })
				}
				deadline := time.Now().Add(10 * time.Second)
				for f.effects.Load() == 0 && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
				time.Sleep(100 * time.Millisecond) // let the others arrive while the first runs
				close(f.gate)
				wg.Wait()
				if n := f.effects.Load(); n != 1 {
					t.Fatalf("%d effects, want 1", n)
				}
				for _, a := range answers {
					if a.status != http.StatusCreated && a.status != http.StatusConflict {
						t.Fatalf("unexpected answer %+v", a)
					}
				}
				if a := f.post(t, "/t/slow", "alice", "k-4", `{}`); a.status != http.StatusCreated || !a.replayed {
					t.Fatalf("after the first finished: %+v", a)
				}
			})
			t.Run("expired keys run again and are pruned", func(t *testing.T) {
				f := newFixture(t, b.open(t), idempotency.Options{TTL: 50 * time.Millisecond})
				f.post(t, "/t/things", "alice", "k-5", `{}`)
				f.post(t, "/t/things", "alice", "k-6", `{}`)
				time.Sleep(100 * time.Millisecond)
				if a := f.post(t, "/t/things", "alice", "k-5", `{}`); a.replayed || f.effects.Load() != 3 {
					t.Fatalf("expired key replayed: %+v", a)
				}
				time.Sleep(100 * time.Millisecond)
				n, err := f.keys.Prune(context.Background())
				if err != nil || n != 2 {
					t.Fatalf("pruned %d (%v), want 2", n, err)
				}
			})
		})
	}
}
