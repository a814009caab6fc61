package oidcstorage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/services/oc-auth/internal/password"
	"github.com/opencloud/opencloud/services/oc-auth/internal/users"
)

// ErrSessionNotFound is returned for an unknown or expired sign-in session,
// and for the session of a user who is disabled or gone.
var ErrSessionNotFound = errors.New("sign-in session not found or expired")

var sessionSpec = store.Spec{
	Name: "auth_sessions",
	Fields: []store.Field{
		{Name: "user_id", Type: store.String},
		{Name: "expires_at", Type: store.Time},
	},
}

// sessionDoc is a browser's sign-in session, stored under the digest of the
// random value its cookie holds.
type sessionDoc struct {
	ID        string    `json:"id"`
	Version   int64     `json:"version"`
	UserID    string    `json:"user_id"`
	AuthTime  time.Time `json:"auth_time"`
	AMR       []string  `json:"amr,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Session is a sign-in session: who signed in, when, how, and until when
// the sign-in is reused without asking for the password again. Its expiry
// is absolute: reusing a session does not extend it.
type Session struct {
	UserID    string
	AuthTime  time.Time
	AMR       []string
	ExpiresAt time.Time
}

// CreateSession starts a sign-in session for a user who has just
// authenticated, and returns the value the browser keeps (only its digest
// is stored).
func (s *Storage) CreateSession(ctx context.Context, userID string, amr []string) (string, Session, error) {
	token, err := password.Token("")
	if err != nil {
		return "", Session{}, err
	}
	now := s.now()
	d := sessionDoc{ID: password.Digest(token), UserID: userID, AuthTime: now, AMR: amr, ExpiresAt: now.Add(s.opts.SessionTTL)}
	if _, err := s.sessions.Insert(ctx, d.ID, d); err != nil {
		return "", Session{}, fmt.Errorf("oidcstorage: insert session: %w", err)
	}
	return token, d.session(), nil
}

// Session returns the live session the browser's value names, if its user
// is still enabled.
func (s *Storage) Session(ctx context.Context, token string) (Session, error) {
	if token == "" {
		return Session{}, ErrSessionNotFound
	}
	var d sessionDoc
	_, err := s.sessions.Get(ctx, password.Digest(token), &d)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrSessionNotFound
	}
	if err != nil {
		return Session{}, fmt.Errorf("oidcstorage: get session: %w", err)
	}
	if !s.now().Before(d.ExpiresAt) {
		return Session{}, ErrSessionNotFound
	}
	_, err = s.activeUser(ctx, d.UserID)
	if errors.Is(err, users.ErrNotFound) || errors.Is(err, users.ErrDisabled) {
		// Disabling or deleting a user ends its sessions; this holds even
		// if that cleanup failed.
		return Session{}, fmt.Errorf("%w: %w", ErrSessionNotFound, err)
	}
	if err != nil {
		return Session{}, err
	}
	return d.session(), nil
}

// EndSession deletes the session the browser's value names; an unknown one
// is no error.
func (s *Storage) EndSession(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	if err := s.sessions.Delete(ctx, password.Digest(token), 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("oidcstorage: delete session: %w", err)
	}
	return nil
}

func (d sessionDoc) session() Session {
	return Session{UserID: d.UserID, AuthTime: d.AuthTime, AMR: slices.Clone(d.AMR), ExpiresAt: d.ExpiresAt}
}
