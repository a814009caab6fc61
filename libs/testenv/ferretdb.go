package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// ferret is one running embedded FerretDB.
type ferret struct {
	uri    string
	cancel context.CancelFunc
	done   <-chan error
}

// startFerret starts FerretDB on a loopback port with its SQLite handler
// storing under dir, and returns once it accepts connections.
func startFerret(dir string) (*ferret, error) {
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	})
	if err != nil {
		return nil, fmt.Errorf("testenv: create FerretDB: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	// MongoDBURI blocks until the listener is bound and dereferences it, so a
	// failed bind would hang or panic there: race it against Run's result.
	uri := make(chan string, 1)
	go func() {
		defer func() { _ = recover() }()
		uri <- f.MongoDBURI()
	}()
	select {
	case u := <-uri:
		return &ferret{uri: u, cancel: cancel, done: done}, nil
	case err := <-done:
		cancel()
		if err == nil {
			err = errors.New("stopped before listening")
		}
		return nil, fmt.Errorf("testenv: run FerretDB: %w", err)
	}
}

// stop cancels FerretDB and waits until it has closed its listener and backend.
func (f *ferret) stop() error {
	f.cancel()
	return <-f.done
}

// shared is the one FerretDB of a test binary whose TestMain calls Main.
var shared struct {
	enabled bool
	once    sync.Once
	f       *ferret
	dir     string
	err     error
}

// Main runs the tests of a package with one FerretDB and one test cluster
// shared by all of them (each started on first use: one database per test,
// a namespace per test), and stops them afterwards. Call it from TestMain:
// func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	shared.enabled = true
	code := m.Run()
	if err := stopSharedCluster(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv: stop the test cluster:", err)
		code = 1
	}
	if shared.f != nil {
		if err := shared.f.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv: stop FerretDB:", err)
			code = 1
		}
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// MongoURI returns the URI of an embedded FerretDB v1.18.0, the MongoDB
// stand-in of the tests. Under Main it is the shared instance; otherwise one
// is started for t and stopped when t ends.
func MongoURI(t testing.TB) string {
	t.Helper()
	if shared.enabled {
		shared.once.Do(func() {
			shared.dir, shared.err = os.MkdirTemp("", "testenv-ferretdb-")
			if shared.err == nil {
				shared.f, shared.err = startFerret(shared.dir)
			}
		})
		if shared.err != nil {
			t.Fatal(shared.err)
		}
		return shared.f.uri
	}
	f, err := startFerret(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.stop(); err != nil {
			t.Errorf("testenv: stop FerretDB: %v", err)
		}
	})
	return f.uri
}
