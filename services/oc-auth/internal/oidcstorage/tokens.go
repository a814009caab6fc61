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
		{Name: "family_id", Type: store.String},
		{Name: "used", Type: store.Bool},
		{Name: "expires_at", Type: store.Time},
	},
}

// refreshDoc is a refresh token, stored under the digest of its value.
//
// Every token belongs to a family: the chain of rotations one authorization
// started. A rotated-out token stays as a used marker (RFC 9700 section
// 4.14.2): presented again, it revokes its whole family. A marker's
// expires_at is a lower bound of its family's expiry, which every rotation
// moves on; Prune moves it on too while the family lives.
type refreshDoc struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
	// FamilyID is empty on tokens stored before families existed: such a
	// token is the first of its family, named by its own id.
	FamilyID  string    `json:"family_id,omitempty"`
	Used      bool      `json:"used,omitempty"`
	UserID    string    `json:"user_id"`
	ClientID  string    `json:"client_id"`
	Scopes    []string  `json:"scopes,omitempty"`
	AMR       []string  `json:"amr,omitempty"`
	AuthTime  time.Time `json:"auth_time,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (d refreshDoc) family() string {
	if d.FamilyID == "" {
		return d.ID
	}
	return d.FamilyID
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

// CreateAccessAndRefreshTokens implements op.Storage. An authorization
// starts a family; a refresh rotates: the successor is stored, then the
// presented token becomes a used marker at the version read. Of two
// concurrent refreshes with one token only one gets there, and the other has
// presented a rotated-out token. Storing the successor first means that a
// revocation running meanwhile either finds it or has already deleted the
// presented token, which fails the rotation.
func (s *Storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	now := s.now()
	next := refreshDoc{CreatedAt: now, ExpiresAt: now.Add(s.opts.RefreshTTL)}
	var prev *refreshDoc
	switch r := req.(type) {
	case *AuthRequest:
		next.FamilyID = uuid.NewString()
		next.UserID, next.ClientID, next.Scopes, next.AMR, next.AuthTime = r.d.UserID, r.d.ClientID, r.d.Scopes, r.d.AMR, r.GetAuthTime()
	case *refreshRequest:
		if current == "" || password.Digest(current) != r.d.ID {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token mismatch")
		}
		prev = &r.d
		next.FamilyID = r.d.family()
		next.UserID, next.ClientID, next.Scopes, next.AMR, next.AuthTime = r.d.UserID, r.d.ClientID, r.scopes, r.d.AMR, r.d.AuthTime
	default:
		return "", "", time.Time{}, oidc.ErrUnsupportedGrantType().WithDescription("refresh tokens are issued to users only")
	}
	if s.opts.SessionMaxAge > 0 && !next.AuthTime.IsZero() {
		end := next.AuthTime.Add(s.opts.SessionMaxAge)
		if !now.Before(end) {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("the session is older than its maximum age; sign in again")
		}
		if end.Before(next.ExpiresAt) {
			next.ExpiresAt = end
		}
	}
	token, err := password.Token(refreshPrefix)
	if err != nil {
		return "", "", time.Time{}, err
	}
	next.ID = password.Digest(token)
	if _, err := s.refresh.Insert(ctx, next.ID, next); err != nil {
		return "", "", time.Time{}, fmt.Errorf("oidcstorage: insert refresh token: %w", err)
	}
	if prev != nil {
		if err := s.rotate(ctx, *prev, next); err != nil {
			return "", "", time.Time{}, err
		}
	}
	return uuid.NewString(), token, now.Add(s.opts.AccessTTL), nil
}

// rotate turns prev into a used marker of next's family; if it cannot, next
// is withdrawn.
func (s *Storage) rotate(ctx context.Context, prev, next refreshDoc) error {
	marker := refreshDoc{FamilyID: next.FamilyID, Used: true, UserID: prev.UserID, ClientID: prev.ClientID,
		CreatedAt: prev.CreatedAt, ExpiresAt: next.ExpiresAt}
	_, err := s.refresh.Replace(ctx, prev.ID, prev.Version, marker)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrVersionConflict):
		// A concurrent refresh rotated prev first. Revoking the family
		// withdraws next too.
		return s.reused(ctx, prev)
	}
	if derr := s.refresh.Delete(ctx, next.ID, 0); derr != nil && !errors.Is(derr, store.ErrNotFound) {
		return fmt.Errorf("oidcstorage: withdraw refresh token: %w", errors.Join(err, derr))
	}
	if errors.Is(err, store.ErrNotFound) {
		return oidc.ErrInvalidGrant().WithDescription("the refresh token was revoked")
	}
	return fmt.Errorf("oidcstorage: rotate refresh token: %w", err)
}

// reused answers a rotated-out token presented again. The client or a thief
// holds it, and the other one most likely holds its successor; which is which
// cannot be told, so the whole family is revoked.
func (s *Storage) reused(ctx context.Context, d refreshDoc) error {
	s.log.WarnContext(ctx, "rotated-out refresh token presented again; its session is revoked",
		"user_id", d.UserID, "client_id", d.ClientID)
	if err := s.revokeFamily(ctx, d); err != nil {
		return err
	}
	return oidc.ErrInvalidGrant().WithDescription("the refresh token was already used; the session is revoked, sign in again")
}

// revokeFamily deletes d and every token and marker of its family. d goes
// first: a token stored before families existed is found by its id only.
func (s *Storage) revokeFamily(ctx context.Context, d refreshDoc) error {
	if err := s.refresh.Delete(ctx, d.ID, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("oidcstorage: revoke refresh token: %w", err)
	}
	_, err := s.deleteAll(ctx, s.refresh, store.Eq("family_id", d.family()))
	return err
}

// TokenRequestByRefreshToken implements op.Storage. A used marker revokes
// its family; tokens of disabled or deleted users are refused.
func (s *Storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	d, err := s.refreshDoc(ctx, token)
	if err != nil {
		return nil, err
	}
	if d.Used {
		return nil, s.reused(ctx, d)
	}
	if !s.live(d) {
		return nil, op.ErrInvalidRefreshToken
	}
	if _, err := s.activeUser(ctx, d.UserID); err != nil {
		return nil, fmt.Errorf("%w: %w", op.ErrInvalidRefreshToken, err)
	}
	return &refreshRequest{d: d, scopes: d.Scopes}, nil
}

// refreshDoc returns the token or used marker stored for token.
func (s *Storage) refreshDoc(ctx context.Context, token string) (refreshDoc, error) {
	var d refreshDoc
	v, err := s.refresh.Get(ctx, password.Digest(token), &d)
	if errors.Is(err, store.ErrNotFound) {
		return refreshDoc{}, op.ErrInvalidRefreshToken
	}
	if err != nil {
		return refreshDoc{}, fmt.Errorf("oidcstorage: get refresh token: %w", err)
	}
	d.Version = v
	return d, nil
}

// live reports whether d is a token that may still be used.
func (s *Storage) live(d refreshDoc) bool { return !d.Used && s.now().Before(d.ExpiresAt) }

// GetRefreshTokenInfo implements op.Storage: the token id is its digest.
func (s *Storage) GetRefreshTokenInfo(ctx context.Context, _ string, token string) (string, string, error) {
	d, err := s.refreshDoc(ctx, token)
	if err != nil {
		return "", "", err
	}
	if !s.live(d) {
		return "", "", op.ErrInvalidRefreshToken
	}
	return d.UserID, d.ID, nil
}

// RevokeToken implements op.Storage. zitadel passes either a refresh token
// (userID empty), the digest GetRefreshTokenInfo returned, or the jti of an
// access token. A refresh token is revoked with its family: the session it
// belongs to ends. Access tokens are JWTs checked offline by every service
// and cannot be revoked; they expire within the access-token lifetime.
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
	if err := s.revokeFamily(ctx, d); err != nil {
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

// RevokeUser ends every sign-in session and revokes every refresh token of
// a user (disabled, deleted, or whose password changed). Sessions go first:
// a browser must not sign in again silently while its tokens are revoked.
func (s *Storage) RevokeUser(ctx context.Context, userID string) error {
	if _, err := s.deleteAll(ctx, s.sessions, store.Eq("user_id", userID)); err != nil {
		return err
	}
	_, err := s.deleteAll(ctx, s.refresh, store.Eq("user_id", userID))
	return err
}

// RevokeClient revokes every refresh token issued to a client (deleted).
func (s *Storage) RevokeClient(ctx context.Context, clientID string) error {
	_, err := s.deleteAll(ctx, s.refresh, store.Eq("client_id", clientID))
	return err
}

// Prune deletes expired authorization requests, sign-in sessions and
// refresh tokens, and the used markers of families that have ended (expired
// or revoked).
func (s *Storage) Prune(ctx context.Context) (int, error) {
	now := s.now()
	a, err := s.deleteAll(ctx, s.authReqs, store.Lt("expires_at", now))
	if err != nil {
		return a, err
	}
	se, err := s.deleteAll(ctx, s.sessions, store.Lt("expires_at", now))
	a += se
	if err != nil {
		return a, err
	}
	r, err := s.deleteAll(ctx, s.refresh, store.And(store.Ne("used", true), store.Lt("expires_at", now)))
	if err != nil {
		return a + r, err
	}
	m, err := s.pruneMarkers(ctx, now)
	return a + r + m, err
}

// pruneMarkers looks at the markers past their expires_at: those of a family
// without a live token are deleted, the others moved on to the expiry of
// their family's live token.
func (s *Storage) pruneMarkers(ctx context.Context, now time.Time) (int, error) {
	n := 0
	expiry := map[string]time.Time{} // by family; zero once it has ended
	for {
		recs, _, err := s.refresh.Find(ctx, store.Query{Filter: store.And(store.Eq("used", true), store.Lt("expires_at", now)), Limit: 200})
		if err != nil {
			return n, fmt.Errorf("oidcstorage: find used refresh tokens: %w", err)
		}
		if len(recs) == 0 {
			return n, nil
		}
		for _, r := range recs {
			var d refreshDoc
			if err := r.Decode(&d); err != nil {
				return n, fmt.Errorf("oidcstorage: decode used refresh token: %w", err)
			}
			exp, ok := expiry[d.FamilyID]
			if !ok {
				if exp, err = s.familyExpiry(ctx, d.FamilyID, now); err != nil {
					return n, err
				}
				expiry[d.FamilyID] = exp
			}
			if exp.IsZero() {
				err = s.refresh.Delete(ctx, r.ID, r.Version)
				if err == nil {
					n++
				}
			} else {
				_, err = s.refresh.UpdateIf(ctx, r.ID, store.Eq("used", true), map[string]any{"expires_at": exp})
			}
			// Another prune got there first.
			if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrVersionConflict) && !errors.Is(err, store.ErrConditionFailed) {
				return n, fmt.Errorf("oidcstorage: prune used refresh token: %w", err)
			}
		}
	}
}

// familyExpiry is when the family's live token expires, or zero if the
// family has none left.
func (s *Storage) familyExpiry(ctx context.Context, family string, now time.Time) (time.Time, error) {
	recs, _, err := s.refresh.Find(ctx, store.Query{
		Filter: store.And(store.Eq("family_id", family), store.Ne("used", true), store.Gt("expires_at", now)),
		Sort:   []store.Sort{{Field: "expires_at", Desc: true}}, Limit: 1})
	if err != nil {
		return time.Time{}, fmt.Errorf("oidcstorage: find live refresh token: %w", err)
	}
	if len(recs) == 0 {
		return time.Time{}, nil
	}
	var d refreshDoc
	if err := recs[0].Decode(&d); err != nil {
		return time.Time{}, fmt.Errorf("oidcstorage: decode refresh token: %w", err)
	}
	return d.ExpiresAt, nil
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
