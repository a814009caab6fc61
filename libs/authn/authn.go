// Package authn verifies the bearer tokens oc-auth issues and carries the
// caller's identity (a Principal) through request contexts.
package authn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Roles.
const (
	RoleAdmin = "admin"
	RoleUser  = "user"
)

// Audience is the audience every access token oc-auth issues for the
// OpenCloud APIs carries, and the one services check.
const Audience = "opencloud"

// TokenUseClaim marks the JWTs oc-auth issues as access tokens, with the
// value TokenUseAccess. ID tokens come from the same issuer with the same
// audience and signature, so without the mark an ID token would pass for an
// access token.
const (
	TokenUseClaim  = "token_use"
	TokenUseAccess = "access"
)

// ErrInvalidToken wraps every verification failure.
var ErrInvalidToken = errors.New("invalid token")

// Principal is the verified caller.
type Principal struct {
	Subject  string   `json:"sub"`
	Username string   `json:"preferred_username,omitempty"`
	ClientID string   `json:"client_id,omitempty"`
	Groups   []string `json:"groups,omitempty"`
	Roles    []string `json:"roles,omitempty"`
	// Token is the raw bearer token, for calls made on the caller's behalf.
	Token string `json:"-"`
	// Expiry is when the token expires.
	Expiry time.Time `json:"-"`
	// Remote is set when the caller is another peer (a signed peer call):
	// Subject and Groups are then the user that peer asserts, names of
	// that peer, and Roles is empty.
	Remote *Remote `json:"remote,omitempty"`
}

// Remote is the peer a signed call came from, and what this peer thinks
// of it.
type Remote struct {
	// Peer is the calling peer's id.
	Peer string `json:"peer"`
	// Partner is true when both peers' administrators accepted the
	// partnership.
	Partner bool `json:"partner"`
	// Groups are the peer groups this peer's administrators put it in.
	Groups []string `json:"groups,omitempty"`
}

// IsRemote reports whether the principal is another peer's call.
func (p Principal) IsRemote() bool { return p.Remote != nil }

// InPeerGroup reports whether the principal is a call of a peer in the
// given peer group.
func (p Principal) InPeerGroup(group string) bool {
	return p.Remote != nil && slices.Contains(p.Remote.Groups, group)
}

// HasRole reports whether the principal holds role. A remote principal
// holds none.
func (p Principal) HasRole(role string) bool {
	return p.Remote == nil && slices.Contains(p.Roles, role)
}

// IsAdmin reports whether the principal holds the admin role.
func (p Principal) IsAdmin() bool { return p.HasRole(RoleAdmin) }

// InGroup reports whether the principal is a member of this peer's user
// group group. A remote user's groups are its own peer's, so they never
// match.
func (p Principal) InGroup(group string) bool {
	return p.Remote == nil && slices.Contains(p.Groups, group)
}

// Verifier turns a raw bearer token into a Principal.
type Verifier interface {
	Verify(ctx context.Context, raw string) (Principal, error)
}

// OIDCVerifier checks signature (against the issuer's JWKS, refetched when an
// unknown key appears, so rotation needs no restart), issuer, audience and
// expiry with go-oidc. A token that passed is remembered until it expires:
// access tokens cannot be revoked before then, and a signing key stays
// published longer than the tokens it signed live, so the answer cannot change.
type OIDCVerifier struct {
	v     *oidc.IDTokenVerifier
	cache *tokenCache
}

// NewOIDCVerifier builds a verifier. jwksURL may differ from the issuer's
// public URL (a service reaches oc-auth inside the network); keys are fetched
// lazily, so oc-auth need not be up yet. ctx bounds the key set's lifetime.
func NewOIDCVerifier(ctx context.Context, issuer, jwksURL, audience string, opts ...VerifierOption) *OIDCVerifier {
	keys := oidc.NewRemoteKeySet(ctx, jwksURL)
	v := &OIDCVerifier{
		v: oidc.NewVerifier(issuer, keys, &oidc.Config{
			ClientID:             audience,
			SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256},
		}),
		cache: newTokenCache(verifiedTokens, time.Now),
	}
	for _, o := range opts {
		o(v)
	}
	return v
}

// VerifierOption changes an OIDCVerifier.
type VerifierOption func(*OIDCVerifier)

// WithoutCache verifies every token in full, every time (benchmarks, debugging).
func WithoutCache() VerifierOption { return func(v *OIDCVerifier) { v.cache = nil } }

// verifiedTokens bounds the cache: a few MiB at most.
const verifiedTokens = 4096

// Verify implements Verifier.
func (o *OIDCVerifier) Verify(ctx context.Context, raw string) (Principal, error) {
	if p, ok := o.cache.get(raw); ok {
		return p, nil
	}
	tok, err := o.v.Verify(ctx, raw)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	var p Principal
	var use struct {
		TokenUse string `json:"token_use"`
	}
	if err := tok.Claims(&p); err != nil {
		return Principal{}, fmt.Errorf("%w: claims: %w", ErrInvalidToken, err)
	}
	if err := tok.Claims(&use); err != nil || use.TokenUse != TokenUseAccess {
		return Principal{}, fmt.Errorf("%w: not an access token (%s is %q)", ErrInvalidToken, TokenUseClaim, use.TokenUse)
	}
	if p.Subject == "" {
		return Principal{}, fmt.Errorf("%w: no subject", ErrInvalidToken)
	}
	p.Token, p.Expiry = raw, tok.Expiry
	o.cache.put(raw, p)
	return p, nil
}

// BearerToken extracts the token of an "Authorization: Bearer ..." header.
func BearerToken(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal the middleware verified.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
