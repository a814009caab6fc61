// Package identity keeps this peer's Ed25519 key pair, from which its peer
// id is derived (libs/peerid). The key is made on the first start and
// stored sealed (AES-256-GCM, libs/seal) under a key the store does not
// hold: a copy of the store cannot speak for the peer.
package identity

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/seal"
	"github.com/opencloud/opencloud/libs/store"
)

// KeySize is the length of the key sealing the peer's private key: AES-256.
const KeySize = seal.KeySize

// ErrUnreadable is returned when the stored key does not open with the
// configured sealing key: the sealing key was changed, or the record
// damaged.
var ErrUnreadable = errors.New("the stored peer key cannot be decrypted with the configured sealing key")

// Spec is the collection holding the peer's keys.
var Spec = store.Spec{
	Name:   "peer_keys",
	Fields: []store.Field{{Name: "created_at", Type: store.Time}},
}

// firstKeyID is the record of the key the peer id is derived from. One
// fixed id makes the first start a conditional insert: of two processes
// starting together on one store, one inserts and the other reads its key.
const firstKeyID = "first"

// record is a stored key. The private key is a secret: record's String and
// LogValue show the key id only.
type record struct {
	PeerID    string `json:"peer_id"`
	KeyID     string `json:"key_id"`
	PublicKey []byte `json:"public_key"`
	// Sealed is peerid's binary form of the private key, sealed under the
	// key SealKeyID names and bound to the key id.
	Sealed    []byte    `json:"sealed_private_key"`
	SealKeyID string    `json:"seal_key_id"`
	CreatedAt time.Time `json:"created_at"`
}

func (r record) String() string       { return "peer key " + r.KeyID }
func (r record) LogValue() slog.Value { return slog.StringValue(r.KeyID) }
func (r record) GoString() string     { return r.String() }

// Identity is this peer's key and when it was made.
type Identity struct {
	Key       *peerid.PrivateKey
	CreatedAt time.Time
}

// aad binds a sealed private key to its key id, so that a sealed key copied
// into another record does not open.
func aad(keyID string) []byte { return []byte("peer-key/" + keyID) }

// Ensure returns the peer's key, making and storing it when the store has
// none. sealKey (KeySize bytes) seals it; rnd draws a new key (nil:
// crypto/rand). created tells whether this call made the key.
func Ensure(ctx context.Context, st store.Store, sealKey []byte, rnd io.Reader, now time.Time) (id Identity, created bool, err error) {
	box, err := seal.New(sealKey, "opencloud peer keys")
	if err != nil {
		return Identity{}, false, fmt.Errorf("identity: %w", err)
	}
	col, err := st.Collection(ctx, Spec)
	if err != nil {
		return Identity{}, false, fmt.Errorf("identity: open %s: %w", Spec.Name, err)
	}
	var rec record
	_, err = col.Get(ctx, firstKeyID, &rec)
	if errors.Is(err, store.ErrNotFound) {
		var made Identity
		made, err = insert(ctx, col, box, rnd, now)
		if err == nil {
			return made, true, nil
		}
		if !errors.Is(err, store.ErrDuplicate) {
			return Identity{}, false, err
		}
		// Another process made the key meanwhile: use its.
		_, err = col.Get(ctx, firstKeyID, &rec)
	}
	if err != nil {
		return Identity{}, false, fmt.Errorf("identity: read the peer key: %w", err)
	}
	key, err := open(box, rec)
	if err != nil {
		return Identity{}, false, err
	}
	return Identity{Key: key, CreatedAt: rec.CreatedAt}, false, nil
}

func insert(ctx context.Context, col store.Collection, box *seal.Box, rnd io.Reader, now time.Time) (Identity, error) {
	key, err := peerid.GenerateKey(rnd)
	if err != nil {
		return Identity{}, fmt.Errorf("identity: %w", err)
	}
	plain, err := key.MarshalBinary()
	if err != nil {
		return Identity{}, fmt.Errorf("identity: %w", err)
	}
	sealed, err := box.Seal(plain, aad(key.KeyID()))
	clear(plain)
	if err != nil {
		return Identity{}, fmt.Errorf("identity: %w", err)
	}
	// The self document states validity to the second.
	made := now.UTC().Truncate(time.Second)
	rec := record{PeerID: string(key.PeerID()), KeyID: key.KeyID(), PublicKey: key.Public(),
		Sealed: sealed, SealKeyID: box.KeyID(), CreatedAt: made}
	if _, err := col.Insert(ctx, firstKeyID, rec); err != nil {
		return Identity{}, fmt.Errorf("identity: store the peer key: %w", err)
	}
	return Identity{Key: key, CreatedAt: made}, nil
}

func open(box *seal.Box, rec record) (*peerid.PrivateKey, error) {
	if rec.SealKeyID != box.KeyID() {
		return nil, fmt.Errorf("%w: it was sealed under another key (key id %s; the configured key has id %s)",
			ErrUnreadable, rec.SealKeyID, box.KeyID())
	}
	plain, err := box.Open(rec.Sealed, aad(rec.KeyID))
	if err != nil {
		return nil, fmt.Errorf("%w: the record of key %s is damaged", ErrUnreadable, rec.KeyID)
	}
	defer clear(plain)
	key, err := peerid.ParsePrivateKey(plain)
	if err != nil {
		return nil, fmt.Errorf("identity: key %s: %w", rec.KeyID, err)
	}
	if key.KeyID() != rec.KeyID || !bytes.Equal(key.Public(), rec.PublicKey) || string(key.PeerID()) != rec.PeerID {
		return nil, fmt.Errorf("identity: the stored key %s does not match its record", rec.KeyID)
	}
	return key, nil
}
