package users

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencloud/opencloud/libs/store"
)

// EnsureBuiltinGroups creates the admin group if it is missing.
func (m *Manager) EnsureBuiltinGroups(ctx context.Context) error {
	now := m.now()
	g := Group{ID: AdminGroup, Name: AdminGroup, Description: "Administrators of this peer", BuiltIn: true, CreatedAt: now, UpdatedAt: now}
	if _, err := m.groups.Insert(ctx, g.ID, g); err != nil && !errors.Is(err, store.ErrDuplicate) {
		return fmt.Errorf("users: create group %s: %w", AdminGroup, err)
	}
	return nil
}

// CreateGroup stores a new group.
func (m *Manager) CreateGroup(ctx context.Context, name, description string) (Group, error) {
	now := m.now()
	g := Group{ID: name, Name: name, Description: description, CreatedAt: now, UpdatedAt: now}
	v, err := m.groups.Insert(ctx, g.ID, g)
	if errors.Is(err, store.ErrDuplicate) {
		return Group{}, ErrGroupExists
	}
	if err != nil {
		return Group{}, fmt.Errorf("users: insert group: %w", err)
	}
	g.Version = v
	return g, nil
}

// GetGroup returns the group named name.
func (m *Manager) GetGroup(ctx context.Context, name string) (Group, error) {
	var g Group
	v, err := m.groups.Get(ctx, name, &g)
	if errors.Is(err, store.ErrNotFound) {
		return Group{}, ErrGroupNotFound
	}
	if err != nil {
		return Group{}, fmt.Errorf("users: get group: %w", err)
	}
	g.Version = v
	return g, nil
}

// ListGroups returns a page of groups sorted by name, and the total count.
func (m *Manager) ListGroups(ctx context.Context, text string, limit, offset int) ([]Group, int64, error) {
	var f store.Filter
	if text != "" {
		f = store.Text(text)
	}
	recs, total, err := m.groups.Find(ctx, store.Query{Filter: f, Sort: []store.Sort{{Field: "name"}}, Limit: limit, Offset: offset})
	if err != nil {
		return nil, 0, fmt.Errorf("users: list groups: %w", err)
	}
	out := make([]Group, 0, len(recs))
	for _, r := range recs {
		var g Group
		if err := r.Decode(&g); err != nil {
			return nil, 0, fmt.Errorf("users: decode group: %w", err)
		}
		g.Version = r.Version
		out = append(out, g)
	}
	return out, total, nil
}

// UpdateGroup replaces the description of a group still at version.
func (m *Manager) UpdateGroup(ctx context.Context, name string, version int64, description string) (Group, error) {
	g, err := m.GetGroup(ctx, name)
	if err != nil {
		return Group{}, err
	}
	if g.Version != version {
		return Group{}, ErrGroupVersionConflict
	}
	g.Description, g.UpdatedAt = description, m.now()
	v, err := m.groups.Replace(ctx, name, version, g)
	switch {
	case errors.Is(err, store.ErrVersionConflict):
		return Group{}, ErrGroupVersionConflict
	case errors.Is(err, store.ErrNotFound):
		return Group{}, ErrGroupNotFound
	case err != nil:
		return Group{}, fmt.Errorf("users: replace group: %w", err)
	}
	g.Version = v
	return g, nil
}

// Members counts the users in a group.
func (m *Manager) Members(ctx context.Context, name string) (int64, error) {
	n, err := m.users.Count(ctx, store.Eq("groups", name))
	if err != nil {
		return 0, fmt.Errorf("users: count members: %w", err)
	}
	return n, nil
}

// DeleteGroup removes an empty, non-built-in group still at version (0: any).
func (m *Manager) DeleteGroup(ctx context.Context, name string, version int64) error {
	g, err := m.GetGroup(ctx, name)
	if err != nil {
		return err
	}
	if g.BuiltIn {
		return ErrBuiltinGroup
	}
	if version != 0 && g.Version != version {
		return ErrGroupVersionConflict
	}
	n, err := m.Members(ctx, name)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%w: %d users", ErrGroupInUse, n)
	}
	err = m.groups.Delete(ctx, name, g.Version)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrGroupNotFound
	case errors.Is(err, store.ErrVersionConflict):
		return ErrGroupVersionConflict
	case err != nil:
		return fmt.Errorf("users: delete group: %w", err)
	}
	return nil
}
