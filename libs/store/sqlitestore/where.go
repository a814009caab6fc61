package sqlitestore

import (
	"strings"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/internal/schema"
)

// builder renders a compiled filter as an SQL condition. Identifiers come
// from the spec; every value is a ? parameter.
type builder struct {
	c    *collection
	sql  strings.Builder
	args []any
}

var sqlOps = map[store.Op]string{
	store.OpEq:  "=",
	store.OpNe:  "IS NOT", // like MongoDB's $ne, also true where the field is null or absent
	store.OpGt:  ">",
	store.OpGte: ">=",
	store.OpLt:  "<",
	store.OpLte: "<=",
}

func (c *collection) build(x schema.Cond) *builder {
	b := &builder{c: c}
	b.cond(x)
	return b
}

func (b *builder) cond(x schema.Cond) {
	switch x := x.(type) {
	case nil:
		b.sql.WriteString("1")
	case schema.CmpCond:
		b.cmp(x)
	case schema.InCond:
		b.in(x)
	case schema.AndCond:
		b.list(x, " AND ", "1")
	case schema.OrCond:
		b.list(x, " OR ", "0")
	case schema.TextCond:
		b.text(x)
	}
}

func (b *builder) cmp(x schema.CmpCond) {
	if x.Field.Type == store.StringArray {
		if x.Op == store.OpNe {
			b.sql.WriteString("NOT ")
		}
		b.elements(x.Field, []any{x.Value})
		return
	}
	b.sql.WriteString(b.c.column(x.Field))
	if x.Value == nil {
		if x.Op == store.OpEq {
			b.sql.WriteString(" IS NULL")
		} else {
			b.sql.WriteString(" IS NOT NULL")
		}
		return
	}
	b.sql.WriteString(" " + sqlOps[x.Op] + " ?")
	b.args = append(b.args, sqlValue(x.Value))
}

func (b *builder) in(x schema.InCond) {
	switch {
	case len(x.Values) == 0:
		b.sql.WriteString("0")
	case x.Field.Type == store.StringArray:
		b.elements(x.Field, x.Values)
	default:
		b.sql.WriteString(b.c.column(x.Field) + " IN (")
		b.params(x.Values)
		b.sql.WriteString(")")
	}
}

// elements matches documents whose array field contains one of values,
// through the side table's (field, value, id) primary key.
func (b *builder) elements(f schema.Field, values []any) {
	b.sql.WriteString("id IN (SELECT id FROM " + b.c.arrays + " WHERE field = ? AND value IN (")
	b.args = append(b.args, f.Name)
	b.params(values)
	b.sql.WriteString("))")
}

func (b *builder) params(values []any) {
	for i, v := range values {
		if i > 0 {
			b.sql.WriteString(", ")
		}
		b.sql.WriteString("?")
		b.args = append(b.args, sqlValue(v))
	}
}

func (b *builder) list(xs []schema.Cond, sep, empty string) {
	if len(xs) == 0 {
		b.sql.WriteString(empty)
		return
	}
	b.sql.WriteString("(")
	for i, x := range xs {
		if i > 0 {
			b.sql.WriteString(sep)
		}
		b.cond(x)
	}
	b.sql.WriteString(")")
}

// text matches every word as a substring of the lower-cased search column.
func (b *builder) text(x schema.TextCond) {
	if len(x.Words) == 0 {
		b.sql.WriteString("1")
		return
	}
	b.sql.WriteString("(")
	for i, w := range x.Words {
		if i > 0 {
			b.sql.WriteString(" AND ")
		}
		b.sql.WriteString("instr(search, ?) > 0")
		b.args = append(b.args, w)
	}
	b.sql.WriteString(")")
}
