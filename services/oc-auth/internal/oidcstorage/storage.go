// Package oidcstorage is the op.Storage of zitadel's OpenID Provider on the
// OpenCloud store: clients and users come from their managers, signing keys
// from the key manager, and authorization requests, refresh tokens and the
// browsers' sign-in sessions are documents of their own, so that a restart
// keeps every session.
package oidcstorage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/services/oc-auth/internal/clients"
	"github.com/opencloud/opencloud/services/oc-auth/internal/keys"
	"github.com/opencloud/opencloud/services/oc-auth/internal/users"
)

// Options are the token lifetimes and the public URLs the storage needs.
type Options struct {
	Issuer     string // login page and client URLs hang under it
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	// SessionMaxAge ends a refresh-token family this long after the sign-in
	// that started it, however often it is refreshed; 0: no limit.
	SessionMaxAge time.Duration
	// AuthRequestTTL bounds the time between /authorize and the login.
	AuthRequestTTL time.Duration
	// CodeTTL bounds the time between the login and the code exchange.
	CodeTTL time.Duration
	// SessionTTL is how long a browser's sign-in is reused (single
	// sign-on), counted from the sign-in.
	SessionTTL time.Duration
	// Now is the clock (UTC); nil: the system clock.
	Now func() time.Time
}

// Storage implements op.Storage and op.ClientCredentialsStorage.
type Storage struct {
	opts     Options
	st       store.Store
	users    *users.Manager
	clients  *clients.Manager
	keys     *keys.Manager
	authReqs store.Collection
	refresh  store.Collection
	sessions store.Collection
	log      *slog.Logger
	now      func() time.Time
}

var (
	_ op.Storage                        = (*Storage)(nil)
	_ op.ClientCredentialsStorage       = (*Storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*Storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*Storage)(nil)
)

// New opens the collections of authorization requests, refresh tokens and
// sign-in sessions.
func New(ctx context.Context, opts Options, st store.Store, u *users.Manager, c *clients.Manager, k *keys.Manager, log *slog.Logger) (*Storage, error) {
	ar, err := st.Collection(ctx, authRequestSpec)
	if err != nil {
		return nil, fmt.Errorf("oidcstorage: open %s: %w", authRequestSpec.Name, err)
	}
	rt, err := st.Collection(ctx, refreshSpec)
	if err != nil {
		return nil, fmt.Errorf("oidcstorage: open %s: %w", refreshSpec.Name, err)
	}
	ss, err := st.Collection(ctx, sessionSpec)
	if err != nil {
		return nil, fmt.Errorf("oidcstorage: open %s: %w", sessionSpec.Name, err)
	}
	now := opts.Now
	if now == nil {
		now = func() time.Time { return time.Now().UTC() }
	}
	return &Storage{opts: opts, st: st, users: u, clients: c, keys: k, authReqs: ar, refresh: rt, sessions: ss,
		log: log, now: now}, nil
}

// Health implements op.Storage.
func (s *Storage) Health(ctx context.Context) error { return s.st.Ping(ctx) }

// SigningKey implements op.Storage: the newest key signs.
func (s *Storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	k, err := s.keys.Signing(ctx)
	if err != nil {
		return nil, err
	}
	return k, nil
}

// SignatureAlgorithms implements op.Storage.
func (s *Storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

// KeySet implements op.Storage: the keys of the JWKS.
func (s *Storage) KeySet(ctx context.Context) ([]op.Key, error) {
	pub, err := s.keys.Published(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]op.Key, len(pub))
	for i, k := range pub {
		out[i] = k
	}
	return out, nil
}

// GetClientByClientID implements op.Storage.
func (s *Storage) GetClientByClientID(ctx context.Context, clientID string) (op.Client, error) {
	c, err := s.clients.Get(ctx, clientID)
	if err != nil {
		return nil, err
	}
	return s.client(c), nil
}

// AuthorizeClientIDSecret implements op.Storage.
func (s *Storage) AuthorizeClientIDSecret(ctx context.Context, clientID, clientSecret string) error {
	_, err := s.clients.Authenticate(ctx, clientID, clientSecret)
	return err
}

// ClientCredentials implements op.ClientCredentialsStorage.
func (s *Storage) ClientCredentials(ctx context.Context, clientID, clientSecret string) (op.Client, error) {
	c, err := s.clients.Authenticate(ctx, clientID, clientSecret)
	if err != nil {
		return nil, err
	}
	if !c.Allows(clients.GrantClientCredentials) {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("this client may not use the client_credentials grant")
	}
	return s.client(c), nil
}

// ClientCredentialsTokenRequest implements op.ClientCredentialsStorage.
// Requested scopes are ignored (RFC 6749 section 3.3 allows it): what a
// client may do is its configured roles, carried in the token.
func (s *Storage) ClientCredentialsTokenRequest(ctx context.Context, clientID string, _ []string) (op.TokenRequest, error) {
	c, err := s.clients.Get(ctx, clientID)
	if err != nil {
		return nil, err
	}
	return &clientCredentialsRequest{clientID: c.ID, roles: c.Roles}, nil
}

// clientCredentialsRequest is the token request of a service or script; the
// token's subject is the client itself.
type clientCredentialsRequest struct {
	clientID string
	roles    []string
}

func (r *clientCredentialsRequest) GetSubject() string    { return r.clientID }
func (r *clientCredentialsRequest) GetAudience() []string { return audience }
func (r *clientCredentialsRequest) GetScopes() []string   { return nil }

// GetPrivateClaimsFromRequest implements op.CanGetPrivateClaimsFromRequest:
// the claims every OpenCloud service reads from an access token. They are
// read afresh at every issue, so a group change applies at the next refresh.
func (s *Storage) GetPrivateClaimsFromRequest(ctx context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	if cc, ok := req.(*clientCredentialsRequest); ok {
		return map[string]any{"roles": cc.roles, authn.TokenUseClaim: authn.TokenUseAccess}, nil
	}
	return s.userClaims(ctx, req.GetSubject())
}

// GetPrivateClaimsFromScopes implements op.Storage (used when no request is at hand).
func (s *Storage) GetPrivateClaimsFromScopes(ctx context.Context, userID, _ string, _ []string) (map[string]any, error) {
	return s.userClaims(ctx, userID)
}

func (s *Storage) userClaims(ctx context.Context, userID string) (map[string]any, error) {
	u, err := s.activeUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"preferred_username": u.Username, "groups": u.Groups, "roles": u.Roles(),
		authn.TokenUseClaim: authn.TokenUseAccess}, nil
}

// activeUser returns an enabled user; tokens are never issued to others.
func (s *Storage) activeUser(ctx context.Context, id string) (users.User, error) {
	u, err := s.users.Get(ctx, id)
	if err != nil {
		return users.User{}, err
	}
	if u.Disabled {
		return users.User{}, users.ErrDisabled
	}
	return u, nil
}

// SetUserinfoFromScopes implements op.Storage; it is deprecated in favour of
// SetUserinfoFromRequest, which does the work.
func (s *Storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest implements op.CanSetUserinfoFromRequest: the claims
// of the ID token, by scope.
func (s *Storage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	u, err := s.activeUser(ctx, req.GetSubject())
	if err != nil {
		return err
	}
	setUserinfo(info, u, scopes, false)
	return nil
}

// SetUserinfoFromToken implements op.Storage: the userinfo endpoint answers
// every claim of the user, roles and groups included.
func (s *Storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, _, subject, _ string) error {
	u, err := s.activeUser(ctx, subject)
	if err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	setUserinfo(info, u, []string{oidc.ScopeProfile, oidc.ScopeEmail}, true)
	return nil
}

// SetIntrospectionFromToken implements op.Storage for tokens of users and of
// client-credentials clients.
func (s *Storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, _, subject, _ string) error {
	u, err := s.activeUser(ctx, subject)
	if errors.Is(err, users.ErrNotFound) {
		c, cerr := s.clients.Get(ctx, subject)
		if cerr != nil {
			return err
		}
		resp.Subject, resp.ClientID = c.ID, c.ID
		resp.Claims = map[string]any{"roles": c.Roles}
		return nil
	}
	if err != nil {
		return err
	}
	info := new(oidc.UserInfo)
	setUserinfo(info, u, []string{oidc.ScopeProfile, oidc.ScopeEmail}, true)
	resp.SetUserInfo(info)
	return nil
}

func setUserinfo(info *oidc.UserInfo, u users.User, scopes []string, withRoles bool) {
	info.Subject = u.ID
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile:
			info.PreferredUsername = u.Username
			info.Name = u.DisplayName
			info.UpdatedAt = oidc.FromTime(u.UpdatedAt)
		case oidc.ScopeEmail:
			info.Email = u.Email
			info.EmailVerified = false
		}
	}
	if withRoles {
		info.AppendClaims("groups", u.Groups)
		info.AppendClaims("roles", u.Roles())
	}
}

var errJWTProfile = errors.New("the JWT profile grant is not supported; use client_credentials")

// GetKeyByIDAndClientID implements op.Storage; JWT-profile client keys are not supported.
func (s *Storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errJWTProfile
}

// ValidateJWTProfileScopes implements op.Storage; see GetKeyByIDAndClientID.
func (s *Storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errJWTProfile
}
