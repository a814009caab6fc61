package mongostore

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
)

// FerretDB v1.18 (the tests' MongoDB) differs from MongoDB in two ways that
// matter here:
//
//   - findAndModify and update read the matching document, then write it back
//     by _id without re-checking the filter, so two concurrent conditional
//     writes can both succeed. The store therefore serialises its own writes
//     to a document in-process (docLocks), across all the stores of the
//     process. On MongoDB the server's atomicity suffices and no lock is taken.
//   - a unique-index violation on update is reported as InternalError with
//     SQLite's message rather than as DuplicateKey (11000).

// isFerretDB reports whether the server is FerretDB: its buildInfo carries
// a ferretdbVersion.
func isFerretDB(ctx context.Context, db *mongo.Database) (bool, error) {
	var info bson.Raw
	if err := db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false, err
	}
	_, err := info.LookupErr("ferretdbVersion")
	return err == nil, nil
}

// docLocks serialises the writes to any one document, by hashing the
// collection and id onto a fixed set of mutexes.
type docLocks struct {
	seed    maphash.Seed
	stripes [256]sync.Mutex
}

// ferretLocks are the locks of every store of the process on FerretDB, so
// that two services sharing a collection in one test also exclude each other.
var ferretLocks = &docLocks{seed: maphash.MakeSeed()}

// lock locks the stripe of the document and returns its unlock. On a nil
// *docLocks (MongoDB) it does nothing.
func (l *docLocks) lock(database, collection, id string) (unlock func()) {
	if l == nil {
		return func() {}
	}
	var h maphash.Hash
	h.SetSeed(l.seed)
	for _, s := range []string{database, collection, id} {
		h.WriteString(s)
		h.WriteByte(0)
	}
	m := &l.stripes[h.Sum64()%uint64(len(l.stripes))]
	m.Lock()
	return m.Unlock
}

// isDuplicate reports whether err is a unique-index violation.
func isDuplicate(err error) bool {
	if mongo.IsDuplicateKeyError(err) {
		return true
	}
	const internalError = 1 // FerretDB's code for a violation on update
	var se mongo.ServerError
	return errors.As(err, &se) && se.HasErrorCode(internalError) && se.HasErrorMessage("UNIQUE constraint failed")
}
