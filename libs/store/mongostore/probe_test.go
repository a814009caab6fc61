package mongostore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/testenv"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

func TestProbe(t *testing.T) {
	ctx := context.Background()
	uri := testenv.MongoURI(t)
	cl, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Disconnect(ctx)
	db := cl.Database("probe")
	c := db.Collection("c")
	p := func(name string, err error) { t.Logf("%s: err=%v", name, err) }
	for _, d := range []bson.D{
		{{"_id", "k1"}, {"", 1}},
		{{"_id", "k2"}, {"a.b", 1}},
		{{"_id", "k3"}, {"$x", 1}},
		{{"_id", "k4"}, {"s", "a\x00b"}},
		{{"_id", "k5"}, {"s", "a\xffb"}},
		{{"_id", "k6"}, {"n", bson.D{{"$y", 1}}}},
		{{"_id", "k7"}, {"n", bson.D{{"y.z", 1}}}},
		{{"_id", "k8"}, {"n", bson.D{{"", 1}}}},
		{{"_id", "k9"}, {"x", 1}, {"x", 2}},
		{{"_id", "k10"}, {"big", 1e300}, {"neg0", -0.0}},
	} {
		_, err := c.InsertOne(ctx, d)
		p(fmt.Sprint("insert ", d), err)
	}
	var raw bson.Raw
	err = c.FindOne(ctx, bson.D{{"_id", "k4"}}).Decode(&raw)
	t.Logf("k4 %v %v", raw, err)
	err = c.FindOne(ctx, bson.D{{"_id", "k5"}}).Decode(&raw)
	t.Logf("k5 %v %v", raw, err)

	u := db.Collection("u")
	_, err = u.Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{"a", 1}}, Options: options.Index().SetName("a_u").SetUnique(true)},
		{Keys: bson.D{{"b", 1}, {"c", 1}}, Options: options.Index().SetName("bc_u").SetUnique(true)},
		{Keys: bson.D{{"tags", 1}}, Options: options.Index().SetName("tags")},
	})
	p("createIndexes", err)
	_, err = u.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{"s", 1}}, Options: options.Index().SetName("s_sparse").SetUnique(true).SetSparse(true)})
	p("sparse unique", err)
	_, err = u.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{"p", 1}}, Options: options.Index().SetName("p_partial").SetUnique(true).SetPartialFilterExpression(bson.D{{"p", bson.D{{"$exists", true}}}})})
	p("partial unique", err)
	_, err = u.Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{"a", 1}}, Options: options.Index().SetName("a_u").SetUnique(true)},
	})
	p("createIndexes again", err)
	_, err = u.Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{"a", 1}}, Options: options.Index().SetName("a_u")},
	})
	p("createIndexes conflicting", err)
	_, err = u.InsertOne(ctx, bson.D{{"_id", "1"}, {"a", 1}, {"b", 1}, {"tags", bson.A{"x", "Y"}}})
	p("u1", err)
	_, err = u.InsertOne(ctx, bson.D{{"_id", "2"}, {"a", 1}})
	p("u2 dup a", err)
	if we, ok := err.(mongo.WriteException); ok {
		t.Logf("write exception %+v dup=%v", we, mongo.IsDuplicateKeyError(err))
	}
	_, err = u.InsertOne(ctx, bson.D{{"_id", "1"}, {"a", 5}})
	p("u dup id", err)
	t.Logf("dup=%v", mongo.IsDuplicateKeyError(err))
	_, err = u.InsertOne(ctx, bson.D{{"_id", "3"}, {"a", 2}, {"b", 2}})
	p("u3 missing c", err)
	_, err = u.InsertOne(ctx, bson.D{{"_id", "4"}, {"a", 3}, {"b", 2}})
	p("u4 missing c, same b (compound dup?)", err)
	_, err = u.InsertOne(ctx, bson.D{{"_id", "5"}, {"b", 9}})
	p("u5 missing a", err)
	_, err = u.InsertOne(ctx, bson.D{{"_id", "6"}, {"b", 10}})
	p("u6 missing a again", err)
	_, err = u.ReplaceOne(ctx, bson.D{{"_id", "3"}}, bson.D{{"_id", "3"}, {"a", 1}})
	p("replace dup", err)
	t.Logf("dup=%v", mongo.IsDuplicateKeyError(err))
	r := u.FindOneAndUpdate(ctx, bson.D{{"_id", "3"}}, bson.D{{"$set", bson.D{{"a", 1}}}})
	p("fau dup", r.Err())
	t.Logf("dup=%v", mongo.IsDuplicateKeyError(r.Err()))

	cur, err := u.Indexes().List(ctx)
	p("listIndexes", err)
	var idx []bson.M
	cur.All(ctx, &idx)
	t.Logf("indexes %v", idx)
	_, err = u.Indexes().DropOne(ctx, "tags")
	p("drop", err)

	// queries
	q := db.Collection("q")
	now := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)
	docs := []any{
		bson.D{{"_id", "a"}, {"_v", int64(1)}, {"s", "Hello Wörld"}, {"tags", bson.A{"Red", "blue"}}, {"n", int64(5)}, {"f", 1.5}, {"t", now}, {"b", true}},
		bson.D{{"_id", "b"}, {"_v", int64(1)}, {"s", "ÄRGER"}, {"tags", bson.A{}}, {"n", int64(5)}, {"f", int64(2)}, {"t", now.Add(time.Hour)}, {"b", false}},
		bson.D{{"_id", "c"}, {"_v", int64(1)}, {"s", nil}, {"n", 7.0}},
		bson.D{{"_id", "d"}, {"_v", int64(1)}},
	}
	_, err = q.InsertMany(ctx, docs)
	p("insertMany", err)
	find := func(name string, f any, opts ...*options.FindOptions) {
		cur, err := q.Find(ctx, f, opts...)
		if err != nil {
			t.Logf("%s: ERR %v", name, err)
			return
		}
		var ids []string
		for cur.Next(ctx) {
			ids = append(ids, cur.Current.Lookup("_id").StringValue())
		}
		n, err := q.CountDocuments(ctx, f)
		t.Logf("%s: %v count=%d err=%v curErr=%v", name, ids, n, err, cur.Err())
	}
	find("regex i", bson.D{{"s", bson.D{{"$regex", "wö"}, {"$options", "i"}}}})
	find("regex i unicode", bson.D{{"s", bson.D{{"$regex", "WÖ"}, {"$options", "i"}}}})
	find("regex i unicode2", bson.D{{"s", bson.D{{"$regex", "ärg"}, {"$options", "i"}}}})
	find("regex array", bson.D{{"tags", bson.D{{"$regex", "RE"}, {"$options", "i"}}}})
	find("regex or", bson.D{{"$or", bson.A{bson.D{{"s", bson.D{{"$regex", "BLU"}, {"$options", "i"}}}}, bson.D{{"tags", bson.D{{"$regex", "BLU"}, {"$options", "i"}}}}}}})
	find("tags eq", bson.D{{"tags", "blue"}})
	find("tags ne", bson.D{{"tags", bson.D{{"$ne", "blue"}}}})
	find("tags in", bson.D{{"tags", bson.D{{"$in", bson.A{"blue", "zz"}}}}})
	find("tags nin", bson.D{{"tags", bson.D{{"$nin", bson.A{"blue", "zz"}}}}})
	find("s null", bson.D{{"s", nil}})
	find("s ne null", bson.D{{"s", bson.D{{"$ne", nil}}}})
	find("n eq 5", bson.D{{"n", int64(5)}})
	find("n ne 5", bson.D{{"n", bson.D{{"$ne", int64(5)}}}})
	find("n gt 5", bson.D{{"n", bson.D{{"$gt", int64(5)}}}})
	find("f gte 1.6", bson.D{{"f", bson.D{{"$gte", 1.6}}}})
	find("f lt 2", bson.D{{"f", bson.D{{"$lt", int64(2)}}}})
	find("t gt now", bson.D{{"t", bson.D{{"$gt", now}}}})
	find("t gte now", bson.D{{"t", bson.D{{"$gte", now}}}})
	find("t lt now+1ns", bson.D{{"t", bson.D{{"$lte", now.Add(time.Nanosecond)}}}})
	find("b false", bson.D{{"b", false}})
	find("b ne true", bson.D{{"b", bson.D{{"$ne", true}}}})
	find("s gt A", bson.D{{"s", bson.D{{"$gt", "A"}}}})
	find("in []", bson.D{{"n", bson.D{{"$in", bson.A{}}}}})
	find("or []", bson.D{{"$or", bson.A{}}})
	find("and []", bson.D{{"$and", bson.A{}}})
	find("nor", bson.D{{"$nor", bson.A{bson.D{{"n", int64(5)}}}}})
	find("id in", bson.D{{"_id", bson.D{{"$in", bson.A{"a", "c"}}}}})
	find("type string", bson.D{{"s", bson.D{{"$type", "string"}}}})
	find("expr false", bson.D{{"_id", bson.D{{"$in", bson.A{}}}}})
	find("sort n desc", bson.D{}, options.Find().SetSort(bson.D{{"n", -1}, {"_id", 1}}))
	find("sort n asc", bson.D{}, options.Find().SetSort(bson.D{{"n", 1}, {"_id", 1}}))
	find("sort n asc skip limit", bson.D{}, options.Find().SetSort(bson.D{{"n", 1}, {"_id", 1}}).SetSkip(1).SetLimit(2))
	find("sort s asc", bson.D{}, options.Find().SetSort(bson.D{{"s", 1}, {"_id", -1}}))
	n, err := q.CountDocuments(ctx, bson.D{}, options.Count().SetSkip(1).SetLimit(1))
	t.Logf("count skip limit %d %v", n, err)

	// claim
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	errs := map[string]int{}
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := q.FindOneAndUpdate(ctx, bson.D{{"_id", "a"}, {"b", true}}, bson.D{{"$set", bson.D{{"b", false}, {"w", i}}}, {"$inc", bson.D{{"_v", int64(1)}}}}, options.FindOneAndUpdate().SetReturnDocument(options.After).SetProjection(bson.D{{"_v", 1}}))
			mu.Lock()
			defer mu.Unlock()
			if r.Err() == nil {
				wins++
			} else {
				errs[r.Err().Error()]++
			}
		}()
	}
	wg.Wait()
	t.Logf("wins=%d errs=%v", wins, errs)
	err = q.FindOne(ctx, bson.D{{"_id", "a"}}).Decode(&raw)
	t.Logf("a=%v", raw)
	res, err := q.ReplaceOne(ctx, bson.D{{"_id", "a"}, {"_v", int64(1)}}, bson.D{{"_id", "a"}, {"_v", int64(2)}})
	t.Logf("replace stale %+v %v", res, err)
	err = db.Drop(ctx)
	p("drop db", err)
}
