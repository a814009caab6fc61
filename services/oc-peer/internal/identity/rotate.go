package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/seal"
	"github.com/opencloud/opencloud/libs/store"
)

// historyID is the record of the key history after a rotation: the last
// signed self document (public), whose keys are the history.
const historyID = "history"

// keyRecordID is the record of a key made by a rotation.
func keyRecordID(keyID string) string { return "key-" + keyID }

type history struct {
	// Doc is the self document signed by the current key when it was
	// made current.
	Doc []byte `json:"doc"`
}

// Keys returns the key history stored by the last rotation (nil: none, the
// first key is the only one) and opens the current key.
func Keys(ctx context.Context, st store.Store, sealKey []byte, first *peerid.PrivateKey) ([]peerid.Key, *peerid.PrivateKey, error) {
	box, err := seal.New(sealKey, "opencloud peer keys")
	if err != nil {
		return nil, nil, err
	}
	col, err := st.Collection(ctx, Spec)
	if err != nil {
		return nil, nil, err
	}
	var h history
	if _, err := col.Get(ctx, historyID, &h); errors.Is(err, store.ErrNotFound) {
		return nil, first, nil
	} else if err != nil {
		return nil, nil, fmt.Errorf("identity: read the key history: %w", err)
	}
	doc, err := peerid.VerifySelfDoc(h.Doc)
	if err != nil || doc.ID != first.PeerID() {
		return nil, nil, fmt.Errorf("identity: the stored key history does not verify for this peer: %v", err)
	}
	cur := doc.Current()
	if cur.ID == first.KeyID() {
		return doc.Keys, first, nil
	}
	var rec record
	if _, err := col.Get(ctx, keyRecordID(cur.ID), &rec); err != nil {
		return nil, nil, fmt.Errorf("identity: read the current key %s: %w", cur.ID, err)
	}
	key, err := open(box, rec)
	if err != nil {
		return nil, nil, err
	}
	return doc.Keys, key, nil
}

// Rotate makes a new key, stores it sealed, adds it to doc (endorsed by
// current, which stays accepted until retireAt) and stores the history.
// It returns the new key; the caller signs with it from now on.
func Rotate(ctx context.Context, st store.Store, sealKey []byte, rnd io.Reader, doc *peerid.SelfDoc,
	current *peerid.PrivateKey, now, retireAt time.Time,
) (*peerid.PrivateKey, error) {
	box, err := seal.New(sealKey, "opencloud peer keys")
	if err != nil {
		return nil, err
	}
	col, err := st.Collection(ctx, Spec)
	if err != nil {
		return nil, err
	}
	next, err := peerid.GenerateKey(rnd)
	if err != nil {
		return nil, err
	}
	plain, err := next.MarshalBinary()
	if err != nil {
		return nil, err
	}
	sealed, err := box.Seal(plain, aad(next.KeyID()))
	clear(plain)
	if err != nil {
		return nil, err
	}
	// PeerID is the id the key itself would derive (open checks it); the
	// peer's id stays its first key's.
	rec := record{PeerID: string(next.PeerID()), KeyID: next.KeyID(), PublicKey: next.Public(), Sealed: sealed,
		SealKeyID: box.KeyID(), CreatedAt: now.UTC().Truncate(time.Second)}
	if _, err := col.Insert(ctx, keyRecordID(next.KeyID()), rec); err != nil {
		return nil, fmt.Errorf("identity: store the new key: %w", err)
	}
	rotated := *doc
	rotated.Keys = append([]peerid.Key(nil), doc.Keys...)
	if err := rotated.Rotate(current, next, now, retireAt); err != nil {
		return nil, err
	}
	signed, err := rotated.Sign(next, now)
	if err != nil {
		return nil, err
	}
	var old history
	v, err := col.Get(ctx, historyID, &old)
	switch {
	case errors.Is(err, store.ErrNotFound):
		_, err = col.Insert(ctx, historyID, history{Doc: signed})
	case err == nil:
		_, err = col.Replace(ctx, historyID, v, history{Doc: signed})
	}
	if err != nil {
		return nil, fmt.Errorf("identity: store the key history: %w", err)
	}
	*doc = rotated
	return next, nil
}
