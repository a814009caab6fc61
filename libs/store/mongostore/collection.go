package mongostore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/internal/schema"
)

// indexPrefix marks the indexes the store manages, so it drops only its own.
const indexPrefix = "store:"

// collection is a MongoDB collection with a validated spec.
type collection struct {
	store  *Store
	schema *schema.Schema
	coll   *mongo.Collection
}

var _ store.Collection = (*collection)(nil)

// Insert stores doc under id with version 1.
func (c *collection) Insert(ctx context.Context, id string, doc any) (int64, error) {
	if err := schema.CheckID(id); err != nil {
		return 0, c.errorf("insert", id, err)
	}
	o, vals, err := c.encode(doc)
	if err != nil {
		return 0, c.errorf("insert", id, err)
	}
	if _, err := c.coll.InsertOne(ctx, toBSON(id, 1, o, vals)); err != nil {
		return 0, c.errorf("insert", id, err)
	}
	return 1, nil
}

// Get decodes the document into out (unless out is nil) and returns its version.
func (c *collection) Get(ctx context.Context, id string, out any) (int64, error) {
	raw, err := c.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if err != nil {
		return 0, c.errorf("get", id, err)
	}
	r, err := toRecord(raw)
	if err != nil {
		return 0, c.errorf("get", id, err)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			return 0, c.errorf("get", id, err)
		}
	}
	return r.Version, nil
}

// Replace overwrites the document if its stored version is version.
func (c *collection) Replace(ctx context.Context, id string, version int64, doc any) (int64, error) {
	o, vals, err := c.encode(doc)
	if err != nil {
		return 0, c.errorf("replace", id, err)
	}
	defer c.lock(id)()
	filter := bson.D{{Key: "_id", Value: id}, {Key: "_v", Value: version}}
	res, err := c.coll.ReplaceOne(ctx, filter, toBSON(id, version+1, o, vals))
	if err == nil && res.MatchedCount == 0 {
		err = c.missing(ctx, id, store.ErrVersionConflict)
	}
	if err != nil {
		return 0, c.errorf("replace", id, err)
	}
	return version + 1, nil
}

// UpdateIf sets top-level fields of the document if it matches cond, in one
// findOneAndUpdate: MongoDB applies it atomically.
func (c *collection) UpdateIf(ctx context.Context, id string, cond store.Filter, set map[string]any) (int64, error) {
	cnd, err := c.schema.CompileFilter(cond)
	if err != nil {
		return 0, c.errorf("update", id, err)
	}
	fields, err := schema.EncodeSet(set)
	if err != nil {
		return 0, c.errorf("update", id, err)
	}
	// Declared fields under the set keys are checked and converted as in a
	// whole document; the others are absent from fields and read as null.
	vals, err := c.schema.Values(fields)
	if err != nil {
		return 0, c.errorf("update", id, err)
	}
	update := bson.D{{Key: "$inc", Value: bson.D{{Key: "_v", Value: int64(1)}}}}
	if fields.Len() > 0 { // MongoDB refuses an empty $set
		update = append(update, bson.E{Key: "$set", Value: appendFields(nil, fields, "", vals)})
	}
	filter := bson.D{{Key: "$and", Value: bson.A{bson.D{{Key: "_id", Value: id}}, toFilter(cnd)}}}
	opts := options.FindOneAndUpdate().SetReturnDocument(options.After)

	defer c.lock(id)()
	raw, err := c.coll.FindOneAndUpdate(ctx, filter, update, opts).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		err = c.missing(ctx, id, store.ErrConditionFailed)
	}
	if err != nil {
		return 0, c.errorf("update", id, err)
	}
	version, ok := raw.Lookup("_v").AsInt64OK()
	if !ok {
		return 0, c.errorf("update", id, fmt.Errorf("%w: no _v", errUnsupported))
	}
	return version, nil
}

// Delete removes the document; version 0 deletes whatever version is stored.
func (c *collection) Delete(ctx context.Context, id string, version int64) error {
	filter := bson.D{{Key: "_id", Value: id}}
	if version != 0 {
		filter = append(filter, bson.E{Key: "_v", Value: version})
	}
	defer c.lock(id)()
	res, err := c.coll.DeleteOne(ctx, filter)
	if err == nil && res.DeletedCount == 0 {
		err = c.missing(ctx, id, store.ErrVersionConflict)
	}
	if err != nil {
		return c.errorf("delete", id, err)
	}
	return nil
}

// Find returns one page of the matching documents and the number of matches.
// The page and the total are two queries, so a concurrent write may make
// them disagree by that write.
func (c *collection) Find(ctx context.Context, q store.Query) ([]store.Record, int64, error) {
	cnd, keys, err := c.schema.CompileQuery(q)
	if err != nil {
		return nil, 0, c.errorf("find", "", err)
	}
	filter := toFilter(cnd)
	opts := options.Find().SetSort(toSort(keys)).SetSkip(int64(q.Offset))
	if q.Limit > 0 {
		opts.SetLimit(int64(q.Limit))
	}
	records, err := c.records(ctx, filter, opts)
	if err != nil {
		return nil, 0, c.errorf("find", "", err)
	}
	n := len(records)
	if (q.Limit == 0 || n < q.Limit) && (n > 0 || q.Offset == 0) {
		return records, int64(q.Offset + n), nil // the last page: no need to count
	}
	total, err := c.coll.CountDocuments(ctx, filter)
	if err != nil {
		return nil, 0, c.errorf("find", "", err)
	}
	return records, total, nil
}

// Count returns how many documents match f.
func (c *collection) Count(ctx context.Context, f store.Filter) (int64, error) {
	cnd, err := c.schema.CompileFilter(f)
	if err != nil {
		return 0, c.errorf("count", "", err)
	}
	n, err := c.coll.CountDocuments(ctx, toFilter(cnd))
	if err != nil {
		return 0, c.errorf("count", "", err)
	}
	return n, nil
}

func (c *collection) records(ctx context.Context, filter bson.D, opts *options.FindOptions) ([]store.Record, error) {
	cur, err := c.coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, err
	}
	defer func() { _ = cur.Close(ctx) }()
	records := []store.Record{}
	for cur.Next(ctx) {
		r, err := toRecord(cur.Current)
		if err != nil {
			return nil, err
		}
		records = append(records, r)
	}
	return records, cur.Err()
}

// lock serialises the writes to document id where the server does not (see
// ferretdb.go) and returns the unlock.
func (c *collection) lock(id string) func() {
	return c.store.locks.lock(c.store.db.Name(), c.schema.Spec().Name, id)
}

// encode validates doc and returns it with its declared values.
func (c *collection) encode(doc any) (*schema.Object, map[string]any, error) {
	o, err := schema.EncodeDocument(doc)
	if err != nil {
		return nil, nil, err
	}
	vals, err := c.schema.Values(o)
	if err != nil {
		return nil, nil, err
	}
	return o, vals, nil
}

// missing tells why a write matched no document: ErrNotFound if id does not
// exist, otherwise ifExists.
func (c *collection) missing(ctx context.Context, id string, ifExists error) error {
	opts := options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})
	err := c.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, opts).Err()
	if err == nil {
		return ifExists
	}
	return err // mongo.ErrNoDocuments: errorf makes it ErrNotFound
}

// errorf wraps err with the operation and the document, turning the
// driver's answers into the store's sentinel errors.
func (c *collection) errorf(op, id string, err error) error {
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		err = store.ErrNotFound
	case isDuplicate(err):
		err = fmt.Errorf("%w: %w", store.ErrDuplicate, err)
	}
	if id == "" {
		return fmt.Errorf("mongostore: %s %s: %w", op, c.schema.Spec().Name, err)
	}
	return fmt.Errorf("mongostore: %s %s/%s: %w", op, c.schema.Spec().Name, id, err)
}

// migrate brings the collection's indexes in line with the spec and converts
// values of declared Time fields that are still strings (declared after the
// documents were written) to dates.
func (c *collection) migrate(ctx context.Context) error {
	if err := c.syncIndexes(ctx); err != nil {
		return err
	}
	for _, f := range c.schema.Fields() {
		if f.Type == store.Time {
			if err := c.convertTimes(ctx, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// syncIndexes creates an index per declared field and per Spec index, and
// drops the store's indexes the spec no longer asks for. An index name spells
// its definition out ("store:state+at:unique"), so a changed definition gets
// a new name.
func (c *collection) syncIndexes(ctx context.Context) error {
	want := c.indexes()
	cur, err := c.coll.Indexes().List(ctx)
	if err != nil {
		return err
	}
	var existing []struct {
		Name string `bson:"name"`
	}
	if err := cur.All(ctx, &existing); err != nil {
		return err
	}
	for _, ix := range existing {
		if _, ok := want[ix.Name]; ok || !strings.HasPrefix(ix.Name, indexPrefix) {
			continue
		}
		if _, err := c.coll.Indexes().DropOne(ctx, ix.Name); err != nil {
			return err
		}
		c.store.log.InfoContext(ctx, "mongostore: dropped index", "collection", c.schema.Spec().Name, "index", ix.Name)
	}
	have := make(map[string]bool, len(existing))
	for _, ix := range existing {
		have[ix.Name] = true
	}
	// An index's name says its fields and uniqueness, so one that exists is
	// the one wanted. Asking for it again is a no-op on MongoDB, but FerretDB
	// 1.18 fails on a collection opened a second time.
	models := make([]mongo.IndexModel, 0, len(want))
	for name, m := range want {
		if !have[name] {
			models = append(models, m)
		}
	}
	if len(models) == 0 {
		return nil
	}
	_, err = c.coll.Indexes().CreateMany(ctx, models)
	return err
}

func (c *collection) indexes() map[string]mongo.IndexModel {
	want := make(map[string]mongo.IndexModel)
	add := func(fields []string, unique bool) {
		name, keys := indexPrefix+strings.Join(fields, "+"), make(bson.D, len(fields))
		for i, f := range fields {
			sf, _ := c.schema.Field(f) // Compile checked that index fields are declared
			keys[i] = bson.E{Key: path(sf), Value: 1}
		}
		opts := options.Index()
		if unique {
			name += ":unique"
			opts.SetUnique(true).SetSparse(true)
		}
		want[name] = mongo.IndexModel{Keys: keys, Options: opts.SetName(name)}
	}
	single := map[string]bool{"id": true} // _id has its index
	for _, ix := range c.schema.Spec().Indexes {
		if len(ix.Fields) == 1 {
			if single[ix.Fields[0]] {
				continue
			}
			single[ix.Fields[0]] = true
		}
		add(ix.Fields, ix.Unique)
	}
	// MongoDB refuses two indexes on the same keys: a field with an index
	// of its own in the spec needs no other.
	for _, f := range c.schema.Fields() {
		if !single[f.Name] {
			add([]string{f.Name}, false)
		}
	}
	return want
}

// convertTimes rewrites string values of Time field f as dates. Values that
// are not RFC 3339 are left alone (they match no time query) and logged.
func (c *collection) convertTimes(ctx context.Context, f schema.Field) error {
	cur, err := c.coll.Find(ctx, bson.D{{Key: f.Name, Value: bson.D{{Key: "$type", Value: "string"}}}})
	if err != nil {
		return err
	}
	defer func() { _ = cur.Close(ctx) }()
	var converted, invalid int
	for cur.Next(ctx) {
		id := cur.Current.Lookup("_id")
		s, ok := cur.Current.Lookup(f.Path...).StringValueOK()
		t, err := time.Parse(time.RFC3339Nano, s)
		if !ok || err != nil {
			invalid++
			continue
		}
		filter := bson.D{{Key: "_id", Value: id}, {Key: f.Name, Value: s}}
		update := bson.D{{Key: "$set", Value: bson.D{{Key: f.Name, Value: primitive.NewDateTimeFromTime(t)}}}}
		if _, err := c.coll.UpdateOne(ctx, filter, update); err != nil {
			return err
		}
		converted++
	}
	if converted > 0 || invalid > 0 {
		c.store.log.InfoContext(ctx, "mongostore: converted time strings to dates", "collection", c.schema.Spec().Name,
			"field", f.Name, "converted", converted, "not_rfc3339", invalid)
	}
	return cur.Err()
}
