// Package store keeps oc-datacenter's records in the libs document store,
// translating the store's errors into the domain's.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	ds "github.com/opencloud/opencloud/libs/store"

	"github.com/opencloud/opencloud/services/oc-datacenter/internal/credentials"
)

// CredentialsSpec declares the collection of storage credentials, keyed by
// storage id; nothing is queried but by id.
var CredentialsSpec = ds.Spec{
	Name:   "datacenter_storage_credentials",
	Fields: []ds.Field{{Name: "updated_at", Type: ds.Time}},
}

// credentialsDoc is the stored shape. The secret is only ever stored sealed.
type credentialsDoc struct {
	ID          string    `json:"id"`
	Version     int64     `json:"version"`
	AccessKeyID string    `json:"access_key_id"`
	Sealed      []byte    `json:"secret_sealed"`
	KeyID       string    `json:"key_id"`
	UpdatedAt   time.Time `json:"updated_at"`
	UpdatedBy   string    `json:"updated_by"`
}

// Credentials implements credentials.Repository.
type Credentials struct{ c ds.Collection }

var _ credentials.Repository = (*Credentials)(nil)

// OpenCredentials opens (creating if needed) the credentials collection.
func OpenCredentials(ctx context.Context, s ds.Store) (*Credentials, error) {
	c, err := s.Collection(ctx, CredentialsSpec)
	if err != nil {
		return nil, fmt.Errorf("open collection %s: %w", CredentialsSpec.Name, err)
	}
	return &Credentials{c: c}, nil
}

func toDoc(s credentials.Sealed) credentialsDoc {
	return credentialsDoc{ID: s.StorageID, AccessKeyID: s.AccessKeyID, Sealed: s.Secret, KeyID: s.KeyID,
		UpdatedAt: s.UpdatedAt.UTC().Truncate(time.Millisecond), UpdatedBy: s.UpdatedBy}
}

// Get implements credentials.Repository.
func (s *Credentials) Get(ctx context.Context, storageID string) (credentials.Sealed, error) {
	var d credentialsDoc
	v, err := s.c.Get(ctx, storageID, &d)
	if err != nil {
		return credentials.Sealed{}, fmt.Errorf("get credentials of storage %s: %w", storageID, translate(err))
	}
	return credentials.Sealed{StorageID: d.ID, Version: v, AccessKeyID: d.AccessKeyID, Secret: d.Sealed,
		KeyID: d.KeyID, UpdatedAt: d.UpdatedAt, UpdatedBy: d.UpdatedBy}, nil
}

// Insert implements credentials.Repository.
func (s *Credentials) Insert(ctx context.Context, c credentials.Sealed) error {
	if _, err := s.c.Insert(ctx, c.StorageID, toDoc(c)); err != nil {
		return fmt.Errorf("insert credentials of storage %s: %w", c.StorageID, translate(err))
	}
	return nil
}

// Replace implements credentials.Repository.
func (s *Credentials) Replace(ctx context.Context, c credentials.Sealed) error {
	if _, err := s.c.Replace(ctx, c.StorageID, c.Version, toDoc(c)); err != nil {
		return fmt.Errorf("replace credentials of storage %s: %w", c.StorageID, translate(err))
	}
	return nil
}

// Delete implements credentials.Repository.
func (s *Credentials) Delete(ctx context.Context, storageID string) error {
	if err := s.c.Delete(ctx, storageID, 0); err != nil {
		return fmt.Errorf("delete credentials of storage %s: %w", storageID, translate(err))
	}
	return nil
}

func translate(err error) error {
	switch {
	case errors.Is(err, ds.ErrNotFound):
		return credentials.ErrNotFound
	case errors.Is(err, ds.ErrDuplicate):
		return credentials.ErrExists
	case errors.Is(err, ds.ErrVersionConflict):
		return credentials.ErrVersionConflict
	}
	return err
}
