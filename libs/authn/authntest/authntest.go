// Package authntest is a test token issuer: it serves a JWKS over HTTP and
// mints RS256 access tokens (valid or deliberately broken), so services can be
// tested with the real authn.OIDCVerifier without running oc-auth.
package authntest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/opencloud/opencloud/libs/authn"
)

// Issuer mints tokens signed by its own key, published at JWKSURL.
type Issuer struct {
	URL      string // the issuer (iss) value
	JWKSURL  string
	key      *rsa.PrivateKey
	otherKey *rsa.PrivateKey
	t        testing.TB
}

// New starts the JWKS server; it stops at the end of the test.
func New(t testing.TB) *Issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "test-key", Algorithm: "RS256", Use: "sig"}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jwks)
	}))
	t.Cleanup(srv.Close)
	return &Issuer{URL: srv.URL + "/auth", JWKSURL: srv.URL + "/keys", key: key, otherKey: other, t: t}
}

// Verifier returns the real OIDC verifier configured for this issuer.
func (i *Issuer) Verifier(ctx context.Context) *authn.OIDCVerifier {
	return authn.NewOIDCVerifier(ctx, i.URL, i.JWKSURL, authn.Audience)
}

// Option changes a minted token.
type Option func(*mint)

type mint struct {
	idToken bool
	aud     []string
	expires time.Time
	key     *rsa.PrivateKey
	issuer  string
}

// Expired mints a token that expired a minute ago.
func Expired() Option { return func(m *mint) { m.expires = time.Now().Add(-time.Minute) } }

// Audience replaces the audience.
func Audience(aud ...string) Option { return func(m *mint) { m.aud = aud } }

// WrongKey signs with a key the JWKS does not publish.
func WrongKey() Option { return func(m *mint) { m.key = nil } }

// NotAccessToken mints a token without the access-token mark, as an ID token is.
func NotAccessToken() Option { return func(m *mint) { m.idToken = true } }

// IssuedBy sets another issuer.
func IssuedBy(iss string) Option { return func(m *mint) { m.issuer = iss } }

// Token mints an access token for p.
func (i *Issuer) Token(p authn.Principal, opts ...Option) string {
	i.t.Helper()
	m := mint{aud: []string{authn.Audience}, expires: time.Now().Add(time.Hour), key: i.key, issuer: i.URL}
	for _, o := range opts {
		o(&m)
	}
	key := m.key
	if key == nil {
		key = i.otherKey
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "test-key"))
	if err != nil {
		i.t.Fatal(err)
	}
	claims := jwt.Claims{
		Issuer: m.issuer, Subject: p.Subject, Audience: m.aud,
		Expiry: jwt.NewNumericDate(m.expires), IssuedAt: jwt.NewNumericDate(time.Now().Add(-time.Minute)),
	}
	use := map[string]any{authn.TokenUseClaim: authn.TokenUseAccess}
	if m.idToken {
		use = map[string]any{}
	}
	raw, err := jwt.Signed(signer).Claims(claims).Claims(p).Claims(use).Serialize()
	if err != nil {
		i.t.Fatal(err)
	}
	return raw
}

// NoneToken is an unsigned token with "alg": "none" and otherwise valid claims.
func (i *Issuer) NoneToken(p authn.Principal) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	body, _ := json.Marshal(map[string]any{
		"iss": i.URL, "sub": p.Subject, "aud": []string{authn.Audience},
		"exp": time.Now().Add(time.Hour).Unix(), "roles": p.Roles, "groups": p.Groups, authn.TokenUseClaim: authn.TokenUseAccess,
	})
	return header + "." + enc.EncodeToString(body) + "."
}

// User is a principal with the user role.
func User(sub string, groups ...string) authn.Principal {
	return authn.Principal{Subject: sub, Username: sub, Groups: groups, Roles: []string{authn.RoleUser}}
}

// Admin is a principal with the admin and user roles.
func Admin(sub string) authn.Principal {
	return authn.Principal{Subject: sub, Username: sub, Groups: []string{"admin"}, Roles: []string{authn.RoleAdmin, authn.RoleUser}}
}
