package platform

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/libs/store"
)

// component is a server.Component whose background work is run.
type component struct {
	handler http.Handler
	run     func(ctx context.Context) error
}

func (c component) Name() string                  { return "test" }
func (c component) Prefix() string                { return "/test" }
func (c component) Handler() http.Handler         { return c.handler }
func (c component) Run(ctx context.Context) error { return c.run(ctx) }

// journal records what happened, in order.
type journal struct {
	mu    sync.Mutex
	items []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.items = append(j.items, s)
}

func (j *journal) String() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return strings.Join(j.items, ", ")
}

// closeRecorder notes in a journal when the store is closed.
type closeRecorder struct {
	store.Store
	j *journal
}

func (c closeRecorder) Close(ctx context.Context) error {
	c.j.add("store closed")
	return c.Store.Close(ctx)
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runService runs Run with the component build makes, on SQLite and an
// embedded NATS, and returns its address, the NATS URL and Run's result.
func runService(t *testing.T, ctx context.Context, build Build) (addr, natsURL string, done <-chan error) {
	t.Helper()
	emb, err := broker.StartEmbedded(broker.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	addr = freeAddr(t)
	env := map[string]string{"OC_STORE": "sqlite", "OC_SQLITE_PATH": filepath.Join(t.TempDir(), "oc.db"),
		"OC_NATS_URL": emb.ClientURL(), "OC_HTTP_ADDR": addr, "OC_LOG_LEVEL": "error"}
	var cfg struct{ Infra Infra }
	ch := make(chan error, 1)
	go func() { ch <- Run(ctx, "test", func(k string) string { return env[k] }, &cfg, &cfg.Infra, build) }()
	return addr, emb.ClientURL(), ch
}

// readyz polls GET /test/readyz until it answers want, and returns the body.
func readyz(t *testing.T, addr string, want int) map[string]any {
	t.Helper()
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		res, err := http.Get("http://" + addr + "/test/readyz")
		if err != nil {
			last = err.Error()
			continue
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		last = strconv.Itoa(res.StatusCode) + " " + string(raw)
		if res.StatusCode == want {
			var body map[string]any
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("readyz body %s: %v", raw, err)
			}
			return body
		}
	}
	t.Fatalf("readyz did not answer %d within 10s; last: %s", want, last)
	return nil
}

func handler(log *slog.Logger, d *Deps) http.Handler {
	e, _ := server.New(server.Options{Name: "test", Prefix: "/test", Logger: log,
		Checks: []server.Check{{Name: "store", Check: d.Store.Ping}}})
	return e
}

// A background loop that dies makes /readyz answer 503, naming the loop and
// its error; the service keeps serving until it is stopped.
func TestReadyzFailsWhenTheBackgroundLoopDies(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	died := make(chan struct{})
	addr, _, done := runService(t, ctx, func(_ context.Context, log *slog.Logger, d *Deps) (server.Component, error) {
		return component{handler: handler(log, d), run: func(context.Context) error {
			<-died
			return errors.New("the events consumer gave up: stream deleted")
		}}, nil
	})
	readyz(t, addr, http.StatusOK)
	close(died)
	body := readyz(t, addr, http.StatusServiceUnavailable)
	checks, _ := body["checks"].(map[string]any)
	msg, _ := checks["background"].(string)
	if body["ready"] != false || checks["store"] != "ok" || !strings.Contains(msg, "test") ||
		!strings.Contains(msg, "the events consumer gave up: stream deleted") {
		t.Errorf("readyz = %v; want not ready, the store ok, and the background loop of test named with its error", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// On shutdown, the HTTP server stops first, then Run waits for the
// background loop, and only then drains NATS and closes the store: a loop
// still writing when its context ends finishes its write and its event.
func TestRunWaitsForTheBackgroundLoopBeforeClosing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var j journal
	started := make(chan struct{})
	addr, natsURL, done := runService(t, ctx, func(ctx context.Context, log *slog.Logger, d *Deps) (server.Component, error) {
		col, err := d.Store.Collection(ctx, store.Spec{Name: "platform_test"})
		if err != nil {
			return nil, err
		}
		d.Store = closeRecorder{Store: d.Store, j: &j}
		pub := broker.NewPublisher(d.NATS, "test")
		return component{handler: handler(log, d), run: func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			// Work that was under way when the stop came.
			time.Sleep(300 * time.Millisecond)
			if _, err := col.Insert(context.Background(), "last", map[string]string{"at": "shutdown"}); err != nil {
				j.add("write failed: " + err.Error())
			} else {
				j.add("written")
			}
			if err := pub.Publish(context.Background(), "oc.test.stopped", "last", "test", nil); err != nil {
				j.add("publish failed: " + err.Error())
			} else {
				j.add("published")
			}
			return ctx.Err()
		}}, nil
	})
	readyz(t, addr, http.StatusOK)
	<-started
	watcher, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	events, err := watcher.SubscribeSync("oc.test.stopped")
	if err != nil {
		t.Fatal(err)
	}
	if err := watcher.Flush(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if got, want := j.String(), "written, published, store closed"; got != want {
		t.Errorf("shutdown order: %q, want %q", got, want)
	}
	if _, err := events.NextMsg(5 * time.Second); err != nil {
		t.Errorf("the loop's last event did not reach NATS: %v", err)
	}
	if _, err := http.Get("http://" + addr + "/test/healthz"); err == nil {
		t.Error("the HTTP server still answers after Run returned")
	}
}
