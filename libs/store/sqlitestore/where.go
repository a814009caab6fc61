package sqlitestore

import (
	"strings"

	"github.com/opencloud/opencloud/libs/store"
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

func (c *collection) build(x cond) *builder {
	b := &builder{c: c}
	b.cond(x)
	return b
}

func (b *builder) cond(x cond) {
	switch x := x.(type) {
	case nil:
		b.sql.WriteString("1")
	case cmpCond:
		b.cmp(x)
	case inCond:
		b.in(x)
	case andCond:
		b.list(x, " AND ", "1")
	case orCond:
		b.list(x, " OR ", "0")
	case textCond:
		b.text(x)
	}
}

func (b *builder) cmp(x cmpCond) {
	if x.field.typ == store.StringArray {
		if x.op == store.OpNe {
			b.sql.WriteString("NOT ")
		}
		b.elements(x.field, []any{x.value})
		return
	}
	b.sql.WriteString(b.c.column(x.field))
	if x.value == nil {
		if x.op == store.OpEq {
			b.sql.WriteString(" IS NULL")
		} else {
			b.sql.WriteString(" IS NOT NULL")
		}
		return
	}
	b.sql.WriteString(" " + sqlOps[x.op] + " ?")
	b.args = append(b.args, sqlValue(x.value))
}

func (b *builder) in(x inCond) {
	switch {
	case len(x.values) == 0:
		b.sql.WriteString("0")
	case x.field.typ == store.StringArray:
		b.elements(x.field, x.values)
	default:
		b.sql.WriteString(b.c.column(x.field) + " IN (")
		b.params(x.values)
		b.sql.WriteString(")")
	}
}

// elements matches documents whose array field contains one of values,
// through the side table's (field, value, id) primary key.
func (b *builder) elements(f field, values []any) {
	b.sql.WriteString("id IN (SELECT id FROM " + b.c.arrays + " WHERE field = ? AND value IN (")
	b.args = append(b.args, f.name)
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

func (b *builder) list(xs []cond, sep, empty string) {
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
func (b *builder) text(x textCond) {
	if len(x.words) == 0 {
		b.sql.WriteString("1")
		return
	}
	b.sql.WriteString("(")
	for i, w := range x.words {
		if i > 0 {
			b.sql.WriteString(" AND ")
		}
		b.sql.WriteString("instr(search, ?) > 0")
		b.args = append(b.args, w)
	}
	b.sql.WriteString(")")
}
