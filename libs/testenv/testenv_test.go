package testenv_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"
)

// TestMongoURIStopsWithTheTest starts a FerretDB of the test's own (no Main
// here), uses it, and checks it no longer answers once the test is over.
func TestMongoURIStopsWithTheTest(t *testing.T) {
	var uri string
	t.Run("use", func(t *testing.T) {
		uri = testenv.MongoURI(t)
		if err := ping(uri); err != nil {
			t.Fatalf("ping %s: %v", uri, err)
		}
	})
	if err := ping(uri); err == nil {
		t.Errorf("FerretDB at %s still answers after its test", uri)
	}
}

func ping(uri string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(uri).SetServerSelectionTimeout(time.Second))
	if err != nil {
		return err
	}
	defer func() { _ = client.Disconnect(ctx) }()
	return client.Ping(ctx, nil)
}

func TestStores(t *testing.T) {
	for name, open := range map[string]func(testing.TB) store.Store{
		"SQLite":  testenv.SQLiteStore,
		"MongoDB": testenv.MongoStore,
	} {
		t.Run(name, func(t *testing.T) {
			if err := open(t).Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}
