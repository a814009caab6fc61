package sqlitestore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/sqlitestore"
	"github.com/opencloud/opencloud/libs/store/storetest"
	"github.com/opencloud/opencloud/libs/testenv"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return testenv.SQLiteStore(t) })
}

// TestContractInMemory runs the suite on the single-connection in-memory
// database tests may use.
func TestContractInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openMemory(t) })
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store { return testenv.SQLiteStore(b) })
}

func openMemory(t testing.TB) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "garbage.db"), bytes.Repeat([]byte("not a database "), 500), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		filepath.Join(dir, "missing", "dir", "store.db"),
		filepath.Join(dir, "garbage.db"),
	} {
		s, err := sqlitestore.Open(context.Background(), path, nil)
		if err == nil {
			_ = s.Close(context.Background())
			t.Errorf("Open(%s): no error", path)
		}
	}
}

// TestPathWithURICharacters opens a file whose name SQLite URIs would
// otherwise misread.
func TestPathWithURICharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a?b#c%20d.db")
	s, err := sqlitestore.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close(context.Background()) }()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at %s: %v", path, err)
	}
}

func TestClosedStore(t *testing.T) {
	ctx := context.Background()
	s := openMemory(t)
	c, err := s.Collection(ctx, store.Spec{Name: "things"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Insert(ctx, "a", map[string]any{}); err == nil {
		t.Error("Insert after Close: no error")
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping after Close: no error")
	}
}

func TestGetNilOut(t *testing.T) {
	ctx := context.Background()
	c, err := openMemory(t).Collection(ctx, store.Spec{Name: "things"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Insert(ctx, "a", map[string]any{"x": 1}); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "a", nil); err != nil || v != 1 {
		t.Errorf("Get(nil out) = %d, %v", v, err)
	}
	var wrong []int
	if _, err := c.Get(ctx, "a", &wrong); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get into a slice: %v, want a decoding error", err)
	}
}

// TestClaimAcrossStores claims one document through two stores on the same
// file, as two services of the all-in-one binary might: SQLite's locking,
// not the store's writer connection, has to keep the claim exclusive.
func TestClaimAcrossStores(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	spec := store.Spec{Name: "slots", Fields: []store.Field{{Name: "state", Type: store.String}}}
	var cs []store.Collection
	for range 2 {
		s, err := sqlitestore.Open(ctx, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close(ctx) })
		c, err := s.Collection(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	if _, err := cs[0].Insert(ctx, "slot", map[string]any{"state": "free"}); err != nil {
		t.Fatal(err)
	}
	const claimers = 100
	errs := make(chan error, claimers)
	for i := range claimers {
		go func() {
			_, err := cs[i%2].UpdateIf(ctx, "slot", store.Eq("state", "free"), map[string]any{"state": "taken"})
			errs <- err
		}()
	}
	wins := 0
	for range claimers {
		switch err := <-errs; {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrConditionFailed):
			t.Errorf("claim: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d claims won, want exactly 1", wins)
	}
}
