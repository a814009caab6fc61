package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/internal/schema"
)

// collection is a table and its side table of StringArray elements.
type collection struct {
	store  *Store
	schema *schema.Schema
	table  string         // quoted table name
	arrays string         // quoted side table name
	cols   []schema.Field // declared fields that have a column, by name
	arrs   []schema.Field // declared StringArray fields, by name

	// Statements that depend only on the spec, built once.
	insertSQL, getSQL, replaceSQL, updateSQL string
}

var _ store.Collection = (*collection)(nil)

func newCollection(s *Store, sc *schema.Schema) *collection {
	c := &collection{
		store:  s,
		schema: sc,
		table:  quote(sc.Spec().Name),
		arrays: quote(sc.Spec().Name + "$array"),
	}
	for _, f := range sc.Fields() {
		switch {
		case f.Name == "id" || f.Name == "version":
		case f.Type == store.StringArray:
			c.arrs = append(c.arrs, f)
		default:
			c.cols = append(c.cols, f)
		}
	}
	sort.Slice(c.cols, func(i, j int) bool { return c.cols[i].Name < c.cols[j].Name })
	sort.Slice(c.arrs, func(i, j int) bool { return c.arrs[i].Name < c.arrs[j].Name })

	names := []string{"doc", "search"}
	for _, f := range c.cols {
		names = append(names, c.column(f))
	}
	c.insertSQL = "INSERT INTO " + c.table + " (id, version, " + strings.Join(names, ", ") +
		") VALUES (?, 1" + strings.Repeat(", ?", len(names)) + ")"
	c.getSQL = "SELECT version, doc FROM " + c.table + " WHERE id = ?"
	assign := strings.Join(names, " = ?, ") + " = ?"
	c.replaceSQL = "UPDATE " + c.table + " SET version = version + 1, " + assign + " WHERE id = ? AND version = ?"
	c.updateSQL = "UPDATE " + c.table + " SET version = ?, " + assign + " WHERE id = ?"
	return c
}

// column returns the quoted column of a declared field; id and version are
// the table's own columns.
func (c *collection) column(f schema.Field) string {
	if f.Name == "id" || f.Name == "version" {
		return f.Name
	}
	return quote("f_" + f.Name)
}

// Insert stores doc under id with version 1.
func (c *collection) Insert(ctx context.Context, id string, doc any) (int64, error) {
	if err := schema.CheckID(id); err != nil {
		return 0, c.errorf("insert", id, err)
	}
	r, err := c.encode(doc)
	if err != nil {
		return 0, c.errorf("insert", id, err)
	}
	err = c.store.inTx(ctx, func(tx *sql.Tx) error {
		args := append([]any{id, string(r.doc), r.search}, r.cols...)
		if _, err := tx.ExecContext(ctx, c.insertSQL, args...); err != nil {
			return err
		}
		return c.writeArrays(ctx, tx, id, r)
	})
	if err != nil {
		return 0, c.errorf("insert", id, err)
	}
	return 1, nil
}

// Get decodes the document into out (unless out is nil) and returns its version.
func (c *collection) Get(ctx context.Context, id string, out any) (int64, error) {
	var (
		version int64
		doc     []byte
	)
	err := c.store.reader.QueryRowContext(ctx, c.getSQL, id).Scan(&version, &doc)
	if err != nil {
		return 0, c.errorf("get", id, err)
	}
	if out != nil {
		if err := json.Unmarshal(record(id, version, doc), out); err != nil {
			return 0, c.errorf("get", id, err)
		}
	}
	return version, nil
}

// Replace overwrites the document if its stored version is version.
func (c *collection) Replace(ctx context.Context, id string, version int64, doc any) (int64, error) {
	r, err := c.encode(doc)
	if err != nil {
		return 0, c.errorf("replace", id, err)
	}
	err = c.store.inTx(ctx, func(tx *sql.Tx) error {
		args := append([]any{string(r.doc), r.search}, r.cols...)
		res, err := tx.ExecContext(ctx, c.replaceSQL, append(args, id, version)...)
		if err != nil {
			return err
		}
		if err := c.matched(ctx, tx, res, id, store.ErrVersionConflict); err != nil {
			return err
		}
		return c.writeArrays(ctx, tx, id, r)
	})
	if err != nil {
		return 0, c.errorf("replace", id, err)
	}
	return version + 1, nil
}

// UpdateIf sets top-level fields of the document if it matches cond. The
// read, the check and the write happen in one IMMEDIATE transaction on the
// single writer connection, so concurrent claims are serialised.
func (c *collection) UpdateIf(ctx context.Context, id string, cond store.Filter, set map[string]any) (int64, error) {
	where, err := c.where(cond)
	if err != nil {
		return 0, c.errorf("update", id, err)
	}
	fields, err := schema.EncodeSet(set)
	if err != nil {
		return 0, c.errorf("update", id, err)
	}
	var version int64
	err = c.store.inTx(ctx, func(tx *sql.Tx) error {
		var doc []byte
		query := "SELECT version, doc FROM " + c.table + " WHERE id = ? AND (" + where.sql.String() + ")"
		err := tx.QueryRowContext(ctx, query, append([]any{id}, where.args...)...).Scan(&version, &doc)
		if errors.Is(err, sql.ErrNoRows) {
			return c.missing(ctx, tx, id, store.ErrConditionFailed)
		}
		if err != nil {
			return err
		}
		o, err := schema.ParseDocument(doc)
		if err != nil {
			return fmt.Errorf("stored document: %w", err)
		}
		for k, v := range fields.All() {
			o.Set(k, v)
		}
		r, err := c.encodeObject(o)
		if err != nil {
			return err
		}
		version++
		args := append([]any{version, string(r.doc), r.search}, r.cols...)
		if _, err := tx.ExecContext(ctx, c.updateSQL, append(args, id)...); err != nil {
			return err
		}
		return c.writeArrays(ctx, tx, id, r)
	})
	if err != nil {
		return 0, c.errorf("update", id, err)
	}
	return version, nil
}

// Delete removes the document; version 0 deletes whatever version is stored.
func (c *collection) Delete(ctx context.Context, id string, version int64) error {
	err := c.store.inTx(ctx, func(tx *sql.Tx) error {
		query, args := "DELETE FROM "+c.table+" WHERE id = ?", []any{id}
		if version != 0 {
			query, args = query+" AND version = ?", append(args, version)
		}
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if err := c.matched(ctx, tx, res, id, store.ErrVersionConflict); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM "+c.arrays+" WHERE id = ?", id)
		return err
	})
	if err != nil {
		return c.errorf("delete", id, err)
	}
	return nil
}

// Find returns one page of the matching documents and the number of matches.
func (c *collection) Find(ctx context.Context, q store.Query) ([]store.Record, int64, error) {
	cnd, keys, err := c.schema.CompileQuery(q)
	if err != nil {
		return nil, 0, c.errorf("find", "", err)
	}
	where := c.build(cnd)
	limit := int64(q.Limit)
	if limit == 0 {
		limit = -1 // SQLite's "no limit"
	}
	query := "SELECT id, version, doc FROM " + c.table + " WHERE " + where.sql.String() +
		" ORDER BY " + c.orderBy(keys) + " LIMIT ? OFFSET ?"

	// One read transaction, so the page and the total see the same snapshot.
	tx, err := c.store.reader.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, c.errorf("find", "", err)
	}
	defer func() { _ = tx.Rollback() }()
	records, err := c.records(ctx, tx, query, slices.Concat(where.args, []any{limit, q.Offset})...)
	if err != nil {
		return nil, 0, c.errorf("find", "", err)
	}
	n := len(records)
	if (q.Limit == 0 || n < q.Limit) && (n > 0 || q.Offset == 0) {
		return records, int64(q.Offset + n), nil // the last page: no need to count
	}
	total, err := c.count(ctx, tx, where)
	if err != nil {
		return nil, 0, c.errorf("find", "", err)
	}
	return records, total, nil
}

// Count returns how many documents match f.
func (c *collection) Count(ctx context.Context, f store.Filter) (int64, error) {
	where, err := c.where(f)
	if err != nil {
		return 0, c.errorf("count", "", err)
	}
	n, err := c.count(ctx, c.store.reader, where)
	if err != nil {
		return 0, c.errorf("count", "", err)
	}
	return n, nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (c *collection) count(ctx context.Context, q querier, where *builder) (int64, error) {
	var n int64
	err := q.QueryRowContext(ctx, "SELECT count(*) FROM "+c.table+" WHERE "+where.sql.String(), where.args...).Scan(&n)
	return n, err
}

func (c *collection) records(ctx context.Context, q querier, query string, args ...any) ([]store.Record, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	records := []store.Record{}
	for rows.Next() {
		var (
			r   store.Record
			doc sql.RawBytes // only read until record copies it
		)
		if err := rows.Scan(&r.ID, &r.Version, &doc); err != nil {
			return nil, err
		}
		r.Data = record(r.ID, r.Version, doc)
		records = append(records, r)
	}
	return records, rows.Err()
}

// matched returns nil if the write res changed a row, else why not (see missing).
func (c *collection) matched(ctx context.Context, tx *sql.Tx, res sql.Result, id string, ifExists error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return c.missing(ctx, tx, id, ifExists)
	}
	return nil
}

// missing tells why a write matched no row: ErrNotFound if id does not exist,
// otherwise ifExists.
func (c *collection) missing(ctx context.Context, tx *sql.Tx, id string, ifExists error) error {
	var one int
	err := tx.QueryRowContext(ctx, "SELECT 1 FROM "+c.table+" WHERE id = ?", id).Scan(&one)
	if err == nil {
		return ifExists
	}
	return err // sql.ErrNoRows: errorf makes it ErrNotFound
}

// where compiles a filter to an SQL condition.
func (c *collection) where(f store.Filter) (*builder, error) {
	cnd, err := c.schema.CompileFilter(f)
	if err != nil {
		return nil, err
	}
	return c.build(cnd), nil
}

func (c *collection) orderBy(keys []schema.SortKey) string {
	var sb strings.Builder
	for _, k := range keys {
		sb.WriteString(c.column(k.Field))
		if k.Desc {
			sb.WriteString(" DESC")
		}
		sb.WriteString(", ")
	}
	sb.WriteString("id") // ties in id order: pages never overlap
	return sb.String()
}

// errorf wraps err with the operation and the document, turning SQLite's
// answers into the store's sentinel errors.
func (c *collection) errorf(op, id string, err error) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		err = store.ErrNotFound
	case isUnique(err):
		err = fmt.Errorf("%w: %w", store.ErrDuplicate, err)
	}
	if id == "" {
		return fmt.Errorf("sqlitestore: %s %s: %w", op, c.schema.Spec().Name, err)
	}
	return fmt.Errorf("sqlitestore: %s %s/%s: %w", op, c.schema.Spec().Name, id, err)
}

// record returns the stored document with the store's "id" and "version"
// put in front; doc is a compact JSON object written by appendObject.
func record(id string, version int64, doc []byte) json.RawMessage {
	b := make([]byte, 0, len(doc)+len(id)+32)
	b = append(b, `{"id":`...)
	b = schema.AppendString(b, id)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, version, 10)
	if len(doc) > 2 {
		b = append(b, ',')
		b = append(b, doc[1:]...)
	} else {
		b = append(b, '}')
	}
	return b
}
