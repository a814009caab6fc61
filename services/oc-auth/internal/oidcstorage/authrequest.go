package oidcstorage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/services/oc-auth/internal/clients"
	"github.com/opencloud/opencloud/services/oc-auth/internal/password"
)

// ErrAuthRequestNotFound is returned for unknown, finished or expired
// authorization requests.
var ErrAuthRequestNotFound = errors.New("authorization request not found or expired")

var authRequestSpec = store.Spec{
	Name: "auth_requests",
	Fields: []store.Field{
		{Name: "done", Type: store.Bool},
		{Name: "code_digest", Type: store.String},
		{Name: "code_used", Type: store.Bool},
		{Name: "expires_at", Type: store.Time},
	},
}

// authRequestDoc is a pending or completed authorization request. The code
// is kept as a digest only.
type authRequestDoc struct {
	ID                  string     `json:"id"`
	Version             int64      `json:"version"`
	ClientID            string     `json:"client_id"`
	RedirectURI         string     `json:"redirect_uri"`
	Scopes              []string   `json:"scopes"`
	ResponseType        string     `json:"response_type"`
	ResponseMode        string     `json:"response_mode,omitempty"`
	State               string     `json:"state,omitempty"`
	Nonce               string     `json:"nonce,omitempty"`
	Prompt              []string   `json:"prompt,omitempty"`
	MaxAge              *uint      `json:"max_age,omitempty"`
	LoginHint           string     `json:"login_hint,omitempty"`
	HintUserID          string     `json:"hint_user_id,omitempty"` // subject of the id_token_hint
	CodeChallenge       string     `json:"code_challenge,omitempty"`
	CodeChallengeMethod string     `json:"code_challenge_method,omitempty"`
	Done                bool       `json:"done"`
	UserID              string     `json:"user_id,omitempty"`
	AuthTime            *time.Time `json:"auth_time,omitempty"`
	AMR                 []string   `json:"amr,omitempty"`
	CodeDigest          string     `json:"code_digest"`
	CodeUsed            bool       `json:"code_used"`
	CodeExpiresAt       *time.Time `json:"code_expires_at,omitempty"`
	CreatedAt           time.Time  `json:"created_at"`
	ExpiresAt           time.Time  `json:"expires_at"`
}

// AuthRequest is a stored authorization request as zitadel sees it
// (op.AuthRequest), and as the login page sees it.
type AuthRequest struct{ d authRequestDoc }

var _ op.AuthRequest = (*AuthRequest)(nil)

func (a *AuthRequest) GetID() string                      { return a.d.ID }
func (a *AuthRequest) GetACR() string                     { return "" }
func (a *AuthRequest) GetAMR() []string                   { return a.d.AMR }
func (a *AuthRequest) GetAudience() []string              { return audience }
func (a *AuthRequest) GetClientID() string                { return a.d.ClientID }
func (a *AuthRequest) GetNonce() string                   { return a.d.Nonce }
func (a *AuthRequest) GetRedirectURI() string             { return a.d.RedirectURI }
func (a *AuthRequest) GetScopes() []string                { return a.d.Scopes }
func (a *AuthRequest) GetState() string                   { return a.d.State }
func (a *AuthRequest) GetSubject() string                 { return a.d.UserID }
func (a *AuthRequest) Done() bool                         { return a.d.Done }
func (a *AuthRequest) GetResponseType() oidc.ResponseType { return oidc.ResponseType(a.d.ResponseType) }
func (a *AuthRequest) GetResponseMode() oidc.ResponseMode { return oidc.ResponseMode(a.d.ResponseMode) }

// LoginHint is the login_hint the client sent, to prefill the form.
func (a *AuthRequest) LoginHint() string { return a.d.LoginHint }

// PromptNone reports whether the client asked for no interaction.
func (a *AuthRequest) PromptNone() bool {
	for _, p := range a.d.Prompt {
		if p == oidc.PromptNone {
			return true
		}
	}
	return false
}

// AcceptsSession reports whether the sign-in session may complete the
// request without asking for the password: the client asked for no fresh
// sign-in (prompt=login, prompt=select_account, or a max_age the session is
// older than), and the id_token_hint, if any, names the session's user.
func (a *AuthRequest) AcceptsSession(s Session, now time.Time) bool {
	for _, p := range a.d.Prompt {
		if p == oidc.PromptLogin || p == oidc.PromptSelectAccount {
			return false
		}
	}
	if a.d.MaxAge != nil && now.Sub(s.AuthTime) > time.Duration(*a.d.MaxAge)*time.Second {
		return false
	}
	return a.d.HintUserID == "" || a.d.HintUserID == s.UserID
}

func (a *AuthRequest) GetAuthTime() time.Time {
	if a.d.AuthTime == nil {
		return time.Time{}
	}
	return *a.d.AuthTime
}

func (a *AuthRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.d.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.d.CodeChallenge, Method: oidc.CodeChallengeMethod(a.d.CodeChallengeMethod)}
}

// LogValue keeps state, nonce and challenge out of logs.
func (a *AuthRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", a.d.ID), slog.String("client_id", a.d.ClientID))
}

// CreateAuthRequest implements op.Storage. Public clients must use PKCE
// with S256; the plain method is refused for everyone. hintUserID is the
// subject of a valid id_token_hint.
func (s *Storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, hintUserID string) (op.AuthRequest, error) {
	c, err := s.clients.Get(ctx, req.ClientID)
	if err != nil {
		return nil, oidc.ErrInvalidClient().WithParent(err)
	}
	if req.CodeChallenge == "" && c.Public {
		return nil, oidc.ErrInvalidRequest().WithDescription("this client must use PKCE: send code_challenge and code_challenge_method=S256")
	}
	if req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	if !c.Allows(clients.GrantAuthorizationCode) {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("this client may not use the authorization_code grant")
	}
	now := s.now()
	d := authRequestDoc{
		ID: uuid.NewString(), ClientID: req.ClientID, RedirectURI: req.RedirectURI, Scopes: req.Scopes,
		ResponseType: string(req.ResponseType), ResponseMode: string(req.ResponseMode), State: req.State,
		Nonce: req.Nonce, Prompt: req.Prompt, MaxAge: req.MaxAge, LoginHint: req.LoginHint, HintUserID: hintUserID,
		CodeChallenge: req.CodeChallenge, CodeChallengeMethod: string(req.CodeChallengeMethod),
		CreatedAt: now, ExpiresAt: now.Add(s.opts.AuthRequestTTL),
	}
	v, err := s.authReqs.Insert(ctx, d.ID, d)
	if err != nil {
		return nil, fmt.Errorf("oidcstorage: insert auth request: %w", err)
	}
	d.Version = v
	return &AuthRequest{d}, nil
}

// AuthRequestByID implements op.Storage; it is also how the login page
// finds the request it completes.
func (s *Storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return s.AuthRequest(ctx, id)
}

// AuthRequest returns a live authorization request.
func (s *Storage) AuthRequest(ctx context.Context, id string) (*AuthRequest, error) {
	var d authRequestDoc
	v, err := s.authReqs.Get(ctx, id, &d)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrAuthRequestNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("oidcstorage: get auth request: %w", err)
	}
	if !s.now().Before(d.ExpiresAt) {
		return nil, ErrAuthRequestNotFound
	}
	d.Version = v
	return &AuthRequest{d}, nil
}

// CompleteLogin marks request id as authenticated by the sign-in session's
// user, at the session's sign-in time and by its methods. It succeeds once:
// a second login on the same request is refused.
func (s *Storage) CompleteLogin(ctx context.Context, id string, sess Session) error {
	_, err := s.authReqs.UpdateIf(ctx, id, store.And(store.Eq("done", false), store.Gt("expires_at", s.now())),
		map[string]any{"done": true, "user_id": sess.UserID, "auth_time": sess.AuthTime, "amr": sess.AMR})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConditionFailed) {
		return ErrAuthRequestNotFound
	}
	if err != nil {
		return fmt.Errorf("oidcstorage: complete auth request: %w", err)
	}
	return nil
}

// SaveAuthCode implements op.Storage. Each request yields one code.
func (s *Storage) SaveAuthCode(ctx context.Context, id, code string) error {
	exp := s.now().Add(s.opts.CodeTTL)
	_, err := s.authReqs.UpdateIf(ctx, id, store.And(store.Eq("done", true), store.Eq("code_digest", "")),
		map[string]any{"code_digest": password.Digest(code), "code_used": false, "code_expires_at": exp})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConditionFailed) {
		return oidc.ErrInvalidRequest().WithDescription("this authorization request already produced a code; start a new login")
	}
	if err != nil {
		return fmt.Errorf("oidcstorage: save code: %w", err)
	}
	return nil
}

// AuthRequestByCode implements op.Storage. The code is claimed atomically,
// so of two concurrent exchanges of one code at most one gets tokens.
func (s *Storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	recs, _, err := s.authReqs.Find(ctx, store.Query{Filter: store.Eq("code_digest", password.Digest(code)), Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("oidcstorage: find code: %w", err)
	}
	if len(recs) == 0 {
		return nil, errors.New("unknown code")
	}
	var d authRequestDoc
	if err := recs[0].Decode(&d); err != nil {
		return nil, fmt.Errorf("oidcstorage: decode auth request: %w", err)
	}
	if d.CodeExpiresAt == nil || !s.now().Before(*d.CodeExpiresAt) {
		return nil, errors.New("code expired")
	}
	v, err := s.authReqs.UpdateIf(ctx, d.ID, store.Eq("code_used", false), map[string]any{"code_used": true})
	if errors.Is(err, store.ErrConditionFailed) || errors.Is(err, store.ErrNotFound) {
		return nil, errors.New("code already used")
	}
	if err != nil {
		return nil, fmt.Errorf("oidcstorage: claim code: %w", err)
	}
	d.Version, d.CodeUsed = v, true
	return &AuthRequest{d}, nil
}

// DeleteAuthRequest implements op.Storage.
func (s *Storage) DeleteAuthRequest(ctx context.Context, id string) error {
	if err := s.authReqs.Delete(ctx, id, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("oidcstorage: delete auth request: %w", err)
	}
	return nil
}
