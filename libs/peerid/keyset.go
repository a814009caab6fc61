package peerid

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Errors of KeySet.Update.
var (
	ErrPeerMismatch  = errors.New("the document is another peer's")
	ErrStaleDoc      = errors.New("the document is older than the pinned one")
	ErrChainMismatch = errors.New("the document's keys do not continue the pinned keys")
)

// KeySet is what this peer pins of another: its verified self document and
// the keys in it. A KeySet does not change; Update returns a new one.
type KeySet struct {
	doc *SelfDoc
	raw []byte
}

// NewKeySet verifies a signed self document and pins it. Show
// Fingerprint() to the administrator for comparison out of band before
// trusting it.
func NewKeySet(raw []byte) (*KeySet, error) {
	d, err := VerifySelfDoc(raw)
	if err != nil {
		return nil, err
	}
	return &KeySet{doc: d, raw: bytes.Clone(raw)}, nil
}

// Peer returns the peer id.
func (s *KeySet) Peer() ID { return s.doc.ID }

// Doc returns a copy of the pinned document.
func (s *KeySet) Doc() SelfDoc {
	d := *s.doc
	d.Keys = slices.Clone(d.Keys)
	d.Offers = slices.Clone(d.Offers)
	return d
}

// Raw returns the signed document as it was received, to store.
func (s *KeySet) Raw() []byte { return bytes.Clone(s.raw) }

// Fingerprint returns the fingerprint of the current key.
func (s *KeySet) Fingerprint() string { return Fingerprint(s.doc.Current().PublicKey) }

// Key returns the key with id keyID, current or retired.
func (s *KeySet) Key(keyID string) (Key, error) {
	k, ok := s.doc.Key(keyID)
	if !ok {
		return Key{}, fmt.Errorf("%w: peer %s has no key %q", ErrUnknownKey, s.doc.ID, keyID)
	}
	return k, nil
}

// Lookup returns the key with id keyID if it is valid at t (see Key.Check).
func (s *KeySet) Lookup(keyID string, t time.Time, skew time.Duration) (Key, error) {
	k, err := s.Key(keyID)
	if err != nil {
		return Key{}, err
	}
	return k, k.Check(t, skew)
}

// Update pins a newer document of the same peer. It is accepted only if it
// verifies, is not older than the pinned one, and keeps every pinned key in
// place, adding new keys after them: a rotation is accepted because the
// pinned current key endorsed the new key, and a key history made anew
// (with a stolen older key, say) is refused.
func (s *KeySet) Update(raw []byte) (*KeySet, error) {
	d, err := VerifySelfDoc(raw)
	if err != nil {
		return nil, err
	}
	if d.ID != s.doc.ID {
		return nil, fmt.Errorf("%w: %s, not %s", ErrPeerMismatch, d.ID, s.doc.ID)
	}
	if d.IssuedAt.Before(s.doc.IssuedAt) {
		return nil, fmt.Errorf("%w: issued %s, the pinned one %s", ErrStaleDoc, d.IssuedAt.Format(time.RFC3339), s.doc.IssuedAt.Format(time.RFC3339))
	}
	if len(d.Keys) < len(s.doc.Keys) {
		return nil, fmt.Errorf("%w: it has %d keys, %d are pinned", ErrChainMismatch, len(d.Keys), len(s.doc.Keys))
	}
	for i, k := range s.doc.Keys {
		if d.Keys[i].ID != k.ID || !bytes.Equal(d.Keys[i].PublicKey, k.PublicKey) {
			return nil, fmt.Errorf("%w: key %d is %s, pinned %s; compare the peer's fingerprint out of band and pin it again", ErrChainMismatch, i, d.Keys[i].ID, k.ID)
		}
	}
	return &KeySet{doc: d, raw: bytes.Clone(raw)}, nil
}
