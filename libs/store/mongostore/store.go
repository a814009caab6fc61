// Package mongostore is the MongoDB backend of the store API, used by the
// compose and production deployments.
//
// A document is stored with the id as _id and the version as _v, followed by
// its JSON fields in order: integral numbers as int64, other numbers as
// double, declared Time fields as BSON dates (millisecond precision, so that
// ranges and sorts compare instants). On read, dates become RFC 3339 UTC
// strings again. Every declared field gets an index, as does every Spec
// index; unique indexes are sparse, so documents lacking a unique field do
// not collide (as on SQLite).
//
// The backend uses plain CRUD, findOneAndUpdate and indexes only, so that it
// also runs on FerretDB v1, the MongoDB stand-in of the tests (see ferretdb.go
// for the two FerretDB quirks it works around).
package mongostore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/internal/schema"
)

// Store is a MongoDB database holding collections. It is safe for concurrent use.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
	log    *slog.Logger
	locks  *docLocks // non-nil on FerretDB only

	mu          sync.Mutex
	collections map[string]*collection
}

var _ store.Store = (*Store)(nil)

// Open connects to the MongoDB server at uri and uses database. log may be nil.
func Open(ctx context.Context, uri, database string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		return nil, fmt.Errorf("mongostore: connect: %w", err)
	}
	s := &Store{
		client:      client,
		db:          client.Database(database),
		log:         log,
		collections: make(map[string]*collection),
	}
	ferret, err := isFerretDB(ctx, s.db)
	if err != nil {
		_ = client.Disconnect(ctx)
		return nil, fmt.Errorf("mongostore: connect: %w", err)
	}
	if ferret {
		s.locks = ferretLocks
		log.InfoContext(ctx, "mongostore: FerretDB detected; serialising conditional writes in-process")
	}
	return s, nil
}

// Collection creates the collection's indexes if needed and returns it.
// Reopening a name with the same spec returns the same collection; with
// another spec it is an error. Indexes the spec no longer asks for are
// dropped, and values of newly declared Time fields converted to dates.
func (s *Store) Collection(ctx context.Context, spec store.Spec) (store.Collection, error) {
	sc, err := schema.Compile(spec)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.collections[spec.Name]; ok {
		if !schema.SpecEqual(c.schema.Spec(), spec) {
			return nil, fmt.Errorf("mongostore: collection %s already opened with another spec", spec.Name)
		}
		return c, nil
	}
	c := &collection{store: s, schema: sc, coll: s.db.Collection(spec.Name)}
	if err := c.migrate(ctx); err != nil {
		return nil, c.errorf("open", "", err)
	}
	s.collections[spec.Name] = c
	return c, nil
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, nil); err != nil {
		return fmt.Errorf("mongostore: ping: %w", err)
	}
	return nil
}

// Close disconnects, waiting for in-flight operations until ctx is done.
func (s *Store) Close(ctx context.Context) error {
	if err := s.client.Disconnect(ctx); err != nil {
		return fmt.Errorf("mongostore: close: %w", err)
	}
	return nil
}
