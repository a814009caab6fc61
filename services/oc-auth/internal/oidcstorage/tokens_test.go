package oidcstorage

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"
	"github.com/opencloud/opencloud/services/oc-auth/internal/clients"
	"github.com/opencloud/opencloud/services/oc-auth/internal/password"
	"github.com/opencloud/opencloud/services/oc-auth/internal/users"
)

// login runs the authorization code flow as zitadel does and returns the
// refresh token it yields: the first of a new family.
func login(t *testing.T, s *Storage, u users.User) string {
	t.Helper()
	ctx := context.Background()
	ar, err := s.CreateAuthRequest(ctx, &oidc.AuthRequest{ClientID: clients.WebClientID, RedirectURI: "http://app/cb",
		Scopes: []string{"openid", "offline_access"}, ResponseType: oidc.ResponseTypeCode,
		CodeChallenge: "challenge", CodeChallengeMethod: oidc.CodeChallengeMethodS256}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteLogin(ctx, ar.GetID(), Session{UserID: u.ID, AuthTime: s.now(), AMR: []string{"pwd"}}); err != nil {
		t.Fatal(err)
	}
	done, err := s.AuthRequest(ctx, ar.GetID())
	if err != nil {
		t.Fatal(err)
	}
	_, rt, _, err := s.CreateAccessAndRefreshTokens(ctx, done, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAuthRequest(ctx, ar.GetID()); err != nil {
		t.Fatal(err)
	}
	return rt
}

// refresh runs the refresh_token grant as zitadel does.
func refresh(s *Storage, rt string) (string, error) {
	ctx := context.Background()
	req, err := s.TokenRequestByRefreshToken(ctx, rt)
	if err != nil {
		return "", err
	}
	_, next, _, err := s.CreateAccessAndRefreshTokens(ctx, req, rt)
	return next, err
}

func mustRefresh(t *testing.T, s *Storage, rt string) string {
	t.Helper()
	next, err := refresh(s, rt)
	if err != nil {
		t.Fatal(err)
	}
	return next
}

// family returns how many tokens and used markers the family of rt holds.
func family(t *testing.T, s *Storage, rt string) int64 {
	t.Helper()
	var d refreshDoc
	if _, err := s.refresh.Get(context.Background(), password.Digest(rt), &d); err != nil {
		t.Fatal(err)
	}
	n, err := s.refresh.Count(context.Background(), store.Eq("family_id", d.family()))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func count(t *testing.T, s *Storage) int64 {
	t.Helper()
	n, err := s.refresh.Count(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A rotated-out token presented again revokes its whole family, and only
// its family, and says so in a warning that names no token.
func TestRefreshReuseRevokesFamily(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			s, u := newStorage(t, open(t))
			var logs testenv.Buffer
			s.log = slog.New(slog.NewTextHandler(&logs, nil))

			a0 := login(t, s, u)
			b0 := login(t, s, u) // another login of the same user
			a1 := mustRefresh(t, s, a0)
			a2 := mustRefresh(t, s, a1)
			b1 := mustRefresh(t, s, b0)
			if n := family(t, s, a2); n != 3 {
				t.Errorf("family a holds %d documents, want 2 used markers and a token", n)
			}

			if _, err := refresh(s, a0); !errors.Is(err, oidc.ErrInvalidGrant()) {
				t.Errorf("reuse of a rotated-out token: %v, want invalid_grant", err)
			}
			for name, rt := range map[string]string{"current": a2, "rotated-out": a1, "reused": a0} {
				if _, err := refresh(s, rt); err == nil {
					t.Errorf("the %s token of a revoked family was accepted", name)
				}
			}
			if _, err := refresh(s, b1); err != nil {
				t.Errorf("another family of the same user: %v", err)
			}
			if n := count(t, s); n != 3 {
				t.Errorf("%d documents left, want the 3 of family b", n)
			}

			out := logs.String()
			if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "user_id="+u.ID) || !strings.Contains(out, "client_id="+clients.WebClientID) {
				t.Errorf("warning: %q", out)
			}
			for _, secret := range []string{a0, a1, a2, password.Digest(a0)} {
				if strings.Contains(out, secret) {
					t.Errorf("the log shows a token: %q", out)
				}
			}
		})
	}
}

// Two refreshes with one token: one wins, the other presents a token rotated
// out meanwhile, which revokes the family, the winner's token included.
func TestConcurrentRefresh(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, u := newStorage(t, open(t))

			t.Run("both read before either rotates", func(t *testing.T) {
				rt := login(t, s, u)
				r1, err := s.TokenRequestByRefreshToken(ctx, rt)
				if err != nil {
					t.Fatal(err)
				}
				r2, err := s.TokenRequestByRefreshToken(ctx, rt)
				if err != nil {
					t.Fatal(err)
				}
				_, won, _, err := s.CreateAccessAndRefreshTokens(ctx, r1, rt)
				if err != nil {
					t.Fatal(err)
				}
				if _, _, _, err := s.CreateAccessAndRefreshTokens(ctx, r2, rt); !errors.Is(err, oidc.ErrInvalidGrant()) {
					t.Errorf("second rotation: %v, want invalid_grant", err)
				}
				if _, err := refresh(s, won); err == nil {
					t.Error("the winner's token outlived the revocation of its family")
				}
			})

			t.Run("racing", func(t *testing.T) {
				rt := login(t, s, u)
				const n = 4
				var wg sync.WaitGroup
				won := make(chan string, n)
				for range n {
					wg.Go(func() {
						if next, err := refresh(s, rt); err == nil {
							won <- next
						}
					})
				}
				wg.Wait()
				close(won)
				var winners []string
				for w := range won {
					winners = append(winners, w)
				}
				if len(winners) != 1 {
					t.Fatalf("%d of %d concurrent refreshes succeeded, want 1", len(winners), n)
				}
				if _, err := refresh(s, winners[0]); err == nil {
					t.Error("the winner's token outlived the revocation of its family")
				}
			})
			if n := count(t, s); n != 0 {
				t.Errorf("%d refresh documents left after the revocations", n)
			}
		})
	}
}

// Used markers live as long as their family: Prune moves them on while the
// family has a live token, and deletes them once it has none.
func TestPruneUsedMarkers(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, u := newStorage(t, open(t)) // refresh tokens live an hour
			start := time.Now().UTC()
			clock := start
			s.now = func() time.Time { return clock }

			a0, b0 := login(t, s, u), login(t, s, u)
			a1, b1 := mustRefresh(t, s, a0), mustRefresh(t, s, b0)
			clock = start.Add(50 * time.Minute)
			a2, b2 := mustRefresh(t, s, a1), mustRefresh(t, s, b1)

			// The markers of a0 and b0 are past the expiry of their
			// successors, but a2 and b2 live on.
			clock = start.Add(70 * time.Minute)
			if n, err := s.Prune(ctx); err != nil || n != 0 {
				t.Errorf("pruned %d, %v; want 0 while the families live", n, err)
			}
			if n := count(t, s); n != 6 {
				t.Errorf("%d documents, want 6", n)
			}
			if _, err := refresh(s, a0); !errors.Is(err, oidc.ErrInvalidGrant()) {
				t.Errorf("reuse after a prune: %v, want invalid_grant", err)
			}
			if _, err := refresh(s, a2); err == nil {
				t.Error("reuse after a prune did not revoke the family")
			}

			// Past b2's expiry, the whole family goes.
			clock = start.Add(111 * time.Minute)
			if _, err := refresh(s, b2); err == nil {
				t.Error("an expired refresh token was accepted")
			}
			if n, err := s.Prune(ctx); err != nil || n != 3 {
				t.Errorf("pruned %d, %v; want 3 (a token and two used markers)", n, err)
			}
			if n := count(t, s); n != 0 {
				t.Errorf("%d documents left", n)
			}
		})
	}
}

// Revocation, logout and the revocation of a user take the used markers
// with the tokens.
func TestRevocationTakesMarkers(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, u := newStorage(t, open(t))

			a1 := mustRefresh(t, s, login(t, s, u))
			b1 := mustRefresh(t, s, login(t, s, u))
			if err := s.RevokeToken(ctx, a1, "", clients.WebClientID); err != nil {
				t.Fatal(err)
			}
			if n := count(t, s); n != 2 {
				t.Errorf("after revoking a token: %d documents, want the 2 of the other family", n)
			}
			if _, err := refresh(s, b1); err != nil {
				t.Errorf("the other family: %v", err)
			}

			mustRefresh(t, s, login(t, s, u))
			if err := s.TerminateSession(ctx, u.ID, clients.WebClientID); err != nil {
				t.Fatal(err)
			}
			if n := count(t, s); n != 0 {
				t.Errorf("after logout: %d documents", n)
			}

			mustRefresh(t, s, login(t, s, u))
			if err := s.RevokeUser(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
			if n := count(t, s); n != 0 {
				t.Errorf("after revoking the user: %d documents", n)
			}
		})
	}
}

// A token stored before families existed (no family_id, no used) still
// refreshes, starts the family of its successors, and its reuse revokes them.
func TestTokenWithoutFamily(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, u := newStorage(t, open(t))
			old, err := password.Token(refreshPrefix)
			if err != nil {
				t.Fatal(err)
			}
			now := s.now()
			if _, err := s.refresh.Insert(ctx, password.Digest(old), map[string]any{
				"user_id": u.ID, "client_id": clients.WebClientID, "scopes": []string{"openid", "offline_access"},
				"auth_time": now, "created_at": now, "expires_at": now.Add(time.Hour),
			}); err != nil {
				t.Fatal(err)
			}
			next := mustRefresh(t, s, old)
			if n := family(t, s, next); n != 2 {
				t.Errorf("family of %d documents, want the old token's marker and its successor", n)
			}
			if _, err := refresh(s, old); !errors.Is(err, oidc.ErrInvalidGrant()) {
				t.Errorf("reuse: %v, want invalid_grant", err)
			}
			if _, err := refresh(s, next); err == nil {
				t.Error("the successor outlived the revocation of its family")
			}
		})
	}
}

func TestSessionMaxAgeEndsTheFamily(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			s, u := newStorage(t, open(t)) // refresh tokens live an hour
			s.opts.SessionMaxAge = 90 * time.Minute
			start := time.Now().UTC()
			clock := start
			s.now = func() time.Time { return clock }

			rt := login(t, s, u)
			clock = start.Add(50 * time.Minute)
			rt = mustRefresh(t, s, rt) // would live to 110 min; the session ends at 90
			clock = start.Add(89 * time.Minute)
			rt = mustRefresh(t, s, rt)
			clock = start.Add(91 * time.Minute)
			if _, err := refresh(s, rt); err == nil {
				t.Fatal("refreshed past the session's maximum age")
			}
		})
	}
}
