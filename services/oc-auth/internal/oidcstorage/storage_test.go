package oidcstorage

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"
	"github.com/opencloud/opencloud/services/oc-auth/internal/clients"
	"github.com/opencloud/opencloud/services/oc-auth/internal/keys"
	"github.com/opencloud/opencloud/services/oc-auth/internal/password"
	"github.com/opencloud/opencloud/services/oc-auth/internal/users"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var backends = map[string]func(testing.TB) store.Store{"sqlite": testenv.SQLiteStore, "mongo": testenv.MongoStore}

func newStorage(t *testing.T, st store.Store) (*Storage, users.User) {
	t.Helper()
	ctx := context.Background()
	um, err := users.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	cm, err := clients.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	km, err := keys.Open(ctx, st, time.Hour, make([]byte, keys.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cm.EnsureWebClient(ctx, []string{"http://app/cb"}); err != nil {
		t.Fatal(err)
	}
	u, err := um.Create(ctx, users.NewUser{Username: "ada", Password: "analytical-engine"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, Options{Issuer: "http://x/auth", AccessTTL: time.Minute, RefreshTTL: time.Hour,
		AuthRequestTTL: 10 * time.Minute, CodeTTL: time.Minute, SessionTTL: time.Hour}, st, um, cm, km, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return s, u
}

// Expired requests, codes and refresh tokens are refused at once, and
// Prune deletes them, on both backends.
func TestExpiryAndPrune(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, u := newStorage(t, open(t))
			clock := time.Now().UTC()
			s.now = func() time.Time { return clock }

			ar, err := s.CreateAuthRequest(ctx, &oidc.AuthRequest{ClientID: clients.WebClientID, RedirectURI: "http://app/cb",
				Scopes: []string{"openid", "offline_access"}, ResponseType: oidc.ResponseTypeCode,
				CodeChallenge: "challenge", CodeChallengeMethod: oidc.CodeChallengeMethodS256}, "")
			if err != nil {
				t.Fatal(err)
			}
			sess := Session{UserID: u.ID, AuthTime: clock, AMR: []string{"pwd"}}
			if err := s.CompleteLogin(ctx, ar.GetID(), sess); err != nil {
				t.Fatal(err)
			}
			if err := s.CompleteLogin(ctx, ar.GetID(), sess); !errors.Is(err, ErrAuthRequestNotFound) {
				t.Errorf("second login on one request: %v", err)
			}
			if err := s.SaveAuthCode(ctx, ar.GetID(), "code-1"); err != nil {
				t.Fatal(err)
			}
			if err := s.SaveAuthCode(ctx, ar.GetID(), "code-2"); err == nil {
				t.Error("a second code for one request")
			}
			done, err := s.AuthRequest(ctx, ar.GetID())
			if err != nil {
				t.Fatal(err)
			}
			_, rt, _, err := s.CreateAccessAndRefreshTokens(ctx, done, "")
			if err != nil {
				t.Fatal(err)
			}

			clock = clock.Add(2 * time.Minute) // past the code's lifetime
			if _, err := s.AuthRequestByCode(ctx, "code-1"); err == nil {
				t.Error("an expired code was accepted")
			}
			clock = clock.Add(2 * time.Hour) // past everything
			if _, err := s.AuthRequest(ctx, ar.GetID()); !errors.Is(err, ErrAuthRequestNotFound) {
				t.Errorf("expired request: %v", err)
			}
			if _, err := s.TokenRequestByRefreshToken(ctx, rt); err == nil {
				t.Error("an expired refresh token was accepted")
			}
			n, err := s.Prune(ctx)
			if err != nil || n != 2 {
				t.Errorf("pruned %d, %v; want 2", n, err)
			}
		})
	}
}

// A sign-in session is found by its cookie value until it expires, its user
// is disabled or it is ended; Prune deletes it once expired. On both backends.
func TestSessions(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, u := newStorage(t, open(t))
			clock := time.Now().UTC()
			s.now = func() time.Time { return clock }

			token, created, err := s.CreateSession(ctx, u.ID, []string{"pwd"})
			if err != nil {
				t.Fatal(err)
			}
			if !created.ExpiresAt.Equal(clock.Add(time.Hour)) || !created.AuthTime.Equal(clock) {
				t.Errorf("created %+v", created)
			}
			got, err := s.Session(ctx, token)
			if err != nil || got.UserID != u.ID || !got.AuthTime.Equal(clock) || len(got.AMR) != 1 {
				t.Fatalf("session %+v, %v", got, err)
			}
			for _, bad := range []string{"", "forged", password.Digest(token)} {
				if _, err := s.Session(ctx, bad); !errors.Is(err, ErrSessionNotFound) {
					t.Errorf("session %q: %v", bad, err)
				}
			}

			// Reuse does not extend it: the expiry is absolute.
			clock = clock.Add(59 * time.Minute)
			if _, err := s.Session(ctx, token); err != nil {
				t.Fatal(err)
			}
			clock = clock.Add(time.Minute)
			if _, err := s.Session(ctx, token); !errors.Is(err, ErrSessionNotFound) {
				t.Errorf("expired session: %v", err)
			}
			ended, _, err := s.CreateSession(ctx, u.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.EndSession(ctx, ended); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Session(ctx, ended); !errors.Is(err, ErrSessionNotFound) {
				t.Errorf("ended session: %v", err)
			}
			if err := s.EndSession(ctx, ended); err != nil {
				t.Errorf("ending an unknown session: %v", err)
			}
			live, _, err := s.CreateSession(ctx, u.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			clock = clock.Add(time.Second)
			if n, err := s.Prune(ctx); err != nil || n != 1 {
				t.Errorf("pruned %d, %v; want the expired session", n, err)
			}

			// A disabled user's session is not found, even before RevokeUser.
			if _, err := s.users.Update(ctx, u.ID, u.Version, users.Update{Username: u.Username, Disabled: true}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Session(ctx, live); !errors.Is(err, ErrSessionNotFound) {
				t.Errorf("session of a disabled user: %v", err)
			}
			if err := s.RevokeUser(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
			if n, err := s.sessions.Count(ctx, nil); err != nil || n != 0 {
				t.Errorf("%d sessions left after RevokeUser, %v", n, err)
			}
		})
	}
}
