package mongostore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsontype"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/mongostore"
	"github.com/opencloud/opencloud/libs/store/storetest"
	"github.com/opencloud/opencloud/libs/testenv"
)

// TestMain shares one FerretDB among the tests of the package.
func TestMain(m *testing.M) { testenv.Main(m) }

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return testenv.MongoStore(t) })
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store { return testenv.MongoStore(b) })
}

func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := mongostore.Open(ctx, "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500", "x", nil); err == nil {
		t.Error("Open on a closed port: no error")
	}
}

// TestSpecChangesOnRestart declares a Time field and an index on documents
// written without them: the times become dates, so ranges compare instants.
func TestSpecChangesOnRestart(t *testing.T) {
	ctx := context.Background()
	uri := testenv.MongoURI(t)
	const db = "restart"
	at := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	open := func(spec store.Spec) store.Collection {
		s, err := mongostore.Open(ctx, uri, db, testenv.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close(ctx) })
		c, err := s.Collection(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Cleanup(func() { dropDatabase(t, uri, db) })

	v1 := open(store.Spec{Name: "jobs", Fields: []store.Field{{Name: "name", Type: store.String}},
		Indexes: []store.Index{{Fields: []string{"name"}, Unique: true}}})
	for id, doc := range map[string]map[string]any{
		"a": {"name": "one", "at": at.In(time.FixedZone("X", 3600))},
		"b": {"name": "two", "at": at.Add(time.Hour)},
		"c": {"name": "three", "at": "soon"},
	} {
		if _, err := v1.Insert(ctx, id, doc); err != nil {
			t.Fatal(err)
		}
	}

	v2 := open(store.Spec{Name: "jobs", Fields: []store.Field{{Name: "name", Type: store.String}, {Name: "at", Type: store.Time}}})
	recs, _, err := v2.Find(ctx, store.Query{Filter: store.Gte("at", at), Sort: []store.Sort{{Field: "at", Desc: true}}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, []string{"b", "a"}) {
		t.Errorf("Find on the new Time field: %v, want [b a]", ids)
	}
	// The unique index is gone with the spec that asked for it.
	if _, err := v2.Insert(ctx, "d", map[string]any{"name": "one"}); err != nil {
		t.Errorf("insert after the unique index was dropped: %v", err)
	}
}

func dropDatabase(t *testing.T, uri, db string) {
	ctx := context.Background()
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(ctx) }()
	if err := client.Database(db).Drop(ctx); err != nil {
		t.Error(err)
	}
}

// TestStoredForm checks the documented layout, which operators and
// migrations rely on.
func TestStoredForm(t *testing.T) {
	ctx := context.Background()
	uri := testenv.MongoURI(t)
	const db = "storedform"
	t.Cleanup(func() { dropDatabase(t, uri, db) })
	s, err := mongostore.Open(ctx, uri, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close(ctx) }()
	c, err := s.Collection(ctx, store.Spec{Name: "jobs", Fields: []store.Field{{Name: "at", Type: store.Time}}})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 5, 1, 0, 0, 0, 123_456_789, time.UTC)
	if _, err := c.Insert(ctx, "a", map[string]any{"n": 1, "x": 1.5, "at": at, "s": "str"}); err != nil {
		t.Fatal(err)
	}
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(ctx) }()
	raw, err := client.Database(db).Collection("jobs").FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bsontype.Type{
		"_id": bson.TypeString, "_v": bson.TypeInt64, "n": bson.TypeInt64,
		"x": bson.TypeDouble, "at": bson.TypeDateTime, "s": bson.TypeString,
	} {
		if got := raw.Lookup(key).Type; got != want {
			t.Errorf("%s stored as %s, want %s", key, got, want)
		}
	}
	var got struct {
		At time.Time `json:"at"`
	}
	if _, err := c.Get(ctx, "a", &got); err != nil || !got.At.Equal(at.Truncate(time.Millisecond)) {
		t.Errorf("at read back as %v (%v), want %v to the millisecond", got.At, err, at)
	}
}

// TestOpenCollectionTwice: a second process (a command run beside the
// service, a restart) opens a collection whose indexes exist already.
func TestOpenCollectionTwice(t *testing.T) {
	ctx := context.Background()
	uri := testenv.MongoURI(t)
	const db = "twice"
	t.Cleanup(func() { dropDatabase(t, uri, db) })
	spec := store.Spec{Name: "twice", Fields: []store.Field{{Name: "name", Type: store.String}, {Name: "n", Type: store.Int}},
		Indexes: []store.Index{{Fields: []string{"name"}, Unique: true}, {Fields: []string{"n"}}}}
	for i := range 3 {
		s, err := mongostore.Open(ctx, uri, db, testenv.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.Collection(ctx, spec)
		if err != nil {
			t.Fatalf("open %d: %v", i+1, err)
		}
		if _, err := c.Insert(ctx, fmt.Sprint(i), map[string]any{"name": fmt.Sprint("x", i), "n": i}); err != nil {
			t.Fatalf("insert after open %d: %v", i+1, err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
