package oidcstorage

import (
	"net/url"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/services/oc-auth/internal/clients"
)

// audience of every token oc-auth issues: the OpenCloud APIs. ID tokens
// also get the client id (zitadel appends it).
var audience = []string{authn.Audience}

// client adapts a stored client to op.Client.
type client struct {
	c         clients.Client
	loginURL  string
	idTokenTT time.Duration
}

func (s *Storage) client(c clients.Client) *client {
	return &client{c: c, loginURL: s.opts.Issuer + "/login?authRequestID=", idTokenTT: s.opts.AccessTTL}
}

func (c *client) GetID() string                    { return c.c.ID }
func (c *client) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.c.PostLogoutRedirectURIs }

func (c *client) ApplicationType() op.ApplicationType {
	if c.c.Public {
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}

// AuthMethod: public clients prove themselves with PKCE, the others with
// their secret (HTTP Basic or form post).
func (c *client) AuthMethod() oidc.AuthMethod {
	if c.c.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

func (c *client) ResponseTypes() []oidc.ResponseType {
	if c.c.Allows(clients.GrantAuthorizationCode) {
		return []oidc.ResponseType{oidc.ResponseTypeCode}
	}
	return nil
}

func (c *client) GrantTypes() []oidc.GrantType {
	out := make([]oidc.GrantType, 0, len(c.c.GrantTypes))
	for _, g := range c.c.GrantTypes {
		switch g {
		case clients.GrantAuthorizationCode:
			out = append(out, oidc.GrantTypeCode)
		case clients.GrantRefreshToken:
			out = append(out, oidc.GrantTypeRefreshToken)
		case clients.GrantClientCredentials:
			out = append(out, oidc.GrantTypeClientCredentials)
		}
	}
	return out
}

func (c *client) LoginURL(id string) string            { return c.loginURL + url.QueryEscape(id) }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c *client) IDTokenLifetime() time.Duration       { return c.idTokenTT }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) IsScopeAllowed(string) bool           { return false }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }

// DevMode lets zitadel accept registered http:// redirect URIs (the
// all-in-one binary and edge boards run on plain http). Redirect URIs are
// still matched exactly against the registered list.
func (c *client) DevMode() bool { return true }

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
