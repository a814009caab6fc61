package mongostore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/opencloud/opencloud/libs/testenv"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

func TestProbeClaim(t *testing.T) {
	ctx := context.Background()
	uri := testenv.MongoURI(t)
	cl, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Disconnect(ctx)
	q := cl.Database("probe2").Collection("q")
	for round := 0; round < 5; round++ {
		q.DeleteMany(ctx, bson.D{})
		q.InsertOne(ctx, bson.D{{"_id", "a"}, {"_v", int64(1)}, {"b", true}})
		q.InsertOne(ctx, bson.D{{"_id", "x"}, {"_v", int64(1)}, {"b", true}})
		for _, mode := range []string{"fam", "update"} {
			id := "a"
			if mode == "update" {
				id = "x"
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins := 0
			errs := map[string]int{}
			for i := 0; i < 200; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var err error
					ok := false
					if mode == "fam" {
						r := q.FindOneAndUpdate(ctx, bson.D{{"_id", id}, {"b", true}}, bson.D{{"$set", bson.D{{"b", false}, {"w", i}}}, {"$inc", bson.D{{"_v", int64(1)}}}}, options.FindOneAndUpdate().SetReturnDocument(options.After))
						err = r.Err()
						ok = err == nil
					} else {
						var res *mongo.UpdateResult
						res, err = q.UpdateOne(ctx, bson.D{{"_id", id}, {"b", true}}, bson.D{{"$set", bson.D{{"b", false}, {"w", i}}}, {"$inc", bson.D{{"_v", int64(1)}}}})
						ok = err == nil && res.ModifiedCount == 1
					}
					mu.Lock()
					defer mu.Unlock()
					if ok {
						wins++
					} else if err != nil {
						errs[err.Error()]++
					}
				}()
			}
			wg.Wait()
			var raw bson.Raw
			q.FindOne(ctx, bson.D{{"_id", id}}).Decode(&raw)
			t.Logf("%s wins=%d errs=%v doc=%v", mode, wins, errs, raw)
		}
	}
}
