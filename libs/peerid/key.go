package peerid

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// Binary form of a private key: a version byte, an algorithm byte, the seed.
const (
	privVersion1 = 0x01
	privEd25519  = 0xed
	privLen      = 2 + ed25519.SeedSize
)

// ErrInvalidPrivateKey is returned when bytes do not hold a private key.
var ErrInvalidPrivateKey = errors.New("not a valid peer private key")

// PrivateKey is one of a peer's Ed25519 signing keys. Its formatted value
// (%v, %s, %#v) is the key id only, so that logging it leaks nothing.
type PrivateKey struct {
	priv  ed25519.PrivateKey
	pub   ed25519.PublicKey
	keyID string
}

// GenerateKey makes a new key from r, or from crypto/rand when r is nil.
func GenerateKey(r io.Reader) (*PrivateKey, error) {
	if r == nil {
		r = rand.Reader
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(r, seed); err != nil {
		return nil, fmt.Errorf("peerid: draw a key: %w", err)
	}
	return NewKeyFromSeed(seed)
}

// NewKeyFromSeed makes the key of a 32-byte Ed25519 seed (RFC 8032).
func NewKeyFromSeed(seed []byte) (*PrivateKey, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: the seed has %d bytes, want %d", ErrInvalidPrivateKey, len(seed), ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	return &PrivateKey{priv: priv, pub: pub, keyID: KeyID(pub)}, nil
}

// ParsePrivateKey reads what MarshalBinary wrote.
func ParsePrivateKey(b []byte) (*PrivateKey, error) {
	if len(b) != privLen || b[0] != privVersion1 || b[1] != privEd25519 {
		return nil, ErrInvalidPrivateKey
	}
	return NewKeyFromSeed(b[2:])
}

// MarshalBinary returns the key for sealing at rest (libs/seal): the byte
// 0x01 (version), the byte 0xed (Ed25519), then the 32-byte seed.
func (k *PrivateKey) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, privLen)
	b = append(b, privVersion1, privEd25519)
	return append(b, k.priv.Seed()...), nil
}

// UnmarshalBinary reads what MarshalBinary wrote.
func (k *PrivateKey) UnmarshalBinary(b []byte) error {
	p, err := ParsePrivateKey(b)
	if err != nil {
		return err
	}
	*k = *p
	return nil
}

// Public returns the public key.
func (k *PrivateKey) Public() ed25519.PublicKey { return k.pub }

// KeyID returns the key id of the public key.
func (k *PrivateKey) KeyID() string { return k.keyID }

// PeerID returns the peer id derived from this key: the peer's id when
// this is the peer's first key.
func (k *PrivateKey) PeerID() ID { return FromPublicKey(k.pub) }

// Fingerprint returns the fingerprint of the public key.
func (k *PrivateKey) Fingerprint() string { return Fingerprint(k.pub) }

// Sign signs msg with Ed25519 (pure, RFC 8032).
func (k *PrivateKey) Sign(msg []byte) []byte { return ed25519.Sign(k.priv, msg) }

// String returns the key id, never the secret.
func (k PrivateKey) String() string { return "peerid.PrivateKey(" + k.keyID + ")" }

// GoString returns the key id, never the secret.
func (k PrivateKey) GoString() string { return k.String() }
