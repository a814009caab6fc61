package oidcstorage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/services/oc-auth/internal/password"
)

// refreshPrefix marks refresh tokens so secret scanners can recognise them.
const refreshPrefix = "ocr_"

var refreshSpec = store.Spec{
	Name: "auth_refresh_tokens",
	Fields: []store.Field{
		{Name: "user_id", Type: store.String},
		{Name: "client_id", Type: store.String},
		{Name: "expires_at", Type: store.Time},
	},
}

// refreshDoc is a refresh token, stored under the digest of its value.
type refreshDoc struct {
	ID        string    `json:"id"`
	Version   int64     `json:"version"`
	UserID    string    `json:"user_id"`
	ClientID  string    `json:"client_id"`
	Scopes    []string  `json:"scopes"`
	AMR       []string  `json:"amr,omitempty"`
	AuthTime  time.Time `json:"auth_time"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// refreshRequest is a stored refresh token as zitadel sees it.
type refreshRequest struct {
	d      refreshDoc
	scopes []string // narrowed by the refresh request, if it asked
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string             { return r.d.AMR }
func (r *refreshRequest) GetAudience() []string        { return audience }
func (r *refreshRequest) GetAuthTime() time.Time       { return r.d.AuthTime }
func (r *refreshRequest) GetClientID() string          { return r.d.ClientID }
func (r *refreshRequest) GetScopes() []string          { return r.scopes }
func (r *refreshRequest) GetSubject() string           { return r.d.UserID }
func (r *refreshRequest) SetCurrentScopes(sc []string) { r.scopes = sc }

// CreateAccessToken implements op.Storage. Access tokens are self-contained
// JWTs: only their id and expiry are decided here.
func (s *Storage) CreateAccessToken(context.Context, op.TokenRequest) (string, time.Time, error) {
	return uuid.NewString(), s.now().Add(s.opts.AccessTTL), nil
}

// CreateAccessAndRefreshTokens implements op.Storage. On a refresh, the
// presented token is consumed (deleted at the version read) before the new
// one is stored: rotation, and of two concurrent refreshes with one token
// only one succeeds.
func (s *Storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	now := s.now()
	next := refreshDoc{CreatedAt: now, ExpiresAt: now.Add(s.opts.RefreshTTL)}
	switch r := req.(type) {
	case *AuthRequest:
		next.UserID, next.ClientID, next.Scopes, next.AMR, next.AuthTime = r.d.UserID, r.d.ClientID, r.d.Scopes, r.d.AMR, r.GetAuthTime()
	case *refreshRequest:
		if current == "" || password.Digest(current) != r.d.ID {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token mismatch")
		}
		err := s.refresh.Delete(ctx, r.d.ID, r.d.Version)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrVersionConflict) {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token already used")
		}
		if err != nil {
			return "", "", time.Time{}, fmt.Errorf("oidcstorage: consume refresh token: %w", err)
		}
		next.UserID, next.ClientID, next.Scopes, next.AMR, next.AuthTime = r.d.UserID, r.d.ClientID, r.scopes, r.d.AMR, r.d.AuthTime
	default:
		return "", "", time.Time{}, oidc.ErrUnsupportedGrantType().WithDescription("refresh tokens are issued to users only")
	}
	token, err := password.Token(refreshPrefix)
	if err != nil {
		return "", "", time.Time{}, err
	}
	next.ID = password.Digest(token)
	if _, err := s.refresh.Insert(ctx, next.ID, next); err != nil {
		return "", "", time.Time{}, fmt.Errorf("oidcstorage: insert refresh token: %w", err)
	}
	return uuid.NewString(), token, now.Add(s.opts.AccessTTL), nil
}

// TokenRequestByRefreshToken implements op.Storage. Tokens of disabled or
// deleted users are refused.
func (s *Storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	d, err := s.refreshDoc(ctx, token)
	if err != nil {
		return nil, err
	}
	if _, err := s.activeUser(ctx, d.UserID); err != nil {
		return nil, fmt.Errorf("%w: %w", op.ErrInvalidRefreshToken, err)
	}
	return &refreshRequest{d: d, scopes: d.Scopes}, nil
}

func (s *Storage) refreshDoc(ctx context.Context, token string) (refreshDoc, error) {
	var d refreshDoc
	v, err := s.refresh.Get(ctx, password.Digest(token), &d)
	if errors.Is(err, store.ErrNotFound) {
		return refreshDoc{}, op.ErrInvalidRefreshToken
	}
	if err != nil {
		return refreshDoc{}, fmt.Errorf("oidcstorage: get refresh token: %w", err)
	}
	if !s.now().Before(d.ExpiresAt) {
		return refreshDoc{}, op.ErrInvalidRefreshToken
	}
	d.Version = v
	return d, nil
}

// GetRefreshTokenInfo implements op.Storage: the token id is its digest.
func (s *Storage) GetRefreshTokenInfo(ctx context.Context, _ string, token string) (string, string, error) {
	d, err := s.refreshDoc(ctx, token)
	if err != nil {
		return "", "", err
	}
	return d.UserID, d.ID, nil
}

// RevokeToken implements op.Storage. zitadel passes either a refresh token
// (userID empty), the digest GetRefreshTokenInfo returned, or the jti of an
// access token. Access tokens are JWTs checked offline by every service and
// cannot be revoked; they expire within the access-token lifetime.
func (s *Storage) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	id := tokenOrID
	if userID == "" {
		id = password.Digest(tokenOrID)
	}
	var d refreshDoc
	_, err := s.refresh.Get(ctx, id, &d)
	switch {
	case errors.Is(err, store.ErrNotFound) && userID == "":
		return nil // RFC 7009: an unknown token is not an error
	case errors.Is(err, store.ErrNotFound):
		// RFC 7009 section 2.2.1.
		return &oidc.Error{ErrorType: "unsupported_token_type", Description: fmt.Sprintf(
			"access tokens are JWTs and cannot be revoked; they expire within %s", s.opts.AccessTTL)}
	case err != nil:
		return oidc.ErrServerError().WithParent(err)
	}
	if d.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("the token was issued to another client")
	}
	if err := s.refresh.Delete(ctx, id, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// TerminateSession implements op.Storage (end_session): the user's refresh
// tokens for that client are revoked. Without an id_token_hint the user is
// unknown and nothing is revoked.
func (s *Storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	if userID == "" {
		return nil
	}
	f := store.Eq("user_id", userID)
	if clientID != "" {
		f = store.And(f, store.Eq("client_id", clientID))
	}
	_, err := s.deleteAll(ctx, s.refresh, f)
	return err
}

// RevokeUser revokes every refresh token of a user (disabled, deleted, or
// whose password changed).
func (s *Storage) RevokeUser(ctx context.Context, userID string) error {
	_, err := s.deleteAll(ctx, s.refresh, store.Eq("user_id", userID))
	return err
}

// RevokeClient revokes every refresh token issued to a client (deleted).
func (s *Storage) RevokeClient(ctx context.Context, clientID string) error {
	_, err := s.deleteAll(ctx, s.refresh, store.Eq("client_id", clientID))
	return err
}

// Prune deletes expired authorization requests and refresh tokens.
func (s *Storage) Prune(ctx context.Context) (int, error) {
	now := s.now()
	a, err := s.deleteAll(ctx, s.authReqs, store.Lt("expires_at", now))
	if err != nil {
		return a, err
	}
	r, err := s.deleteAll(ctx, s.refresh, store.Lt("expires_at", now))
	return a + r, err
}

func (s *Storage) deleteAll(ctx context.Context, col store.Collection, f store.Filter) (int, error) {
	n := 0
	for {
		recs, _, err := col.Find(ctx, store.Query{Filter: f, Limit: 200})
		if err != nil {
			return n, fmt.Errorf("oidcstorage: find: %w", err)
		}
		if len(recs) == 0 {
			return n, nil
		}
		for _, r := range recs {
			if err := col.Delete(ctx, r.ID, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
				return n, fmt.Errorf("oidcstorage: delete: %w", err)
			}
			n++
		}
	}
}
