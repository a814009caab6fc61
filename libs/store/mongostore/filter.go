package mongostore

import (
	"regexp"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/internal/schema"
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
func path(f schema.Field) string {
	switch f.Name {
	case "id":
		return "_id"
	case "version":
		return "_v"
	}
	return f.Name
}

// toFilter renders a compiled filter as a MongoDB query. On a StringArray
// field, MongoDB's equality already means "contains".
func toFilter(x schema.Cond) bson.D {
	switch x := x.(type) {
	case schema.CmpCond:
		v := mongoValue(x.Value)
		if x.Op == store.OpEq {
			return bson.D{{Key: path(x.Field), Value: v}}
		}
		return bson.D{{Key: path(x.Field), Value: bson.D{{Key: mongoOps[x.Op], Value: v}}}}
	case schema.InCond:
		vs := make(bson.A, len(x.Values))
		for i, v := range x.Values {
			vs[i] = mongoValue(v)
		}
		return bson.D{{Key: path(x.Field), Value: bson.D{{Key: "$in", Value: vs}}}}
	case schema.AndCond:
		return list("$and", x, bson.D{})
	case schema.OrCond:
		return list("$or", x, matchNothing)
	case schema.TextCond:
		return text(x)
	}
	return bson.D{} // nil: everything
}

func list(op string, xs []schema.Cond, empty bson.D) bson.D {
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
func text(x schema.TextCond) bson.D {
	words := make(bson.A, len(x.Words))
	for i, w := range x.Words {
		re := bson.D{{Key: "$regex", Value: regexp.QuoteMeta(w)}, {Key: "$options", Value: "i"}}
		fields := make(bson.A, len(x.Fields))
		for j, f := range x.Fields {
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
func toSort(keys []schema.SortKey) bson.D {
	d := make(bson.D, 0, len(keys)+1)
	seen := make(map[string]bool, len(keys)+1)
	for _, k := range slices.Concat(keys, []schema.SortKey{{Field: schema.Field{Name: "id"}}}) {
		p := path(k.Field)
		if seen[p] {
			continue // MongoDB refuses a key twice; the first one decides anyway
		}
		seen[p] = true
		dir := 1
		if k.Desc {
			dir = -1
		}
		d = append(d, bson.E{Key: p, Value: dir})
	}
	return d
}
