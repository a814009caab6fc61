package peerid

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Context strings put before the canonical JSON that each signature covers,
// so that a signature made for one purpose is never valid for another.
const (
	selfContext        = "opencloud-peer-self-v1\n"
	endorsementContext = "opencloud-peer-key-v1\n"
)

// AlgEd25519 is the only key algorithm of version 1 documents.
const AlgEd25519 = "Ed25519"

// Limits of a self document.
const (
	MaxDocSize  = 64 << 10
	MaxKeys     = 64
	MaxOffers   = 64
	maxNameLen  = 200
	maxURLLen   = 2048
	maxOfferLen = 100
)

var b64 = base64.RawURLEncoding.Strict()

// Errors of self documents and key sets.
var (
	ErrInvalidDoc   = errors.New("invalid peer self document")
	ErrBadSignature = errors.New("peer self document signature does not verify")
	ErrIDMismatch   = errors.New("the peer id is not derived from the document's first key")
	ErrUnknownKey   = errors.New("unknown key")
	// ErrKeyNotYetValid and ErrKeyExpired are returned by Key.Check.
	ErrKeyNotYetValid = errors.New("key not yet valid")
	ErrKeyExpired     = errors.New("key no longer valid")
)

// Key is one public key of a peer, with its validity.
type Key struct {
	// ID is KeyID(PublicKey).
	ID        string
	PublicKey ed25519.PublicKey
	// NotBefore is when the key starts to sign.
	NotBefore time.Time
	// NotAfter is when the key stops being accepted; zero while it is the
	// peer's current key and no end is set.
	NotAfter time.Time
	// Endorsement is the signature of this key by the key before it; none
	// for the first key.
	Endorsement []byte
}

// Check returns nil when the key is valid at t: from NotBefore (allowing
// skew for a signer whose clock is ahead) until NotAfter, exclusive.
// A retired key is accepted until its NotAfter.
func (k Key) Check(t time.Time, skew time.Duration) error {
	if t.Add(skew).Before(k.NotBefore) {
		return fmt.Errorf("%w: key %s is valid from %s", ErrKeyNotYetValid, k.ID, k.NotBefore.Format(time.RFC3339))
	}
	if !k.NotAfter.IsZero() && !t.Before(k.NotAfter) {
		return fmt.Errorf("%w: key %s was retired; it was accepted until %s", ErrKeyExpired, k.ID, k.NotAfter.Format(time.RFC3339))
	}
	return nil
}

// SelfDoc is what a peer says of itself, signed by its current key.
type SelfDoc struct {
	ID   ID
	Name string
	// URL is where the peer's API is reached (http or https).
	URL string
	// Keys is the whole key history, first key first: each key after the
	// first is endorsed by the key before it, so the chain leads back to
	// the key the peer id was derived from.
	Keys []Key
	// Offers names what the peer offers to others (for example "catalog",
	// "compute", "storage").
	Offers   []string
	IssuedAt time.Time
}

// NewSelfDoc starts the document of a new peer whose first key is first.
func NewSelfDoc(first *PrivateKey, name, publicURL string, offers []string, now time.Time) *SelfDoc {
	return &SelfDoc{
		ID:     first.PeerID(),
		Name:   name,
		URL:    publicURL,
		Keys:   []Key{{ID: first.KeyID(), PublicKey: first.Public(), NotBefore: seconds(now)}},
		Offers: slices.Clone(offers),
	}
}

// Current returns the last key: the one that signs the document and, from
// its NotBefore on, the peer's calls.
func (d *SelfDoc) Current() Key { return d.Keys[len(d.Keys)-1] }

// Key returns the key with id keyID.
func (d *SelfDoc) Key(keyID string) (Key, bool) {
	for _, k := range d.Keys {
		if k.ID == keyID {
			return k, true
		}
	}
	return Key{}, false
}

// Rotate adds next as the peer's current key, endorsed by current (which
// must be the current key), valid from now; current stays accepted until
// retireAt, so that calls signed just before the rotation still verify.
// Sign the document with next afterwards.
func (d *SelfDoc) Rotate(current, next *PrivateKey, now, retireAt time.Time) error {
	if len(d.Keys) == 0 {
		return errors.New("peerid: rotate: the document has no key")
	}
	last := &d.Keys[len(d.Keys)-1]
	if last.ID != current.KeyID() || !bytes.Equal(last.PublicKey, current.Public()) {
		return fmt.Errorf("peerid: rotate: %s is not the current key %s", current.KeyID(), last.ID)
	}
	if _, dup := d.Key(next.KeyID()); dup {
		return fmt.Errorf("peerid: rotate: key %s is already in the document", next.KeyID())
	}
	now, retireAt = seconds(now), seconds(retireAt)
	if retireAt.Before(now) || !retireAt.After(last.NotBefore) {
		return errors.New("peerid: rotate: the old key must stay valid until now at least")
	}
	entry := Key{ID: next.KeyID(), PublicKey: next.Public(), NotBefore: now}
	tree, err := toTree(toWireKey(entry))
	if err != nil {
		return err
	}
	msg, err := endorsementMessage(d.ID, tree)
	if err != nil {
		return err
	}
	entry.Endorsement = current.Sign(msg)
	last.NotAfter = retireAt
	d.Keys = append(d.Keys, entry)
	return nil
}

// Sign sets IssuedAt to now and returns the signed document, as JSON,
// signed by key, which must be the current key.
func (d *SelfDoc) Sign(key *PrivateKey, now time.Time) ([]byte, error) {
	d.IssuedAt = seconds(now)
	if err := d.validate(); err != nil {
		return nil, err
	}
	cur := d.Current()
	if cur.ID != key.KeyID() || !bytes.Equal(cur.PublicKey, key.Public()) {
		return nil, fmt.Errorf("peerid: sign: the document must be signed by its current key %s, not %s", cur.ID, key.KeyID())
	}
	w := d.wire()
	unsigned, err := toTree(w)
	if err != nil {
		return nil, err
	}
	sig := key.Sign(appendCanonical([]byte(selfContext), unsigned))
	w.Signature = &wireSig{KeyID: key.KeyID(), Value: b64.EncodeToString(sig)}
	out, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	// A document this peer cannot verify must not be published.
	if _, err := VerifySelfDoc(out); err != nil {
		return nil, fmt.Errorf("peerid: sign: %w", err)
	}
	return out, nil
}

// VerifySelfDoc checks a signed self document and returns it: well formed,
// the peer id derived from the first key, each later key endorsed by the
// one before, and the whole signed by the current key.
func VerifySelfDoc(raw []byte) (*SelfDoc, error) {
	if len(raw) > MaxDocSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidDoc, MaxDocSize)
	}
	tree, err := parseJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidDoc, err)
	}
	obj, ok := tree.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalidDoc)
	}
	var w wireDoc
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidDoc, err)
	}
	d, err := w.doc()
	if err != nil {
		return nil, err
	}
	if err := d.validate(); err != nil {
		return nil, err
	}
	if !d.ID.Matches(d.Keys[0].PublicKey) {
		return nil, ErrIDMismatch
	}
	entries, _ := obj["keys"].([]any)
	if len(entries) != len(d.Keys) {
		return nil, fmt.Errorf("%w: keys", ErrInvalidDoc)
	}
	if len(d.Keys[0].Endorsement) != 0 {
		return nil, fmt.Errorf("%w: the first key carries no endorsement", ErrInvalidDoc)
	}
	for i := 1; i < len(d.Keys); i++ {
		entry, ok := entries[i].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: keys[%d] is not an object", ErrInvalidDoc, i)
		}
		msg, err := endorsementMessage(d.ID, entry)
		if err != nil {
			return nil, err
		}
		if !ed25519.Verify(d.Keys[i-1].PublicKey, msg, d.Keys[i].Endorsement) {
			return nil, fmt.Errorf("%w: key %s is not endorsed by key %s", ErrBadSignature, d.Keys[i].ID, d.Keys[i-1].ID)
		}
	}
	if _, signed := obj["signature"]; !signed || w.Signature == nil {
		return nil, fmt.Errorf("%w: the document is not signed", ErrBadSignature)
	}
	cur := d.Current()
	if w.Signature.KeyID != cur.ID {
		return nil, fmt.Errorf("%w: signed by key %q, not by the current key %s", ErrBadSignature, w.Signature.KeyID, cur.ID)
	}
	sig, err := b64.DecodeString(w.Signature.Value)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: the signature is not 64 bytes of base64url", ErrBadSignature)
	}
	unsigned := make(map[string]any, len(obj))
	for k, v := range obj {
		if k != "signature" {
			unsigned[k] = v
		}
	}
	msg := appendCanonical([]byte(selfContext), unsigned)
	if !ed25519.Verify(cur.PublicKey, msg, sig) {
		return nil, ErrBadSignature
	}
	return d, nil
}

// endorsementMessage is what the previous key signs to endorse the key
// entry: the entry without "endorsement" and "not_after", with the member
// "peer" set to the peer id, in canonical form after the context string.
func endorsementMessage(id ID, entry map[string]any) ([]byte, error) {
	m := make(map[string]any, len(entry)+1)
	for k, v := range entry {
		if k != "endorsement" && k != "not_after" {
			m[k] = v
		}
	}
	m["peer"] = string(id)
	return appendCanonical([]byte(endorsementContext), m), nil
}

func (d *SelfDoc) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidDoc}, args...)...)
	}
	if _, err := Parse(string(d.ID)); err != nil {
		return bad("id: %v", err)
	}
	if strings.TrimSpace(d.Name) == "" || len(d.Name) > maxNameLen || !utf8.ValidString(d.Name) {
		return bad("name: give 1 to %d bytes of UTF-8", maxNameLen)
	}
	if err := checkURL(d.URL); err != nil {
		return bad("url: %v", err)
	}
	if len(d.Keys) == 0 || len(d.Keys) > MaxKeys {
		return bad("keys: give 1 to %d keys", MaxKeys)
	}
	seen := make(map[string]bool, len(d.Keys))
	for i, k := range d.Keys {
		if len(k.PublicKey) != ed25519.PublicKeySize || k.ID != KeyID(k.PublicKey) {
			return bad("keys[%d]: the id is not the key id of the public key", i)
		}
		if seen[k.ID] {
			return bad("keys[%d]: key %s appears twice", i, k.ID)
		}
		seen[k.ID] = true
		if k.NotBefore.IsZero() {
			return bad("keys[%d]: not_before is missing", i)
		}
		if !k.NotAfter.IsZero() && !k.NotAfter.After(k.NotBefore) {
			return bad("keys[%d]: not_after must be after not_before", i)
		}
		if i > 0 && k.NotBefore.Before(d.Keys[i-1].NotBefore) {
			return bad("keys[%d]: a key cannot start before the key that endorses it", i)
		}
		if i > 0 && len(k.Endorsement) != ed25519.SignatureSize {
			return bad("keys[%d]: the endorsement is missing", i)
		}
	}
	if len(d.Offers) > MaxOffers {
		return bad("offers: at most %d", MaxOffers)
	}
	for i, o := range d.Offers {
		if o == "" || len(o) > maxOfferLen || !utf8.ValidString(o) {
			return bad("offers[%d]: give 1 to %d bytes of UTF-8", i, maxOfferLen)
		}
	}
	if d.IssuedAt.IsZero() {
		return bad("issued_at is missing")
	}
	if err := d.Current().Check(d.IssuedAt, 0); err != nil {
		return bad("issued_at: the current key does not sign at that time: %v", err)
	}
	return nil
}

func checkURL(s string) error {
	if len(s) > maxURLLen {
		return fmt.Errorf("longer than %d bytes", maxURLLen)
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("give an absolute http or https URL without user, query or fragment")
	}
	return nil
}

func seconds(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// The JSON form.

type wireKey struct {
	ID          string     `json:"id"`
	Alg         string     `json:"alg"`
	PublicKey   string     `json:"public_key"`
	NotBefore   time.Time  `json:"not_before"`
	NotAfter    *time.Time `json:"not_after,omitempty"`
	Endorsement string     `json:"endorsement,omitempty"`
}

type wireSig struct {
	KeyID string `json:"key_id"`
	Value string `json:"value"`
}

type wireDoc struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	URL       string    `json:"url"`
	Keys      []wireKey `json:"keys"`
	Offers    []string  `json:"offers"`
	IssuedAt  time.Time `json:"issued_at"`
	Signature *wireSig  `json:"signature,omitempty"`
}

func toWireKey(k Key) wireKey {
	w := wireKey{ID: k.ID, Alg: AlgEd25519, PublicKey: b64.EncodeToString(k.PublicKey), NotBefore: seconds(k.NotBefore)}
	if !k.NotAfter.IsZero() {
		na := seconds(k.NotAfter)
		w.NotAfter = &na
	}
	if len(k.Endorsement) > 0 {
		w.Endorsement = b64.EncodeToString(k.Endorsement)
	}
	return w
}

func (d *SelfDoc) wire() wireDoc {
	w := wireDoc{ID: string(d.ID), Name: d.Name, URL: d.URL, Offers: d.Offers, IssuedAt: seconds(d.IssuedAt)}
	if w.Offers == nil {
		w.Offers = []string{}
	}
	for _, k := range d.Keys {
		w.Keys = append(w.Keys, toWireKey(k))
	}
	return w
}

func (w *wireDoc) doc() (*SelfDoc, error) {
	d := &SelfDoc{ID: ID(w.ID), Name: w.Name, URL: w.URL, Offers: w.Offers, IssuedAt: w.IssuedAt}
	for i, wk := range w.Keys {
		if wk.Alg != AlgEd25519 {
			return nil, fmt.Errorf("%w: keys[%d]: alg %q is not supported; want %q", ErrInvalidDoc, i, wk.Alg, AlgEd25519)
		}
		pub, err := b64.DecodeString(wk.PublicKey)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: keys[%d]: public_key is not 32 bytes of base64url", ErrInvalidDoc, i)
		}
		k := Key{ID: wk.ID, PublicKey: pub, NotBefore: wk.NotBefore}
		if wk.NotAfter != nil {
			if wk.NotAfter.IsZero() {
				return nil, fmt.Errorf("%w: keys[%d]: not_after is zero", ErrInvalidDoc, i)
			}
			k.NotAfter = *wk.NotAfter
		}
		if wk.Endorsement != "" {
			if k.Endorsement, err = b64.DecodeString(wk.Endorsement); err != nil {
				return nil, fmt.Errorf("%w: keys[%d]: endorsement is not base64url", ErrInvalidDoc, i)
			}
		}
		d.Keys = append(d.Keys, k)
	}
	return d, nil
}

func toTree(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	t, err := parseJSON(b)
	if err != nil {
		return nil, err
	}
	m, ok := t.(map[string]any)
	if !ok {
		return nil, errors.New("peerid: not an object")
	}
	return m, nil
}
