package mongostore

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/internal/schema"
)

// toBSON returns the stored form of a document: _id, _v, then its fields.
// vals are its declared values (Schema.Values): Time fields become dates.
func toBSON(id string, version int64, o *schema.Object, vals map[string]any) bson.D {
	d := make(bson.D, 0, o.Len()+2)
	d = append(d, bson.E{Key: "_id", Value: id}, bson.E{Key: "_v", Value: version})
	return appendFields(d, o, "", vals)
}

// appendFields appends the fields of o, whose path in the document is
// prefix, converting the values of declared Time fields to dates.
func appendFields(d bson.D, o *schema.Object, prefix string, vals map[string]any) bson.D {
	for k, v := range o.All() {
		path := prefix + k
		if t, ok := vals[path].(time.Time); ok {
			d = append(d, bson.E{Key: k, Value: primitive.NewDateTimeFromTime(t)})
			continue
		}
		d = append(d, bson.E{Key: k, Value: bsonValue(v, path+".", vals)})
	}
	return d
}

func bsonValue(v any, prefix string, vals map[string]any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64() // ParseDocument checked the range
		return f
	case []any:
		a := make(bson.A, len(v))
		for i, e := range v {
			a[i] = bsonValue(e, "", nil) // declared paths never cross arrays
		}
		return a
	case *schema.Object:
		return appendFields(make(bson.D, 0, v.Len()), v, prefix, vals)
	}
	return v // nil, bool, string
}

// errUnsupported is a stored value that no JSON written by the store
// produces: the document was written by something else.
var errUnsupported = errors.New("unsupported BSON value")

// toRecord converts a stored document back to the store's JSON: "id" and
// "version" first, then its fields in order, dates as RFC 3339 strings.
func toRecord(raw bson.Raw) (store.Record, error) {
	var r store.Record
	id, ok := raw.Lookup("_id").StringValueOK()
	if !ok {
		return r, fmt.Errorf("%w: _id is not a string", errUnsupported)
	}
	version, ok := raw.Lookup("_v").AsInt64OK()
	if !ok {
		return r, fmt.Errorf("%w: document %s has no _v", errUnsupported, id)
	}
	b := make([]byte, 0, len(raw)+16)
	b = append(b, `{"id":`...)
	b = schema.AppendString(b, id)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, version, 10)
	elems, err := raw.Elements()
	if err != nil {
		return r, err
	}
	for _, e := range elems {
		if k := e.Key(); k != "_id" && k != "_v" {
			b = append(schema.AppendString(append(b, ','), k), ':')
			if b, err = appendJSON(b, e.Value()); err != nil {
				return r, fmt.Errorf("document %s, field %s: %w", id, k, err)
			}
		}
	}
	return store.Record{ID: id, Version: version, Data: append(b, '}')}, nil
}

// appendJSON appends a stored value as JSON.
func appendJSON(b []byte, v bson.RawValue) ([]byte, error) {
	switch v.Type {
	case bson.TypeNull:
		return append(b, "null"...), nil
	case bson.TypeBoolean:
		return strconv.AppendBool(b, v.Boolean()), nil
	case bson.TypeString:
		return schema.AppendString(b, v.StringValue()), nil
	case bson.TypeInt32, bson.TypeInt64:
		return strconv.AppendInt(b, v.AsInt64(), 10), nil
	case bson.TypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%w: %v", errUnsupported, f)
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64), nil
	case bson.TypeDateTime:
		t := time.UnixMilli(v.DateTime()).UTC()
		return schema.AppendString(b, t.Format(time.RFC3339Nano)), nil
	case bson.TypeEmbeddedDocument:
		return appendDocument(b, v.Document(), '{', '}', true)
	case bson.TypeArray:
		return appendDocument(b, v.Array(), '[', ']', false)
	}
	return nil, fmt.Errorf("%w: type %s", errUnsupported, v.Type)
}

func appendDocument(b []byte, doc bson.Raw, open, closing byte, keys bool) ([]byte, error) {
	elems, err := doc.Elements()
	if err != nil {
		return nil, err
	}
	b = append(b, open)
	for i, e := range elems {
		if i > 0 {
			b = append(b, ',')
		}
		if keys {
			b = append(schema.AppendString(b, e.Key()), ':')
		}
		if b, err = appendJSON(b, e.Value()); err != nil {
			return nil, err
		}
	}
	return append(b, closing), nil
}
