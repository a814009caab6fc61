package clients

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/services/oc-auth/internal/password"
)

// secretPrefix marks client secrets so secret scanners can recognise them.
const secretPrefix = "ocs_"

var spec = store.Spec{
	Name: "auth_clients",
	Fields: []store.Field{
		{Name: "name", Type: store.String},
		{Name: "public", Type: store.Bool},
		{Name: "created_at", Type: store.Time},
	},
	Text: []string{"name"},
}

// Manager reads and writes clients in the store.
type Manager struct {
	col store.Collection
	now func() time.Time
}

// Open opens the collection.
func Open(ctx context.Context, st store.Store) (*Manager, error) {
	c, err := st.Collection(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("clients: open %s: %w", spec.Name, err)
	}
	return &Manager{col: c, now: func() time.Time { return time.Now().UTC() }}, nil
}

// Create registers a client with validated settings. A confidential
// client's secret is returned once; only its digest is kept.
func (m *Manager) Create(ctx context.Context, id string, s Settings) (Client, string, error) {
	s = s.normalize()
	now := m.now()
	c := Client{
		ID: id, Name: s.Name, Public: s.Public, RedirectURIs: s.RedirectURIs,
		PostLogoutRedirectURIs: s.PostLogoutRedirectURIs, GrantTypes: s.GrantTypes, Roles: s.Roles,
		CreatedAt: now, UpdatedAt: now,
	}
	var secret string
	if !s.Public {
		var err error
		if secret, err = password.Token(secretPrefix); err != nil {
			return Client{}, "", err
		}
		c.SecretDigest = password.Digest(secret)
	}
	v, err := m.col.Insert(ctx, id, c)
	if errors.Is(err, store.ErrDuplicate) {
		return Client{}, "", ErrExists
	}
	if err != nil {
		return Client{}, "", fmt.Errorf("clients: insert: %w", err)
	}
	c.Version = v
	return c, secret, nil
}

// GenerateID returns a fresh client id for callers that did not choose one.
func GenerateID() (string, error) {
	tok, err := password.Generate(16)
	if err != nil {
		return "", err
	}
	return "client-" + strings.ToLower(tok), nil
}

// Get returns client id.
func (m *Manager) Get(ctx context.Context, id string) (Client, error) {
	var c Client
	v, err := m.col.Get(ctx, id, &c)
	if errors.Is(err, store.ErrNotFound) {
		return Client{}, ErrNotFound
	}
	if err != nil {
		return Client{}, fmt.Errorf("clients: get: %w", err)
	}
	c.Version = v
	return c, nil
}

// List returns a page of clients sorted by id, and the total count.
func (m *Manager) List(ctx context.Context, text string, limit, offset int) ([]Client, int64, error) {
	var f store.Filter
	if text != "" {
		f = store.Text(text)
	}
	recs, total, err := m.col.Find(ctx, store.Query{Filter: f, Limit: limit, Offset: offset})
	if err != nil {
		return nil, 0, fmt.Errorf("clients: list: %w", err)
	}
	out := make([]Client, 0, len(recs))
	for _, r := range recs {
		var c Client
		if err := r.Decode(&c); err != nil {
			return nil, 0, fmt.Errorf("clients: decode: %w", err)
		}
		c.Version = r.Version
		out = append(out, c)
	}
	return out, total, nil
}

// Update replaces the settings of client id if it is still at version.
// Built-in clients are configured by the service's configuration instead.
// Turning a confidential client public drops its secret; turning a public
// client confidential needs a RotateSecret afterwards.
func (m *Manager) Update(ctx context.Context, id string, version int64, s Settings) (Client, error) {
	c, err := m.Get(ctx, id)
	if err != nil {
		return Client{}, err
	}
	if c.BuiltIn {
		return Client{}, ErrBuiltIn
	}
	if c.Version != version {
		return Client{}, ErrVersionConflict
	}
	s = s.normalize()
	c.Name, c.Public, c.RedirectURIs, c.PostLogoutRedirectURIs = s.Name, s.Public, s.RedirectURIs, s.PostLogoutRedirectURIs
	c.GrantTypes, c.Roles, c.UpdatedAt = s.GrantTypes, s.Roles, m.now()
	if c.Public {
		c.SecretDigest = ""
	}
	return m.replace(ctx, c)
}

func (m *Manager) replace(ctx context.Context, c Client) (Client, error) {
	v, err := m.col.Replace(ctx, c.ID, c.Version, c)
	switch {
	case errors.Is(err, store.ErrVersionConflict):
		return Client{}, ErrVersionConflict
	case errors.Is(err, store.ErrNotFound):
		return Client{}, ErrNotFound
	case err != nil:
		return Client{}, fmt.Errorf("clients: replace: %w", err)
	}
	c.Version = v
	return c, nil
}

// RotateSecret gives a confidential client a new secret; the old one stops
// working at once. A built-in client's secret comes from the configuration:
// rotating it here would cut off the services using it until the next start
// put the configured one back.
func (m *Manager) RotateSecret(ctx context.Context, id string) (Client, string, error) {
	c, err := m.Get(ctx, id)
	if err != nil {
		return Client{}, "", err
	}
	if c.Public {
		return Client{}, "", ErrPublic
	}
	if c.BuiltIn {
		return Client{}, "", ErrBuiltIn
	}
	secret, err := password.Token(secretPrefix)
	if err != nil {
		return Client{}, "", err
	}
	c.SecretDigest, c.UpdatedAt = password.Digest(secret), m.now()
	c, err = m.replace(ctx, c)
	if err != nil {
		return Client{}, "", err
	}
	return c, secret, nil
}

// Delete removes a client still at version (0: any). Built-in clients stay.
func (m *Manager) Delete(ctx context.Context, id string, version int64) error {
	c, err := m.Get(ctx, id)
	if err != nil {
		return err
	}
	if c.BuiltIn {
		return ErrBuiltIn
	}
	if version != 0 && c.Version != version {
		return ErrVersionConflict
	}
	err = m.col.Delete(ctx, id, c.Version)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, store.ErrVersionConflict):
		return ErrVersionConflict
	case err != nil:
		return fmt.Errorf("clients: delete: %w", err)
	}
	return nil
}

// Authenticate checks a confidential client's secret.
func (m *Manager) Authenticate(ctx context.Context, id, secret string) (Client, error) {
	c, err := m.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Client{}, ErrInvalidCredentials
	}
	if err != nil {
		return Client{}, err
	}
	if c.Public || c.SecretDigest == "" || !password.DigestEqual(c.SecretDigest, secret) {
		return Client{}, ErrInvalidCredentials
	}
	return c, nil
}

// EnsureWebClient creates the built-in public client of the web front-end,
// or brings its redirect URIs in line with the configuration (which is the
// source of truth for them). It reports whether it changed anything.
func (m *Manager) EnsureWebClient(ctx context.Context, redirectURIs []string) (bool, error) {
	want := Settings{
		Name: "OpenCloud web", Public: true, RedirectURIs: redirectURIs, PostLogoutRedirectURIs: redirectURIs,
		GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken},
	}.normalize()
	c, err := m.Get(ctx, WebClientID)
	if errors.Is(err, ErrNotFound) {
		now := m.now()
		c = Client{
			ID: WebClientID, Name: want.Name, Public: true, RedirectURIs: want.RedirectURIs,
			PostLogoutRedirectURIs: want.PostLogoutRedirectURIs, GrantTypes: want.GrantTypes, Roles: want.Roles,
			BuiltIn: true, CreatedAt: now, UpdatedAt: now,
		}
		if _, err := m.col.Insert(ctx, c.ID, c); err != nil && !errors.Is(err, store.ErrDuplicate) {
			return false, fmt.Errorf("clients: create %s: %w", WebClientID, err)
		}
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if slices.Equal(c.RedirectURIs, want.RedirectURIs) && slices.Equal(c.PostLogoutRedirectURIs, want.PostLogoutRedirectURIs) {
		return false, nil
	}
	c.RedirectURIs, c.PostLogoutRedirectURIs, c.UpdatedAt = want.RedirectURIs, want.PostLogoutRedirectURIs, m.now()
	if _, err := m.replace(ctx, c); err != nil && !errors.Is(err, ErrVersionConflict) {
		return false, err
	}
	return true, nil
}

// ServiceClientName is the name of the confidential client the services use
// for their own background calls.
const ServiceClientName = "OpenCloud services"

// EnsureServiceClient makes client id the built-in confidential client of
// the services, with secret as its secret, the client_credentials grant and
// the roles admin and user: created when missing, put back in that shape
// (a rotated secret included) when it differs. The configuration is the
// source of truth, so a client of that id an administrator registered is
// taken over. It reports whether it changed anything.
func (m *Manager) EnsureServiceClient(ctx context.Context, id, secret string) (bool, error) {
	want := Settings{
		Name: ServiceClientName, GrantTypes: []string{GrantClientCredentials},
		Roles: []string{authn.RoleAdmin, authn.RoleUser},
	}.normalize()
	digest := password.Digest(secret)
	// Replicas starting together race on the same record: a lost race is
	// read again and compared, so whoever wrote last, the record ends right.
	for range 5 {
		c, err := m.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			now := m.now()
			c = Client{
				ID: id, Name: want.Name, SecretDigest: digest, RedirectURIs: want.RedirectURIs,
				PostLogoutRedirectURIs: want.PostLogoutRedirectURIs, GrantTypes: want.GrantTypes, Roles: want.Roles,
				BuiltIn: true, CreatedAt: now, UpdatedAt: now,
			}
			_, err := m.col.Insert(ctx, c.ID, c)
			if errors.Is(err, store.ErrDuplicate) {
				continue
			}
			if err != nil {
				return false, fmt.Errorf("clients: create %s: %w", id, err)
			}
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if c.Name == want.Name && !c.Public && c.BuiltIn && password.DigestEqual(c.SecretDigest, secret) &&
			slices.Equal(c.GrantTypes, want.GrantTypes) && slices.Equal(c.Roles, want.Roles) &&
			len(c.RedirectURIs) == 0 && len(c.PostLogoutRedirectURIs) == 0 {
			return false, nil
		}
		c.Name, c.Public, c.BuiltIn, c.SecretDigest = want.Name, false, true, digest
		c.RedirectURIs, c.PostLogoutRedirectURIs = want.RedirectURIs, want.PostLogoutRedirectURIs
		c.GrantTypes, c.Roles, c.UpdatedAt = want.GrantTypes, want.Roles, m.now()
		_, err = m.replace(ctx, c)
		if errors.Is(err, ErrVersionConflict) || errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		return true, nil
	}
	return false, fmt.Errorf("clients: %s kept changing while it was being configured", id)
}
