package users

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/services/oc-auth/internal/password"
)

var userSpec = store.Spec{
	Name: "auth_users",
	Fields: []store.Field{
		{Name: "username", Type: store.String},
		{Name: "email", Type: store.String},
		{Name: "display_name", Type: store.String},
		{Name: "groups", Type: store.StringArray},
		{Name: "disabled", Type: store.Bool},
		{Name: "created_at", Type: store.Time},
	},
	Indexes: []store.Index{{Fields: []string{"username"}, Unique: true}},
	Text:    []string{"username", "email", "display_name"},
}

var groupSpec = store.Spec{
	Name:   "auth_groups",
	Fields: []store.Field{{Name: "name", Type: store.String}},
	Text:   []string{"name"},
}

// Manager reads and writes users and groups in the store.
type Manager struct {
	users  store.Collection
	groups store.Collection
	now    func() time.Time
}

// Open opens the collections.
func Open(ctx context.Context, st store.Store) (*Manager, error) {
	u, err := st.Collection(ctx, userSpec)
	if err != nil {
		return nil, fmt.Errorf("users: open %s: %w", userSpec.Name, err)
	}
	g, err := st.Collection(ctx, groupSpec)
	if err != nil {
		return nil, fmt.Errorf("users: open %s: %w", groupSpec.Name, err)
	}
	return &Manager{users: u, groups: g, now: func() time.Time { return time.Now().UTC() }}, nil
}

// Create stores a new user with a hashed password.
func (m *Manager) Create(ctx context.Context, n NewUser) (User, error) {
	groups := normalizeGroups(n.Groups)
	if err := m.checkGroupsExist(ctx, groups); err != nil {
		return User{}, err
	}
	hash, err := password.Hash(n.Password)
	if err != nil {
		return User{}, err
	}
	now := m.now()
	u := User{
		ID: uuid.NewString(), Username: n.Username, Email: n.Email, DisplayName: n.DisplayName,
		Groups: groups, PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	v, err := m.users.Insert(ctx, u.ID, u)
	if errors.Is(err, store.ErrDuplicate) {
		return User{}, ErrUsernameTaken
	}
	if err != nil {
		return User{}, fmt.Errorf("users: insert: %w", err)
	}
	u.Version = v
	return u, nil
}

// Get returns the user with id.
func (m *Manager) Get(ctx context.Context, id string) (User, error) {
	var u User
	v, err := m.users.Get(ctx, id, &u)
	if errors.Is(err, store.ErrNotFound) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("users: get: %w", err)
	}
	u.Version = v
	return u, nil
}

// ByUsername returns the user named username (compared in lower case).
func (m *Manager) ByUsername(ctx context.Context, username string) (User, error) {
	recs, _, err := m.users.Find(ctx, store.Query{Filter: store.Eq("username", strings.ToLower(username)), Limit: 1})
	if err != nil {
		return User{}, fmt.Errorf("users: find by name: %w", err)
	}
	if len(recs) == 0 {
		return User{}, ErrNotFound
	}
	var u User
	if err := recs[0].Decode(&u); err != nil {
		return User{}, fmt.Errorf("users: decode: %w", err)
	}
	u.Version = recs[0].Version
	return u, nil
}

// ListQuery filters and pages users.
type ListQuery struct {
	Text     string // words found in username, email or display name
	Group    string // members of this group
	Disabled *bool
	Limit    int
	Offset   int
}

// List returns a page of users sorted by user name, and the total count.
func (m *Manager) List(ctx context.Context, q ListQuery) ([]User, int64, error) {
	var fs []store.Filter
	if q.Text != "" {
		fs = append(fs, store.Text(q.Text))
	}
	if q.Group != "" {
		fs = append(fs, store.Eq("groups", q.Group))
	}
	if q.Disabled != nil {
		fs = append(fs, store.Eq("disabled", *q.Disabled))
	}
	recs, total, err := m.users.Find(ctx, store.Query{
		Filter: store.And(fs...), Sort: []store.Sort{{Field: "username"}}, Limit: q.Limit, Offset: q.Offset,
	})
	if err != nil {
		return nil, 0, fmt.Errorf("users: list: %w", err)
	}
	out := make([]User, 0, len(recs))
	for _, r := range recs {
		var u User
		if err := r.Decode(&u); err != nil {
			return nil, 0, fmt.Errorf("users: decode: %w", err)
		}
		u.Version = r.Version
		out = append(out, u)
	}
	return out, total, nil
}

// Count returns the number of users.
func (m *Manager) Count(ctx context.Context) (int64, error) {
	n, err := m.users.Count(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("users: count: %w", err)
	}
	return n, nil
}

// Update replaces the editable fields of user id if it is still at version.
func (m *Manager) Update(ctx context.Context, id string, version int64, upd Update) (User, error) {
	cur, err := m.Get(ctx, id)
	if err != nil {
		return User{}, err
	}
	if cur.Version != version {
		return User{}, ErrVersionConflict
	}
	groups := normalizeGroups(upd.Groups)
	if err := m.checkGroupsExist(ctx, groups); err != nil {
		return User{}, err
	}
	next := cur
	next.Username, next.Email, next.DisplayName = upd.Username, upd.Email, upd.DisplayName
	next.Groups, next.Disabled, next.UpdatedAt = groups, upd.Disabled, m.now()
	if cur.IsActiveAdmin() && !next.IsActiveAdmin() {
		if err := m.checkNotLastAdmin(ctx); err != nil {
			return User{}, err
		}
	}
	v, err := m.users.Replace(ctx, id, version, next)
	switch {
	case errors.Is(err, store.ErrVersionConflict):
		return User{}, ErrVersionConflict
	case errors.Is(err, store.ErrNotFound):
		return User{}, ErrNotFound
	case errors.Is(err, store.ErrDuplicate):
		return User{}, ErrUsernameTaken
	case err != nil:
		return User{}, fmt.Errorf("users: replace: %w", err)
	}
	next.Version = v
	return next, nil
}

// SetPassword replaces the password of user id.
func (m *Manager) SetPassword(ctx context.Context, id, pw string) (User, error) {
	hash, err := password.Hash(pw)
	if err != nil {
		return User{}, err
	}
	_, err = m.users.UpdateIf(ctx, id, nil, map[string]any{"password_hash": hash, "updated_at": m.now()})
	if errors.Is(err, store.ErrNotFound) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("users: set password: %w", err)
	}
	return m.Get(ctx, id)
}

// Delete removes user id if it is still at version (0: any version).
func (m *Manager) Delete(ctx context.Context, id string, version int64) error {
	cur, err := m.Get(ctx, id)
	if err != nil {
		return err
	}
	if version != 0 && cur.Version != version {
		return ErrVersionConflict
	}
	if cur.IsActiveAdmin() {
		if err := m.checkNotLastAdmin(ctx); err != nil {
			return err
		}
	}
	err = m.users.Delete(ctx, id, cur.Version)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, store.ErrVersionConflict):
		return ErrVersionConflict
	case err != nil:
		return fmt.Errorf("users: delete: %w", err)
	}
	return nil
}

// Authenticate checks a user name and password. Unknown users, wrong
// passwords and disabled accounts take the same time to refuse; the
// account is reported disabled only to the holder of its password.
func (m *Manager) Authenticate(ctx context.Context, username, pw string) (User, error) {
	if len(pw) > password.MaxLength {
		return User{}, ErrInvalidCredentials
	}
	u, err := m.ByUsername(ctx, username)
	if errors.Is(err, ErrNotFound) {
		password.VerifyDummy(pw)
		return User{}, ErrInvalidCredentials
	}
	if err != nil {
		return User{}, err
	}
	ok, err := password.Verify(u.PasswordHash, pw)
	if err != nil {
		return User{}, fmt.Errorf("users: verify password of %s: %w", u.ID, err)
	}
	if !ok {
		return User{}, ErrInvalidCredentials
	}
	if u.Disabled {
		return User{}, ErrDisabled
	}
	return u, nil
}

// EnsureFirstAdmin creates the first administrator when the store has no
// user at all. An empty pw is replaced by a generated one, returned so the
// caller can show it once. created is false when users already existed.
func (m *Manager) EnsureFirstAdmin(ctx context.Context, username, pw string) (u User, generated string, created bool, err error) {
	n, err := m.Count(ctx)
	if err != nil || n > 0 {
		return User{}, "", false, err
	}
	if pw == "" {
		if generated, err = password.Generate(24); err != nil {
			return User{}, "", false, err
		}
		pw = generated
	}
	u, err = m.Create(ctx, NewUser{Username: username, DisplayName: "Administrator", Groups: []string{AdminGroup}, Password: pw})
	if errors.Is(err, ErrUsernameTaken) {
		// Another replica created it at the same time.
		return User{}, "", false, nil
	}
	if err != nil {
		return User{}, "", false, err
	}
	return u, generated, true, nil
}

func (m *Manager) checkGroupsExist(ctx context.Context, groups []string) error {
	for _, g := range groups {
		if _, err := m.GetGroup(ctx, g); errors.Is(err, ErrGroupNotFound) {
			return fmt.Errorf("%w %q", ErrUnknownGroup, g)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// checkNotLastAdmin refuses a change that would leave no enabled admin.
// Two concurrent demotions of the last two admins could both pass (the
// store has no transactions); the window is one request long.
func (m *Manager) checkNotLastAdmin(ctx context.Context) error {
	n, err := m.users.Count(ctx, store.And(store.Eq("groups", AdminGroup), store.Eq("disabled", false)))
	if err != nil {
		return fmt.Errorf("users: count admins: %w", err)
	}
	if n <= 1 {
		return ErrLastAdmin
	}
	return nil
}
