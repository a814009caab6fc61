// Package keys keeps the RSA keys oc-auth signs tokens with. The newest key
// signs; each older key stays published in the JWKS for a retention period
// after its successor appeared, so tokens signed before a rotation keep
// verifying until they expire. Which key is newest is decided from the
// stored creation times alone, so replicas sharing a store agree without
// coordination, and a crash half-way through a rotation leaves nothing to
// repair.
//
// The private keys are stored sealed (AES-256-GCM, libs/seal) under a key
// the store does not hold: a copy of the store signs nothing.
package keys

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/opencloud/opencloud/libs/seal"
	"github.com/opencloud/opencloud/libs/store"
)

// Key states, as shown to administrators.
const (
	StateActive  = "active"
	StateRetired = "retired"
)

const rsaBits = 2048

// KeySize is the length of the key sealing the signing keys: AES-256.
const KeySize = seal.KeySize

// Sentinel errors.
var (
	// ErrNoKey is returned when the store holds no signing key (Ensure not run).
	ErrNoKey = errors.New("keys: no signing key")
	// ErrUnreadable is returned when a stored signing key does not open
	// with the configured sealing key: the key was changed, or the record
	// damaged.
	ErrUnreadable = errors.New("the stored signing key cannot be decrypted with the configured sealing key")
)

var spec = store.Spec{
	Name: "auth_signing_keys",
	Fields: []store.Field{
		{Name: "state", Type: store.String},
		{Name: "created_at", Type: store.Time},
	},
}

// doc is a stored key. The private key is a secret: doc's String and
// LogValue show the key id only, and no API returns a doc.
type doc struct {
	ID        string `json:"id"` // kid: the RFC 7638 thumbprint of the public key
	Version   int64  `json:"version"`
	Algorithm string `json:"alg"`
	// Sealed is the PKCS#8 DER of the private key, sealed under the key
	// SealKeyID names and bound to the kid.
	Sealed    []byte `json:"sealed_private_key,omitempty"`
	SealKeyID string `json:"seal_key_id,omitempty"`
	// PrivateKeyPEM is how keys were stored before they were sealed; Seal
	// seals such records at start.
	PrivateKeyPEM string     `json:"private_key_pem,omitempty"`
	State         string     `json:"state"`
	CreatedAt     time.Time  `json:"created_at"`
	RetiredAt     *time.Time `json:"retired_at,omitempty"`
}

func (d doc) String() string       { return "signing key " + d.ID }
func (d doc) LogValue() slog.Value { return slog.StringValue(d.ID) }
func (d doc) GoString() string     { return d.String() }

// Info is what administrators see of a key.
type Info struct {
	KID       string     `json:"kid"`
	Algorithm string     `json:"alg"`
	State     string     `json:"state"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
	// PublishedUntil is when a retired key leaves the JWKS.
	PublishedUntil *time.Time `json:"published_until,omitempty"`
}

// SigningKey is the private key tokens are signed with (op.SigningKey).
type SigningKey struct {
	kid string
	key *rsa.PrivateKey
}

func (k SigningKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k SigningKey) Key() any                                    { return k.key }
func (k SigningKey) ID() string                                  { return k.kid }

// PublicKey is a published verification key (op.Key).
type PublicKey struct {
	kid string
	key *rsa.PublicKey
}

func (k PublicKey) ID() string                         { return k.kid }
func (k PublicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k PublicKey) Use() string                        { return "sig" }
func (k PublicKey) Key() any                           { return k.key }

// Manager creates, rotates, publishes and prunes keys.
type Manager struct {
	col       store.Collection
	box       *seal.Box
	retention time.Duration
	now       func() time.Time

	rotations atomic.Int64 // in this process; lets caches notice a rotation at once

	mu     sync.Mutex
	parsed map[string]*rsa.PrivateKey // by kid; keys never change once stored
}

// Open opens the collection. retention is how long a key stays published
// after its successor was created; it must outlive every token it signed.
// sealKey (KeySize bytes) seals the private keys.
func Open(ctx context.Context, st store.Store, retention time.Duration, sealKey []byte) (*Manager, error) {
	box, err := seal.New(sealKey, "opencloud auth signing keys")
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	c, err := st.Collection(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("keys: open %s: %w", spec.Name, err)
	}
	return &Manager{col: c, box: box, retention: retention, now: func() time.Time { return time.Now().UTC() },
		parsed: map[string]*rsa.PrivateKey{}}, nil
}

// aad binds a sealed private key to its kid, so that a sealed key copied
// into another record does not open.
func aad(kid string) []byte { return []byte("auth-signing-key/" + kid) }

// Seal seals the keys stored in clear (PEM) by earlier versions, and
// returns how many it sealed. Replicas may run it together.
func (m *Manager) Seal(ctx context.Context) (int, error) {
	ds, err := m.load(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range ds {
		sealed, err := m.sealOne(ctx, d)
		if err != nil {
			return n, err
		}
		if sealed {
			n++
		}
	}
	return n, nil
}

func (m *Manager) sealOne(ctx context.Context, d doc) (bool, error) {
	for range 5 {
		if d.PrivateKeyPEM == "" {
			return false, nil
		}
		priv, err := parsePEM(d)
		if err != nil {
			return false, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return false, fmt.Errorf("keys: %s: encode: %w", d.ID, err)
		}
		if d.Sealed, err = m.box.Seal(der, aad(d.ID)); err != nil {
			return false, fmt.Errorf("keys: %s: %w", d.ID, err)
		}
		d.SealKeyID, d.PrivateKeyPEM = m.box.KeyID(), ""
		_, err = m.col.Replace(ctx, d.ID, d.Version, d)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, store.ErrNotFound):
			return false, nil // pruned meanwhile
		case !errors.Is(err, store.ErrVersionConflict):
			return false, fmt.Errorf("keys: seal %s: %w", d.ID, err)
		}
		// Retired, or sealed by another replica, meanwhile: read it again.
		d, err = m.get(ctx, d.ID)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, fmt.Errorf("keys: seal %s: %w (5 tries)", d.ID, store.ErrVersionConflict)
}

// Check opens every stored key, so that a wrong sealing key stops the
// start rather than the first sign-in.
func (m *Manager) Check(ctx context.Context) error {
	ds, err := m.load(ctx)
	if err != nil {
		return err
	}
	for _, d := range ds {
		if _, err := m.private(d); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) get(ctx context.Context, kid string) (doc, error) {
	var d doc
	v, err := m.col.Get(ctx, kid, &d)
	if err != nil {
		return doc{}, err
	}
	d.Version = v
	return d, nil
}

// Ensure creates the first key if the store has none.
func (m *Manager) Ensure(ctx context.Context) (created bool, err error) {
	n, err := m.col.Count(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("keys: count: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	if _, err := m.Rotate(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// Rotate creates a new key, which signs from now on, and marks the others
// retired.
func (m *Manager) Rotate(ctx context.Context) (Info, error) {
	priv, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return Info{}, fmt.Errorf("keys: generate: %w", err)
	}
	kid, err := thumbprint(&priv.PublicKey)
	if err != nil {
		return Info{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return Info{}, fmt.Errorf("keys: encode: %w", err)
	}
	sealed, err := m.box.Seal(der, aad(kid))
	if err != nil {
		return Info{}, fmt.Errorf("keys: %w", err)
	}
	d := doc{
		ID: kid, Algorithm: string(jose.RS256), State: StateActive, CreatedAt: m.now(),
		Sealed: sealed, SealKeyID: m.box.KeyID(),
	}
	if _, err := m.col.Insert(ctx, d.ID, d); err != nil {
		return Info{}, fmt.Errorf("keys: insert %s: %w", kid, err)
	}
	m.mu.Lock()
	m.parsed[kid] = priv
	m.mu.Unlock()
	m.rotations.Add(1)

	// The state is informative: signing and publication follow creation
	// times. A failure here leaves an extra "active" label, nothing worse.
	recs, _, err := m.col.Find(ctx, store.Query{Filter: store.Eq("state", StateActive), Limit: 100})
	if err != nil {
		return Info{}, fmt.Errorf("keys: find active: %w", err)
	}
	for _, r := range recs {
		if r.ID == kid {
			continue
		}
		_, err := m.col.UpdateIf(ctx, r.ID, store.Eq("state", StateActive), map[string]any{"state": StateRetired, "retired_at": d.CreatedAt})
		if err != nil && !errors.Is(err, store.ErrConditionFailed) && !errors.Is(err, store.ErrNotFound) {
			return Info{}, fmt.Errorf("keys: retire %s: %w", r.ID, err)
		}
	}
	return Info{KID: kid, Algorithm: d.Algorithm, State: StateActive, CreatedAt: d.CreatedAt}, nil
}

// load returns every key, newest first.
func (m *Manager) load(ctx context.Context) ([]doc, error) {
	recs, _, err := m.col.Find(ctx, store.Query{Sort: []store.Sort{{Field: "created_at", Desc: true}}, Limit: 1000})
	if err != nil {
		return nil, fmt.Errorf("keys: list: %w", err)
	}
	out := make([]doc, 0, len(recs))
	for _, r := range recs {
		var d doc
		if err := r.Decode(&d); err != nil {
			return nil, fmt.Errorf("keys: decode %s: %w", r.ID, err)
		}
		d.Version = r.Version
		out = append(out, d)
	}
	return out, nil
}

// Signing returns the key new tokens are signed with: the newest.
func (m *Manager) Signing(ctx context.Context) (SigningKey, error) {
	ds, err := m.load(ctx)
	if err != nil {
		return SigningKey{}, err
	}
	if len(ds) == 0 {
		return SigningKey{}, ErrNoKey
	}
	priv, err := m.private(ds[0])
	if err != nil {
		return SigningKey{}, err
	}
	return SigningKey{kid: ds[0].ID, key: priv}, nil
}

// Published returns the verification keys of the JWKS: the newest key and
// every key whose successor is younger than the retention period.
func (m *Manager) Published(ctx context.Context) ([]PublicKey, error) {
	ds, err := m.load(ctx)
	if err != nil {
		return nil, err
	}
	cutoff := m.now().Add(-m.retention)
	var out []PublicKey
	for i, d := range ds {
		if i > 0 && ds[i-1].CreatedAt.Before(cutoff) {
			break
		}
		priv, err := m.private(d)
		if err != nil {
			return nil, err
		}
		out = append(out, PublicKey{kid: d.ID, key: &priv.PublicKey})
	}
	return out, nil
}

// List describes every stored key, newest first, without key material.
func (m *Manager) List(ctx context.Context) ([]Info, error) {
	ds, err := m.load(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(ds))
	for i, d := range ds {
		in := Info{KID: d.ID, Algorithm: d.Algorithm, State: StateActive, CreatedAt: d.CreatedAt}
		if i > 0 {
			retired := ds[i-1].CreatedAt
			until := retired.Add(m.retention)
			in.State, in.RetiredAt, in.PublishedUntil = StateRetired, &retired, &until
		}
		out = append(out, in)
	}
	return out, nil
}

// Prune deletes the keys no longer published, and returns how many.
func (m *Manager) Prune(ctx context.Context) (int, error) {
	ds, err := m.load(ctx)
	if err != nil {
		return 0, err
	}
	cutoff := m.now().Add(-m.retention)
	n := 0
	for i := 1; i < len(ds); i++ {
		if !ds[i-1].CreatedAt.Before(cutoff) {
			continue
		}
		if err := m.col.Delete(ctx, ds[i].ID, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
			return n, fmt.Errorf("keys: delete %s: %w", ds[i].ID, err)
		}
		m.mu.Lock()
		delete(m.parsed, ds[i].ID)
		m.mu.Unlock()
		n++
	}
	return n, nil
}

func (m *Manager) private(d doc) (*rsa.PrivateKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.parsed[d.ID]; ok {
		return k, nil
	}
	var rk *rsa.PrivateKey
	var err error
	if d.PrivateKeyPEM != "" {
		// Not sealed yet: a replica of an earlier version wrote it.
		rk, err = parsePEM(d)
	} else {
		rk, err = m.open(d)
	}
	if err != nil {
		return nil, err
	}
	m.parsed[d.ID] = rk
	return rk, nil
}

func (m *Manager) open(d doc) (*rsa.PrivateKey, error) {
	if d.SealKeyID != m.box.KeyID() {
		return nil, fmt.Errorf("keys: %s: %w (it was sealed under the key with id %q, the configured one has id %q)", d.ID, ErrUnreadable, d.SealKeyID, m.box.KeyID())
	}
	der, err := m.box.Open(d.Sealed, aad(d.ID))
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w (the record is damaged)", d.ID, ErrUnreadable)
	}
	return parseDER(d.ID, der)
}

func parsePEM(d doc) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(d.PrivateKeyPEM))
	if block == nil {
		return nil, fmt.Errorf("keys: %s: stored key is not PEM", d.ID)
	}
	return parseDER(d.ID, block.Bytes)
}

func parseDER(kid string, der []byte) (*rsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("keys: %s: parse stored key: %w", kid, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("keys: %s: stored key is not RSA", kid)
	}
	return rk, nil
}

func thumbprint(pub *rsa.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("keys: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}
