// Package testenv starts what the tests of OpenCloud need in-process: stores
// on both backends, and FerretDB as the MongoDB stand-in (no mongod can be
// installed where the tests run). Everything started is stopped when the
// test ends.
package testenv

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/mongostore"
	"github.com/opencloud/opencloud/libs/store/sqlitestore"
)

// Logger returns a logger writing to the test's output.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// SQLiteStore opens a SQLite store in a fresh file (WAL, a writer and a
// reader pool: the production set-up), closed when t ends.
func SQLiteStore(t testing.TB) store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "store.db"), Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(ctx); err != nil {
			t.Errorf("close SQLite store: %v", err)
		}
	})
	return s
}

var databaseSeq atomic.Int64

// MongoStore opens a MongoDB store on a database of its own in FerretDB (see
// MongoURI), dropped and closed when t ends.
func MongoStore(t testing.TB) store.Store {
	t.Helper()
	ctx := context.Background()
	uri, db := MongoURI(t), fmt.Sprintf("test%d", databaseSeq.Add(1))
	s, err := mongostore.Open(ctx, uri, db, Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(ctx); err != nil {
			t.Errorf("close MongoDB store: %v", err)
		}
		if err := dropDatabase(ctx, uri, db); err != nil {
			t.Errorf("drop database %s: %v", db, err)
		}
	})
	return s
}

// dropDatabase removes a test's database, so a FerretDB shared by many
// tests does not accumulate them.
func dropDatabase(ctx context.Context, uri, db string) error {
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		return err
	}
	defer func() { _ = client.Disconnect(ctx) }()
	return client.Database(db).Drop(ctx)
}
