// Package password hashes user passwords with argon2id and generates the
// random secrets oc-auth hands out (generated passwords, client secrets).
package password

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// MinLength is the shortest password accepted when one is set.
const MinLength = 12

// MaxLength bounds the work an attacker can make the hasher do.
const MaxLength = 256

// Parameters of new hashes: the OWASP argon2id baseline (19 MiB, 2 passes,
// 1 lane), cheap enough for an edge board, expensive enough for a GPU.
const (
	memoryKiB = 19 * 1024
	passes    = 2
	lanes     = 1
	saltLen   = 16
	keyLen    = 32
)

// ErrMalformedHash is returned for a stored hash this package cannot read.
var ErrMalformedHash = errors.New("password: malformed hash")

// dummy is verified against when a user does not exist, so that an unknown
// user name takes as long to refuse as a wrong password. It is computed on
// first use: an argon2id hash costs ~19 MiB, which an idle peer should not hold.
var dummy = sync.OnceValue(func() string { return mustHash("opencloud-timing-equaliser") })

// Hash returns the PHC string of an argon2id hash of pw.
func Hash(pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, passes, memoryKiB, lanes, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, memoryKiB, passes, lanes, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

func mustHash(pw string) string {
	h, err := Hash(pw)
	if err != nil {
		panic(err)
	}
	return h
}

// Verify reports whether pw matches the PHC string hash, in constant time
// with respect to the key.
func Verify(hash, pw string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrMalformedHash
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 {
		return false, ErrMalformedHash
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return false, ErrMalformedHash
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, ErrMalformedHash
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// VerifyDummy spends the time of one Verify and always fails; call it when
// the account does not exist.
func VerifyDummy(pw string) {
	_, _ = Verify(dummy(), pw)
}

// alphabet avoids look-alike characters, for secrets a human may retype.
const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// Generate returns a random password of n characters from a 57-letter
// alphabet (24 characters carry about 140 bits).
func Generate(n int) (string, error) {
	out := make([]byte, n)
	buf := make([]byte, 1)
	for i := 0; i < n; {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("password: generate: %w", err)
		}
		// Reject the top of the byte range so every letter is equally likely.
		if int(buf[0]) >= 256-256%len(alphabet) {
			continue
		}
		out[i] = alphabet[int(buf[0])%len(alphabet)]
		i++
	}
	return string(out), nil
}

// Token returns prefix followed by 32 random bytes, base64url encoded: the
// shape of client secrets and refresh tokens.
func Token(prefix string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("password: token: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// Digest is the hex SHA-256 of a high-entropy secret (a client secret, a
// refresh token, an authorization code). Such secrets need no slow hash: they
// cannot be guessed, and the store keeps only the digest.
func Digest(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// DigestEqual compares a secret with a stored digest in constant time.
func DigestEqual(digest, secret string) bool {
	return subtle.ConstantTimeCompare([]byte(digest), []byte(Digest(secret))) == 1
}
