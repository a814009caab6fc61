// Package sqlitestore is the SQLite backend of the store API, the default of
// the all-in-one binary: one file in the data directory, pure Go
// (modernc.org/sqlite), no server.
//
// Each collection is a table (id, version, doc, search, one column per
// declared field) with an SQL index per declared field and per Spec index.
// Column values are computed in Go on every write, so queries never parse
// JSON. StringArray fields live in a side table "<collection>$array" (field,
// value, id) whose primary key is their index. Time fields are stored as
// fixed-width UTC RFC 3339 text with nanoseconds, which sorts as instants over
// the whole RFC 3339 range (unix nanoseconds would overflow before 1678, and
// Go's zero time is year 1).
//
// Writes go through a single connection in IMMEDIATE transactions, reads
// through a pool, in WAL mode so readers never wait for the writer.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/internal/schema"
)

// busyTimeout is how long a connection waits for a lock held by another
// process (an operator's sqlite3 shell, a backup) before failing.
const busyTimeout = "10000" // milliseconds

// Store is a SQLite database holding collections. It is safe for concurrent use.
type Store struct {
	writer *sql.DB // one connection: SQLite has one writer at a time anyway
	reader *sql.DB // a pool; the same as writer for an in-memory database
	log    *slog.Logger

	mu          sync.Mutex
	collections map[string]*collection
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path. An empty path or
// ":memory:" opens a private in-memory database, for tests. log may be nil.
func Open(ctx context.Context, path string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{log: log, collections: make(map[string]*collection)}
	var err error
	if path == "" || path == ":memory:" {
		// Every connection to ":memory:" is a separate database: use one.
		s.writer, err = openDB(ctx, ":memory:", 1, url.Values{})
		s.reader = s.writer
	} else {
		s.writer, err = openFile(ctx, path, 1, url.Values{"_txlock": {"immediate"}})
		if err == nil {
			s.reader, err = openFile(ctx, path, max(4, runtime.NumCPU()), url.Values{"_query_only": {"1"}})
		}
	}
	if err != nil {
		_ = s.Close(ctx)
		return nil, err
	}
	return s, nil
}

func openFile(ctx context.Context, path string, conns int, params url.Values) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	params.Set("_journal_mode", "WAL")
	// NORMAL loses at most the last transactions on power loss, never
	// integrity, and spares an fsync per commit.
	params.Set("_synchronous", "NORMAL")
	uri := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	return openDB(ctx, uri.String(), conns, params)
}

func openDB(ctx context.Context, dsn string, conns int, params url.Values) (*sql.DB, error) {
	params.Set("_busy_timeout", busyTimeout)
	params.Set("_foreign_keys", "0")
	db, err := sql.Open("sqlite", dsn+"?"+params.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", dsn, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", dsn, err)
	}
	return db, nil
}

// Collection creates or migrates the table of spec and returns it. Reopening
// a name with the same spec returns the same collection; with another spec it
// is an error. A spec that changed since the file was last opened (a new
// field, a dropped index) is applied to the existing table.
func (s *Store) Collection(ctx context.Context, spec store.Spec) (store.Collection, error) {
	sc, err := schema.Compile(spec)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.collections[spec.Name]; ok {
		if !schema.SpecEqual(c.schema.Spec(), spec) {
			return nil, fmt.Errorf("sqlitestore: collection %s already opened with another spec", spec.Name)
		}
		return c, nil
	}
	c := newCollection(s, sc)
	if err := c.migrate(ctx); err != nil {
		return nil, err
	}
	s.collections[spec.Name] = c
	return c, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlitestore: ping: %w", err)
	}
	return nil
}

// Close closes the database. In-flight calls finish first.
func (s *Store) Close(context.Context) error {
	var errs []error
	if s.reader != nil && s.reader != s.writer {
		errs = append(errs, s.reader.Close())
	}
	if s.writer != nil {
		errs = append(errs, s.writer.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlitestore: close: %w", err)
	}
	return nil
}

// inTx runs fn in a write transaction, committed if fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: commit: %w", err)
	}
	return nil
}

// isUnique reports whether err is a primary-key or unique-index violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) &&
		(se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// quote returns name as an SQL identifier. Names come from validated specs
// only, never from requests; quoting keeps dotted field names whole.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }
