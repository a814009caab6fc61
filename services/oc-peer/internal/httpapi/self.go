// Package httpapi is oc-peer's HTTP API.
package httpapi

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/peercall"
	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/server"
)

// SelfMaxAge is how long a client may keep the self document.
const SelfMaxAge = 5 * time.Minute

// FingerprintHeader carries the fingerprint of the key that signed the
// self document.
const FingerprintHeader = "X-OC-Key-Fingerprint"

// Self serves this peer's signed self document. The document is signed
// again once it is older than SelfMaxAge, so its issued_at tells how fresh
// it is.
type Self struct {
	key *peerid.PrivateKey
	doc *peerid.SelfDoc
	now func() time.Time

	mu       sync.Mutex
	signed   []byte
	signedAt time.Time
}

// NewSelf returns the handler of the document doc, signed by key (doc's
// current key). It signs the document once, so that a document that cannot
// be signed stops the start.
func NewSelf(key *peerid.PrivateKey, doc *peerid.SelfDoc, now func() time.Time) (*Self, error) {
	s := &Self{key: key, doc: doc, now: now}
	if _, err := s.document(); err != nil {
		return nil, err
	}
	return s, nil
}

// Document returns the signed document.
func (s *Self) Document() ([]byte, error) { return s.document() }

// Key returns the current key.
func (s *Self) Key() *peerid.PrivateKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.key
}

// Signer returns a signer of calls with the current key.
func (s *Self) Signer() *peercall.Signer {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The peer id is the first key's, whatever key signs now.
	return &peercall.Signer{Peer: s.doc.ID, Key: s.key}
}

// Rotator makes the next key: it adds it to doc, endorsed by current, and
// stores it (identity.Rotate).
type Rotator func(doc *peerid.SelfDoc, current *peerid.PrivateKey) (*peerid.PrivateKey, error)

// Rotate switches to a new key made by rotate; the document is signed
// again at once.
func (s *Self) Rotate(rotate Rotator) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, err := rotate(s.doc, s.key)
	if err != nil {
		return err
	}
	s.key, s.signed = next, nil
	return nil
}

func (s *Self) document() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.signed != nil && now.Sub(s.signedAt) < SelfMaxAge {
		return s.signed, nil
	}
	b, err := s.doc.Sign(s.key, now)
	if err != nil {
		return nil, err
	}
	s.signed, s.signedAt = b, now
	return b, nil
}

// SelfDocument is the signed self document (see libs/peerid for the
// format and how to verify it).
type SelfDocument struct {
	// ID is the peer id, derived from the first key.
	ID   string `json:"id" example:"aejcavshlktviy2hjqbilx25x4v4vnz5uzitlcbz5g3xjans5kyqo4em"`
	Name string `json:"name" example:"lab-a"`
	// URL is where the peer's API is reached.
	URL  string    `json:"url" example:"https://opencloud.lab-a.example.org"`
	Keys []SelfKey `json:"keys"`
	// Offers names what the peer offers to others.
	Offers    []string      `json:"offers,omitempty"`
	IssuedAt  string        `json:"issued_at" example:"2026-03-01T12:00:00Z"`
	Signature SelfSignature `json:"signature"`
}

// SelfKey is one of the peer's public keys, oldest first.
type SelfKey struct {
	ID        string `json:"id" example:"kzdvvj2umnduyauf"`
	Alg       string `json:"alg" example:"Ed25519"`
	PublicKey string `json:"public_key" example:"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"`
	NotBefore string `json:"not_before" example:"2026-03-01T12:00:00Z"`
	NotAfter  string `json:"not_after,omitempty"`
	// Endorsement is the signature of this key by the key before it.
	Endorsement string `json:"endorsement,omitempty"`
}

// SelfSignature is the signature of the document by its current key.
type SelfSignature struct {
	KeyID string `json:"key_id" example:"kzdvvj2umnduyauf"`
	Value string `json:"value"`
}

// Get serves the document.
//
//	@Summary	This peer's signed self document
//	@Description	Who this peer is: its peer id (derived from its first public key), name, URL and keys, signed by its current key. Anyone may read it, without a token. A client verifies the signature and that the id is derived from the first key (libs/peerid) before trusting it, and compares the fingerprint out of band before pinning the peer. The header X-OC-Key-Fingerprint gives the fingerprint of the key that signed the document, for display: it is not covered by the signature, so compute it from the document to compare. The document is signed anew at most every 5 minutes (issued_at) and may be cached that long.
//	@Tags		peer
//	@Produce	json
//	@Success	200	{object}	SelfDocument
//	@Header		200	{string}	X-OC-Key-Fingerprint	"SHA-256 of the signing public key, upper-case hexadecimal in groups of 4"
//	@Header		200	{string}	Cache-Control	"public, max-age=300"
//	@Router		/peer/self [get]
func (s *Self) Get(c *gin.Context) {
	b, err := s.document()
	if err != nil {
		server.Fail(c, err)
		return
	}
	c.Header("Cache-Control", "public, max-age="+strconv.Itoa(int(SelfMaxAge/time.Second)))
	c.Header(FingerprintHeader, s.Key().Fingerprint())
	c.Data(http.StatusOK, "application/json", b)
}
