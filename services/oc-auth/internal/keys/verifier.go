package keys

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/opencloud/opencloud/libs/authn"
)

// Verifier checks oc-auth's own access tokens in-process, exactly as
// authn.OIDCVerifier does in the other services (same go-oidc verifier:
// issuer, audience, expiry, RS256 signature; and the token_use mark of an
// access token), but reads the published keys
// from the store instead of fetching the JWKS over HTTP: the public issuer
// URL need not be reachable from inside the service.
type Verifier struct {
	v *oidc.IDTokenVerifier
}

// NewVerifier returns a verifier of tokens issued by issuer.
func NewVerifier(issuer string, m *Manager) *Verifier {
	ks := &keySet{m: m, ttl: 10 * time.Second}
	return &Verifier{v: oidc.NewVerifier(issuer, ks, &oidc.Config{
		ClientID:             authn.Audience,
		SupportedSigningAlgs: []string{oidc.RS256},
	})}
}

// Verify implements authn.Verifier.
func (v *Verifier) Verify(ctx context.Context, raw string) (authn.Principal, error) {
	tok, err := v.v.Verify(ctx, raw)
	if err != nil {
		return authn.Principal{}, fmt.Errorf("%w: %w", authn.ErrInvalidToken, err)
	}
	var p authn.Principal
	if err := tok.Claims(&p); err != nil {
		return authn.Principal{}, fmt.Errorf("%w: claims: %w", authn.ErrInvalidToken, err)
	}
	// An ID token has the same issuer and signature, and the audience too
	// when a client's id is the API audience: only the mark tells them apart.
	var use struct {
		TokenUse string `json:"token_use"`
	}
	if err := tok.Claims(&use); err != nil || use.TokenUse != authn.TokenUseAccess {
		return authn.Principal{}, fmt.Errorf("%w: not an access token (%s is %q)", authn.ErrInvalidToken, authn.TokenUseClaim, use.TokenUse)
	}
	if p.Subject == "" {
		return authn.Principal{}, fmt.Errorf("%w: no subject", authn.ErrInvalidToken)
	}
	p.Token = raw
	return p, nil
}

// keySet is an oidc.KeySet over the published keys, cached briefly and
// reloaded at once when a token names an unknown key (a rotation made by
// another replica).
type keySet struct {
	m   *Manager
	ttl time.Duration

	mu      sync.Mutex
	keys    []PublicKey
	fetched time.Time
	gen     int64 // the manager's rotation count when fetched
}

func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, fmt.Errorf("malformed jws: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("expected one signature, got %d", len(jws.Signatures))
	}
	kid := jws.Signatures[0].Header.KeyID
	for _, reload := range []bool{false, true} {
		ks, err := k.get(ctx, reload)
		if err != nil {
			return nil, err
		}
		for _, pk := range ks {
			if pk.kid == kid {
				return jws.Verify(pk.key)
			}
		}
	}
	return nil, fmt.Errorf("no published key %q", kid)
}

func (k *keySet) get(ctx context.Context, reload bool) ([]PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	age := time.Since(k.fetched)
	// A forced reload is still limited to one a second, so tokens naming
	// made-up key ids cannot turn into a store query each.
	gen := k.m.rotations.Load()
	if k.keys != nil && gen == k.gen && (age < time.Second || (!reload && age < k.ttl)) {
		return k.keys, nil
	}
	ks, err := k.m.Published(ctx)
	if err != nil {
		return nil, err
	}
	k.keys, k.fetched, k.gen = ks, time.Now(), gen
	return ks, nil
}
