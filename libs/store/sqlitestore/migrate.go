package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/internal/schema"
)

// specsTable remembers the spec each collection was last opened with, to
// tell when its column values must be recomputed. Collection names start
// with a letter, so it cannot clash with one.
const specsTable = "_store_specs"

// backfillBatch is how many documents a migration reads at a time.
const backfillBatch = 500

// migrate creates the collection's tables, columns and indexes, or brings
// existing ones in line with the spec, in one write transaction: a failed
// migration changes nothing.
func (c *collection) migrate(ctx context.Context) error {
	err := c.store.inTx(ctx, func(tx *sql.Tx) error {
		if err := c.createTables(ctx, tx); err != nil {
			return err
		}
		if err := c.addColumns(ctx, tx); err != nil {
			return err
		}
		old, err := c.storedSpec(ctx, tx)
		if err != nil {
			return err
		}
		// Column values are a function of the fields and text fields only.
		spec := c.schema.Spec()
		if old == nil || !slices.Equal(old.Fields, spec.Fields) || !slices.Equal(old.Text, spec.Text) {
			if err := c.backfill(ctx, tx); err != nil {
				return err
			}
		}
		if err := c.syncIndexes(ctx, tx); err != nil {
			return err
		}
		return c.saveSpec(ctx, tx)
	})
	if err != nil {
		return c.errorf("open", "", err)
	}
	return nil
}

// createTables creates the tables if they do not exist. The declared-field
// columns have no type, so no affinity: they keep exactly the typed values
// computed in Go, even if a field's type changes later.
func (c *collection) createTables(ctx context.Context, tx *sql.Tx) error {
	cols := "id TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL, search TEXT"
	for _, f := range c.cols {
		cols += ", " + c.column(f)
	}
	for _, stmt := range []string{
		"CREATE TABLE IF NOT EXISTS " + quote(specsTable) + " (name TEXT PRIMARY KEY, spec TEXT NOT NULL)",
		"CREATE TABLE IF NOT EXISTS " + c.table + " (" + cols + ")",
		"CREATE TABLE IF NOT EXISTS " + c.arrays + " (field TEXT NOT NULL, value TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (field, value, id)) WITHOUT ROWID",
		"CREATE INDEX IF NOT EXISTS " + quote(c.schema.Spec().Name+"$array/id") + " ON " + c.arrays + " (id)",
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// addColumns adds a column for every declared field that has none yet: the
// table was created under an older spec.
func (c *collection) addColumns(ctx context.Context, tx *sql.Tx) error {
	existing, err := c.strings(ctx, tx, "SELECT name FROM pragma_table_info(?)", c.schema.Spec().Name)
	if err != nil {
		return err
	}
	for _, f := range c.cols {
		if slices.Contains(existing, "f_"+f.Name) {
			continue
		}
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+c.table+" ADD COLUMN "+c.column(f)); err != nil {
			return err
		}
		c.store.log.InfoContext(ctx, "sqlitestore: added column", "collection", c.schema.Spec().Name, "field", f.Name)
	}
	return nil
}

func (c *collection) storedSpec(ctx context.Context, tx *sql.Tx) (*store.Spec, error) {
	var data []byte
	err := tx.QueryRowContext(ctx, "SELECT spec FROM "+quote(specsTable)+" WHERE name = ?", c.schema.Spec().Name).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var spec store.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("stored spec: %w", err)
	}
	return &spec, nil
}

func (c *collection) saveSpec(ctx context.Context, tx *sql.Tx) error {
	data, err := json.Marshal(c.schema.Spec())
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO "+quote(specsTable)+" (name, spec) VALUES (?, ?) "+
		"ON CONFLICT (name) DO UPDATE SET spec = excluded.spec", c.schema.Spec().Name, string(data))
	return err
}

// backfill recomputes the columns and array elements of every document. A
// stored value that does not fit a newly declared type reads as null, like
// on MongoDB, where it would not match typed queries either; it is logged.
func (c *collection) backfill(ctx context.Context, tx *sql.Tx) error {
	var (
		after         string
		done, invalid int
		firstErr      error
	)
	for {
		ids, docs, err := c.page(ctx, tx, after)
		if err != nil || len(ids) == 0 {
			if done > 0 {
				c.store.log.InfoContext(ctx, "sqlitestore: recomputed columns", "collection", c.schema.Spec().Name, "documents", done)
			}
			if invalid > 0 {
				c.store.log.WarnContext(ctx, "sqlitestore: stored documents do not match the spec; those fields read as null",
					"collection", c.schema.Spec().Name, "documents", invalid, "first", firstErr)
			}
			return err
		}
		for i, id := range ids {
			r, err := c.rebuild(docs[i])
			if err != nil {
				invalid++
				if firstErr == nil {
					firstErr = fmt.Errorf("%s: %w", id, err)
				}
			}
			args := append([]any{r.search}, r.cols...)
			if _, err := tx.ExecContext(ctx, c.backfillSQL(), append(args, id)...); err != nil {
				return err
			}
			if err := c.writeArrays(ctx, tx, id, r); err != nil {
				return err
			}
		}
		done += len(ids)
		after = ids[len(ids)-1]
	}
}

func (c *collection) page(ctx context.Context, tx *sql.Tx, after string) (ids []string, docs [][]byte, err error) {
	rows, err := tx.QueryContext(ctx, "SELECT id, doc FROM "+c.table+" WHERE id > ? ORDER BY id LIMIT ?", after, backfillBatch)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var (
			id  string
			doc []byte
		)
		if err := rows.Scan(&id, &doc); err != nil {
			return nil, nil, err
		}
		ids, docs = append(ids, id), append(docs, doc)
	}
	return ids, docs, rows.Err()
}

// rebuild computes the row of a stored document, field by field: a field
// that does not fit is null and reported, the others are kept.
func (c *collection) rebuild(doc []byte) (*row, error) {
	o, err := schema.ParseDocument(doc)
	if err != nil {
		return c.row(&schema.Object{}, nil), err
	}
	fields := c.schema.Fields()
	vals := make(map[string]any, len(fields))
	var errs []error
	for _, f := range fields {
		v, err := f.Extract(o)
		errs = append(errs, err)
		vals[f.Name] = v
	}
	return c.row(o, vals), errors.Join(errs...)
}

func (c *collection) backfillSQL() string {
	names := []string{"search"}
	for _, f := range c.cols {
		names = append(names, c.column(f))
	}
	return "UPDATE " + c.table + " SET " + strings.Join(names, " = ?, ") + " = ? WHERE id = ?"
}

// syncIndexes creates the index of every declared field and Spec index, and
// drops the store's indexes on the table that the spec no longer asks for.
func (c *collection) syncIndexes(ctx context.Context, tx *sql.Tx) error {
	want := c.indexes()
	existing, err := c.strings(ctx, tx, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", c.schema.Spec().Name)
	if err != nil {
		return err
	}
	for _, name := range existing {
		if _, ok := want[name]; ok || !strings.HasPrefix(name, c.schema.Spec().Name+"/") {
			continue
		}
		if _, err := tx.ExecContext(ctx, "DROP INDEX "+quote(name)); err != nil {
			return err
		}
		c.store.log.InfoContext(ctx, "sqlitestore: dropped index", "collection", c.schema.Spec().Name, "index", name)
	}
	for _, stmt := range want {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// indexes returns the CREATE INDEX statement of every wanted index by name.
// A name spells the index out ("jobs/state+owner/unique"), so an index whose
// definition changes gets a new name and the old one is dropped.
func (c *collection) indexes() map[string]string {
	want := make(map[string]string)
	add := func(fields []string, unique bool) {
		name, kind, cols := c.schema.Spec().Name+"/"+strings.Join(fields, "+"), "INDEX", make([]string, len(fields))
		if unique {
			name, kind = name+"/unique", "UNIQUE INDEX"
		}
		for i, f := range fields {
			sf, _ := c.schema.Field(f) // Compile checked that index fields are declared
			cols[i] = c.column(sf)
		}
		want[name] = "CREATE " + kind + " IF NOT EXISTS " + quote(name) + " ON " + c.table + " (" + strings.Join(cols, ", ") + ")"
	}
	single := map[string]bool{"id": true} // the primary key
	for _, ix := range c.schema.Spec().Indexes {
		if len(ix.Fields) == 1 {
			if single[ix.Fields[0]] {
				continue
			}
			single[ix.Fields[0]] = true
		}
		add(ix.Fields, ix.Unique)
	}
	// A field with an index of its own in the spec needs no other.
	for _, f := range c.cols {
		if !single[f.Name] {
			add([]string{f.Name}, false)
		}
	}
	return want
}

func (c *collection) strings(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
