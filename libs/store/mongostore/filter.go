package mongostore

import (
	"regexp"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/opencloud/opencloud/libs/store"
)

// matchNothing is the filter of an empty Or: MongoDB refuses {$or: []}.
var matchNothing = bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{}}}}}

var mongoOps = map[store.Op]string{
	store.OpNe:  "$ne", // also true where the field is null or absent
	store.OpGt:  "$gt",
	store.OpGte: "$gte",
	store.OpLt:  "$lt",
	store.OpLte: "$lte",
}

// path returns where a declared field is stored.
func path(f field) string {
	switch f.name {
	case "id":
		return "_id"
	case "version":
		return "_v"
	}
	return f.name
}

// toFilter renders a compiled filter as a MongoDB query. On a StringArray
// field, MongoDB's equality already means "contains".
func toFilter(x cond) bson.D {
	switch x := x.(type) {
	case cmpCond:
		v := mongoValue(x.value)
		if x.op == store.OpEq {
			return bson.D{{Key: path(x.field), Value: v}}
		}
		return bson.D{{Key: path(x.field), Value: bson.D{{Key: mongoOps[x.op], Value: v}}}}
	case inCond:
		vs := make(bson.A, len(x.values))
		for i, v := range x.values {
			vs[i] = mongoValue(v)
		}
		return bson.D{{Key: path(x.field), Value: bson.D{{Key: "$in", Value: vs}}}}
	case andCond:
		return list("$and", x, bson.D{})
	case orCond:
		return list("$or", x, matchNothing)
	case textCond:
		return text(x)
	}
	return bson.D{} // nil: everything
}

func list(op string, xs []cond, empty bson.D) bson.D {
	if len(xs) == 0 {
		return empty
	}
	a := make(bson.A, len(xs))
	for i, x := range xs {
		a[i] = toFilter(x)
	}
	return bson.D{{Key: op, Value: a}}
}

// text matches every word, case-insensitively, in any text field.
func text(x textCond) bson.D {
	words := make(bson.A, len(x.words))
	for i, w := range x.words {
		re := bson.D{{Key: "$regex", Value: regexp.QuoteMeta(w)}, {Key: "$options", Value: "i"}}
		fields := make(bson.A, len(x.fields))
		for j, f := range x.fields {
			fields[j] = bson.D{{Key: path(f), Value: re}}
		}
		words[i] = bson.D{{Key: "$or", Value: fields}}
	}
	if len(words) == 0 {
		return bson.D{}
	}
	return bson.D{{Key: "$and", Value: words}}
}

// mongoValue converts a filter value as toBSON converts a document value.
func mongoValue(v any) any {
	if t, ok := v.(time.Time); ok {
		return primitive.NewDateTimeFromTime(t)
	}
	return v
}

// toSort renders sort keys, then _id so that ties come in id order.
func toSort(keys []sortKey) bson.D {
	d := make(bson.D, 0, len(keys)+1)
	seen := make(map[string]bool, len(keys)+1)
	for _, k := range slices.Concat(keys, []sortKey{{field: field{name: "id"}}}) {
		p := path(k.field)
		if seen[p] {
			continue // MongoDB refuses a key twice; the first one decides anyway
		}
		seen[p] = true
		dir := 1
		if k.desc {
			dir = -1
		}
		d = append(d, bson.E{Key: p, Value: dir})
	}
	return d
}
