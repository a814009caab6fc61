package peerid

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Layout of a version 1 peer id, before base32.
const (
	idVersion1    = 0x01 // version 1: the key is Ed25519, the digest SHA-256
	mhSHA256      = 0x12 // multihash code of SHA2-256
	mhSHA256Len   = 0x20 // digest length, 32 bytes
	idPrefixLen   = 3
	idBinaryLen   = idPrefixLen + sha256.Size
	keyIDDigest   = 10 // bytes of SHA-256 in a key id
	fingerprintGr = 4  // hex digits per fingerprint group
)

// IDLength is the length of a peer id: 35 bytes in base32, 56 characters.
const IDLength = idBinaryLen * 8 / 5

// KeyIDLength is the length of a key id: 10 bytes in base32, 16 characters.
const KeyIDLength = keyIDDigest * 8 / 5

// encoding is RFC 4648 base32 in lower case without padding.
var encoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ErrInvalidID is returned for a string that is not a peer id.
var ErrInvalidID = errors.New("not a valid peer id")

// ID is a peer id: derived from the peer's first public key, it names the
// peer everywhere and cannot be claimed by anyone without that key.
type ID string

// String returns the id as it is written.
func (id ID) String() string { return string(id) }

// FromPublicKey derives the peer id of an Ed25519 public key.
func FromPublicKey(pub ed25519.PublicKey) ID {
	sum := sha256.Sum256(pub)
	var b [idBinaryLen]byte
	b[0], b[1], b[2] = idVersion1, mhSHA256, mhSHA256Len
	copy(b[idPrefixLen:], sum[:])
	return ID(encoding.EncodeToString(b[:]))
}

// Parse checks that s is a peer id of a version this package knows, and
// returns it. Nothing else is accepted: no upper case, padding, spaces or
// other versions.
func Parse(s string) (ID, error) {
	if len(s) != IDLength {
		return "", fmt.Errorf("%w: it has %d characters, want %d", ErrInvalidID, len(s), IDLength)
	}
	if !inAlphabet(s) {
		return "", fmt.Errorf("%w: only the characters a-z and 2-7 may appear", ErrInvalidID)
	}
	b, err := encoding.DecodeString(s)
	if err != nil || len(b) != idBinaryLen {
		return "", fmt.Errorf("%w: not base32", ErrInvalidID)
	}
	if b[0] != idVersion1 {
		return "", fmt.Errorf("%w: unknown version %d", ErrInvalidID, b[0])
	}
	if b[1] != mhSHA256 || b[2] != mhSHA256Len {
		return "", fmt.Errorf("%w: unsupported digest", ErrInvalidID)
	}
	return ID(s), nil
}

// Valid reports whether s is a peer id.
func Valid(s string) bool {
	_, err := Parse(s)
	return err == nil
}

// Matches reports whether pub is the key id was derived from.
func (id ID) Matches(pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && FromPublicKey(pub) == id
}

// KeyID names one public key among a peer's keys: base32 of the first 10
// bytes of its SHA-256, 16 characters.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return encoding.EncodeToString(sum[:keyIDDigest])
}

// ValidKeyID reports whether s has the form of a key id.
func ValidKeyID(s string) bool { return len(s) == KeyIDLength && inAlphabet(s) }

// Fingerprint is the SHA-256 of a public key in upper-case hexadecimal,
// in 16 groups of 4 separated by spaces, for administrators to compare
// over another channel (read aloud, or side by side).
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += fingerprintGr {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h[i : i+fingerprintGr])
	}
	return b.String()
}

func inAlphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}
