// Package clients keeps the OAuth clients of this peer: the built-in web
// front-end, services and scripts using client credentials, and any other
// application an administrator registers.
package clients

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/authn"
)

// Grant types a client may be allowed.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// WebClientID is the built-in public client of the web front-end.
const WebClientID = "opencloud-web"

// Domain errors.
var (
	ErrNotFound           = errors.New("client not found")
	ErrExists             = errors.New("client id already taken")
	ErrVersionConflict    = errors.New("the client changed since it was read")
	ErrInvalidCredentials = errors.New("invalid client credentials")
	ErrBuiltIn            = errors.New("built-in client")
	ErrPublic             = errors.New("public clients have no secret")
)

// Client is a registered OAuth client. SecretDigest is the SHA-256 of the
// secret; the secret itself is shown once, when created or rotated.
type Client struct {
	ID                     string    `json:"id"`
	Version                int64     `json:"version"`
	Name                   string    `json:"name"`
	SecretDigest           string    `json:"secret_digest,omitempty"`
	Public                 bool      `json:"public"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	GrantTypes             []string  `json:"grant_types"`
	Roles                  []string  `json:"roles"`
	BuiltIn                bool      `json:"built_in"`
	CreatedAt              time.Time `json:"created_at"`
	UpdatedAt              time.Time `json:"updated_at"`
}

// Allows reports whether the client may use grant.
func (c Client) Allows(grant string) bool { return slices.Contains(c.GrantTypes, grant) }

// Settings are the editable fields of a client.
type Settings struct {
	Name                   string
	Public                 bool
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string
	Roles                  []string
}

var clientIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{2,63}$`)

// CheckID validates a client id. UUID-shaped ids are refused: user subjects
// are UUIDs, and a client-credentials token's subject is its client id.
func CheckID(id string) string {
	if !clientIDRE.MatchString(id) {
		return "expected 3 to 64 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
	}
	if _, err := uuid.Parse(id); err == nil {
		return "must not be a UUID (user ids are UUIDs); choose a name such as oc-scheduler"
	}
	return ""
}

// CheckURIs validates redirect URIs: absolute http(s) URLs without fragment.
func CheckURIs(uris []string) string {
	if len(uris) > 20 {
		return "expected at most 20 URIs"
	}
	for _, s := range uris {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" || len(s) > 2048 {
			return fmt.Sprintf("%q: expected an absolute http:// or https:// URL without #fragment", s)
		}
	}
	return ""
}

// CheckGrantTypes validates the grant types.
func CheckGrantTypes(gs []string) string {
	if len(gs) == 0 {
		return "expected at least one of authorization_code, refresh_token, client_credentials"
	}
	for _, g := range gs {
		if g != GrantAuthorizationCode && g != GrantRefreshToken && g != GrantClientCredentials {
			return fmt.Sprintf("%q: expected authorization_code, refresh_token or client_credentials", g)
		}
	}
	return ""
}

// CheckRoles validates the roles of a client-credentials client.
func CheckRoles(rs []string) string {
	for _, r := range rs {
		if r != authn.RoleAdmin && r != authn.RoleUser {
			return fmt.Sprintf("%q: expected admin or user", r)
		}
	}
	return ""
}

// Problem is one invalid field of Settings.
type Problem struct{ Field, Problem string }

// Check validates settings, rules across fields included.
func (s Settings) Check() []Problem {
	var ps []Problem
	add := func(field, p string) {
		if p != "" {
			ps = append(ps, Problem{field, p})
		}
	}
	if s.Name == "" || len(s.Name) > 128 {
		add("name", "expected 1 to 128 characters")
	}
	add("redirect_uris", CheckURIs(s.RedirectURIs))
	add("post_logout_redirect_uris", CheckURIs(s.PostLogoutRedirectURIs))
	add("grant_types", CheckGrantTypes(s.GrantTypes))
	add("roles", CheckRoles(s.Roles))
	if slices.Contains(s.GrantTypes, GrantAuthorizationCode) && len(s.RedirectURIs) == 0 {
		add("redirect_uris", "the authorization_code grant needs at least one redirect URI")
	}
	if slices.Contains(s.GrantTypes, GrantRefreshToken) && !slices.Contains(s.GrantTypes, GrantAuthorizationCode) {
		add("grant_types", "refresh_token needs authorization_code")
	}
	if s.Public && slices.Contains(s.GrantTypes, GrantClientCredentials) {
		add("grant_types", "a public client cannot use client_credentials: it has no secret")
	}
	return ps
}

// normalize fills the defaults: roles default to user, lists are never nil.
func (s Settings) normalize() Settings {
	s.Roles = slices.Compact(slices.Sorted(slices.Values(s.Roles)))
	if len(s.Roles) == 0 {
		s.Roles = []string{authn.RoleUser}
	}
	for _, l := range []*[]string{&s.RedirectURIs, &s.PostLogoutRedirectURIs, &s.GrantTypes} {
		if *l == nil {
			*l = []string{}
		}
	}
	s.GrantTypes = slices.Compact(slices.Sorted(slices.Values(s.GrantTypes)))
	return s
}
