// Package seal encrypts the small secrets a service keeps in its store
// (signing keys, S3 credentials) under a key the store does not hold:
// AES-256-GCM with a random nonce, each sealed value bound to additional
// data naming what it is, so that a value copied into another record does
// not open.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a key: AES-256.
const KeySize = 32

// ErrUnreadable is returned when a sealed value does not open: it was
// sealed under another key, or it was damaged.
var ErrUnreadable = errors.New("seal: the value cannot be decrypted with this key")

// Box seals and opens values under one key.
type Box struct {
	aead  cipher.AEAD
	keyID string
}

// New returns a box sealing with key (KeySize bytes). label names the key's
// use; it makes the key id, which tells a value sealed under another key
// from a damaged one and says nothing of the key itself.
func New(key []byte, label string) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: the key has %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte(label))
	h.Write([]byte{0})
	h.Write(key)
	return &Box{aead: aead, keyID: hex.EncodeToString(h.Sum(nil)[:8])}, nil
}

// KeyID identifies the key (a hash prefix); store it beside sealed values.
func (b *Box) KeyID() string { return b.keyID }

// Seal encrypts plain, bound to aad; the result is the nonce followed by
// the ciphertext and its tag.
func (b *Box) Seal(plain, aad []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	nonce := make([]byte, n, n+len(plain)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: draw a nonce: %w", err)
	}
	return b.aead.Seal(nonce, nonce, plain, aad), nil
}

// Open decrypts what Seal returned for the same aad; ErrUnreadable
// otherwise.
func (b *Box) Open(sealed, aad []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n+b.aead.Overhead() {
		return nil, ErrUnreadable
	}
	plain, err := b.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, ErrUnreadable
	}
	return plain, nil
}

// ParseKey decodes a key given as base64 (standard or URL alphabet, padded
// or not), as `openssl rand -base64 32` prints it. Its errors never show
// the value.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	var key []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return nil, errors.New("not base64: expected 32 random bytes, base64 (openssl rand -base64 32)")
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("decodes to %d bytes, want %d: expected 32 random bytes, base64 (openssl rand -base64 32)", len(key), KeySize)
	}
	return key, nil
}
