package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/internal/schema"
)

// timeLayout is fixed-width UTC RFC 3339 with nanoseconds: as text it sorts
// in time order for every year RFC 3339 can express.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// row is what one document writes: the JSON, the search text, the declared
// column values (in collection.cols order) and the StringArray elements.
type row struct {
	doc    []byte
	search any // string, or nil when no Text field has a value
	cols   []any
	elems  []element
}

type element struct{ field, value string }

// encode validates doc and computes its row.
func (c *collection) encode(doc any) (*row, error) {
	o, err := schema.EncodeDocument(doc)
	if err != nil {
		return nil, err
	}
	return c.encodeObject(o)
}

func (c *collection) encodeObject(o *schema.Object) (*row, error) {
	vals, err := c.schema.Values(o)
	if err != nil {
		return nil, err
	}
	r := c.row(o, vals)
	if len(r.doc) > schema.MaxDocumentBytes { // UpdateIf can grow a document past it
		return nil, fmt.Errorf("%w: larger than %d bytes", store.ErrInvalidDocument, schema.MaxDocumentBytes)
	}
	return r, nil
}

// row builds the row of o from its declared values (see Schema.Values).
func (c *collection) row(o *schema.Object, vals map[string]any) *row {
	r := &row{doc: appendObject(nil, o), cols: make([]any, len(c.cols))}
	for i, f := range c.cols {
		r.cols[i] = sqlValue(vals[f.Name])
	}
	for _, f := range c.arrs {
		for _, s := range asStrings(vals[f.Name]) {
			r.elems = append(r.elems, element{f.Name, s})
		}
	}
	// Words never contain a newline, so a query word cannot match across two
	// values.
	var text []string
	for _, f := range c.schema.Text() {
		text = append(text, asStrings(vals[f.Name])...)
	}
	if len(text) > 0 {
		r.search = strings.ToLower(strings.Join(text, "\n"))
	}
	return r
}

// asStrings returns a String or StringArray value as a list.
func asStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []string:
		return v
	}
	return nil
}

// sqlValue converts a typed field value (or filter value) to its column value.
func sqlValue(v any) any {
	switch v := v.(type) {
	case bool:
		if v {
			return int64(1)
		}
		return int64(0)
	case time.Time:
		return v.UTC().Format(timeLayout)
	}
	return v
}

// writeArrays replaces the side-table elements of document id.
func (c *collection) writeArrays(ctx context.Context, tx *sql.Tx, id string, r *row) error {
	if len(c.arrs) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+c.arrays+" WHERE id = ?", id); err != nil {
		return err
	}
	// Bounded batches keep each statement under SQLite's variable limit.
	const batch = 256
	for elems := r.elems; len(elems) > 0; elems = elems[min(batch, len(elems)):] {
		n := min(batch, len(elems))
		args := make([]any, 0, 3*n)
		for _, e := range elems[:n] {
			args = append(args, e.field, e.value, id)
		}
		query := "INSERT OR IGNORE INTO " + c.arrays + " (field, value, id) VALUES (?, ?, ?)" +
			strings.Repeat(", (?, ?, ?)", n-1)
		if _, err := tx.ExecContext(ctx, query, args...); err != nil {
			return err
		}
	}
	return nil
}

// appendObject appends o as compact JSON, keys in document order.
func appendObject(b []byte, o *schema.Object) []byte {
	b = append(b, '{')
	first := true
	for k, v := range o.All() {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = schema.AppendString(b, k)
		b = append(b, ':')
		b = appendValue(b, v)
	}
	return append(b, '}')
}

func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		if v {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case json.Number:
		return append(b, v...)
	case string:
		return schema.AppendString(b, v)
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, e)
		}
		return append(b, ']')
	case *schema.Object:
		return appendObject(b, v)
	}
	panic("sqlitestore: appendValue of a value ParseDocument cannot produce")
}
