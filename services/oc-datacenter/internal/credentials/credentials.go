// Package credentials keeps the S3 credentials executions use for this
// peer's storages. The storage's owner issues them (here: this peer's
// admin sets them); oc-datacenter hands them to an execution as a Secret
// in its namespace. The secret key is stored sealed with AES-256-GCM under
// the service's credentials key and is never answered by the API.
package credentials

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/seal"

	"github.com/opencloud/opencloud/services/oc-datacenter/datacenter"
)

// KeySize is the length of the credentials key: AES-256.
const KeySize = seal.KeySize

// Sentinel errors.
var (
	// ErrNotFound: no credentials are kept for the storage.
	ErrNotFound = errors.New("no credentials kept for this storage")
	// ErrUnknownStorage: the catalog has no such resource, or the caller cannot see it.
	ErrUnknownStorage = errors.New("no such resource in this peer's catalog")
	// ErrNotAStorage: the resource exists but is of another kind.
	ErrNotAStorage = errors.New("the resource is not a storage")
	// ErrCatalog: the catalog could not be asked.
	ErrCatalog = errors.New("the catalog is unavailable")
	// ErrUnreadable: the stored secret does not open with the configured
	// key (the key was changed, or the record damaged).
	ErrUnreadable = errors.New("the stored credentials cannot be decrypted with the configured key")
	// ErrExists and ErrVersionConflict are a Repository's answers to a
	// write that raced another one.
	ErrExists          = errors.New("credentials already exist")
	ErrVersionConflict = errors.New("credentials changed meanwhile")
)

// ValidationError is one invalid field of a request.
type ValidationError struct{ Field, Problem string }

func (e *ValidationError) Error() string { return "invalid request: " + e.Field + ": " + e.Problem }

// Sealed is a stored record: the secret encrypted, with the id of the key
// that sealed it.
type Sealed struct {
	StorageID   string
	Version     int64
	AccessKeyID string
	// Secret is the GCM nonce followed by the sealed secret access key.
	Secret    []byte
	KeyID     string
	UpdatedAt time.Time
	UpdatedBy string
}

// Repository stores sealed credentials, one record per storage id.
type Repository interface {
	// Get returns the record of storageID, or ErrNotFound.
	Get(ctx context.Context, storageID string) (Sealed, error)
	// Insert stores a new record; ErrExists when there is one.
	Insert(ctx context.Context, s Sealed) error
	// Replace overwrites the record at s.Version; ErrNotFound, ErrVersionConflict.
	Replace(ctx context.Context, s Sealed) error
	// Delete removes the record; ErrNotFound.
	Delete(ctx context.Context, storageID string) error
}

// Catalog finds a resource of this peer's catalog, as the caller sees it;
// ErrUnknownStorage when it is not there.
type Catalog interface {
	Get(ctx context.Context, id string) (resource.Resource, error)
}

// Credentials are a storage's credentials in clear, for the execution's Secret.
type Credentials struct {
	StorageID       string
	AccessKeyID     string
	SecretAccessKey string
}

// storageIDRe is what a storage id may be: the catalog's ids are UUIDs;
// this keeps any id usable in a path and a store key.
var storageIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidStorageID reports whether id can name a storage here.
func ValidStorageID(id string) bool { return storageIDRe.MatchString(id) }

// CheckStorageID checks a storage id given as field.
func CheckStorageID(field, id string) error {
	if id == "" {
		return &ValidationError{field, "required: the storage resource's id in this peer's catalog"}
	}
	if !ValidStorageID(id) {
		return &ValidationError{field, "must be 1 to 128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit: use the storage resource's id"}
	}
	return nil
}

// Validate checks a credentials input; the error names the first bad field.
func Validate(in datacenter.StorageCredentialsInput) error {
	if err := checkKey("access_key_id", in.AccessKeyID, datacenter.MaxAccessKeyID); err != nil {
		return err
	}
	return checkKey("secret_access_key", in.SecretAccessKey, datacenter.MaxSecretAccessKey)
}

func checkKey(field, v string, limit int) error {
	if v == "" {
		return &ValidationError{field, "required: the S3 key the storage's owner issued"}
	}
	if len(v) > limit {
		return &ValidationError{field, fmt.Sprintf("at most %d characters, got %d", limit, len(v))}
	}
	for i := 0; i < len(v); i++ {
		// S3 keys are printable ASCII; a space, newline or other byte is
		// nearly always a copy-and-paste accident that would fail at run time.
		if c := v[i]; c <= ' ' || c > '~' {
			return &ValidationError{field, fmt.Sprintf("byte %d is not a printable ASCII character (spaces and control characters are refused): paste the key alone", i)}
		}
	}
	return nil
}

// Keeper keeps credentials sealed in a Repository.
type Keeper struct {
	repo Repository
	box  *seal.Box
	now  func() time.Time
}

// NewKeeper returns a keeper sealing with key (KeySize bytes).
func NewKeeper(repo Repository, key []byte) (*Keeper, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("the credentials key has %d bytes, want %d", len(key), KeySize)
	}
	// The label keeps the key id of the records sealed so far.
	box, err := seal.New(key, "opencloud datacenter credentials key")
	if err != nil {
		return nil, err
	}
	return &Keeper{repo: repo, box: box,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }}, nil
}

// aad binds a sealed secret to its storage, so that a record's secret
// copied into another record does not open.
func aad(storageID string) []byte { return []byte("storage-credentials/" + storageID) }

func (k *Keeper) seal(storageID, secret string) ([]byte, error) {
	return k.box.Seal([]byte(secret), aad(storageID))
}

func (k *Keeper) open(s Sealed) (string, error) {
	if s.KeyID != k.box.KeyID() {
		return "", ErrUnreadable
	}
	plain, err := k.box.Open(s.Secret, aad(s.StorageID))
	if err != nil {
		return "", ErrUnreadable
	}
	return string(plain), nil
}

func metadata(s Sealed) datacenter.StorageCredentials {
	return datacenter.StorageCredentials{StorageID: s.StorageID, AccessKeyID: s.AccessKeyID, UpdatedAt: s.UpdatedAt, UpdatedBy: s.UpdatedBy}
}

// Set stores the credentials of storage storageID, which must be a storage
// of cat, set by subject by. Setting the credentials already kept changes
// nothing. created tells whether there were none before.
func (k *Keeper) Set(ctx context.Context, cat Catalog, storageID string, in datacenter.StorageCredentialsInput, by string) (out datacenter.StorageCredentials, created bool, err error) {
	if err := CheckStorageID("id", storageID); err != nil {
		return out, false, err
	}
	if err := Validate(in); err != nil {
		return out, false, err
	}
	r, err := cat.Get(ctx, storageID)
	switch {
	case errors.Is(err, ErrUnknownStorage):
		return out, false, err
	case err != nil:
		return out, false, fmt.Errorf("%w: %w", ErrCatalog, err)
	case r.Kind != resource.KindStorage:
		return out, false, fmt.Errorf("%w: resource %s is a %s", ErrNotAStorage, storageID, r.Kind)
	}
	// Two admins setting at once: the last write wins, whole.
	for range 5 {
		cur, err := k.repo.Get(ctx, storageID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return out, false, err
		}
		exists := err == nil
		if exists && cur.AccessKeyID == in.AccessKeyID {
			if secret, err := k.open(cur); err == nil && secret == in.SecretAccessKey {
				return metadata(cur), false, nil
			}
		}
		sealed, err := k.seal(storageID, in.SecretAccessKey)
		if err != nil {
			return out, false, err
		}
		next := Sealed{StorageID: storageID, Version: cur.Version, AccessKeyID: in.AccessKeyID, Secret: sealed,
			KeyID: k.box.KeyID(), UpdatedAt: k.now(), UpdatedBy: by}
		if !exists {
			err = k.repo.Insert(ctx, next)
		} else {
			err = k.repo.Replace(ctx, next)
		}
		switch {
		case err == nil:
			return metadata(next), !exists, nil
		case errors.Is(err, ErrExists), errors.Is(err, ErrVersionConflict), errors.Is(err, ErrNotFound):
			continue
		default:
			return out, false, err
		}
	}
	return out, false, fmt.Errorf("set credentials of storage %s: %w (5 tries)", storageID, ErrVersionConflict)
}

// Get returns what may be shown of a storage's credentials; ErrNotFound.
func (k *Keeper) Get(ctx context.Context, storageID string) (datacenter.StorageCredentials, error) {
	if err := CheckStorageID("id", storageID); err != nil {
		return datacenter.StorageCredentials{}, err
	}
	s, err := k.repo.Get(ctx, storageID)
	if err != nil {
		return datacenter.StorageCredentials{}, err
	}
	return metadata(s), nil
}

// Delete forgets a storage's credentials; ErrNotFound.
func (k *Keeper) Delete(ctx context.Context, storageID string) error {
	if err := CheckStorageID("id", storageID); err != nil {
		return err
	}
	return k.repo.Delete(ctx, storageID)
}

// Reveal returns a storage's credentials in clear; ErrNotFound, ErrUnreadable.
func (k *Keeper) Reveal(ctx context.Context, storageID string) (Credentials, error) {
	s, err := k.repo.Get(ctx, storageID)
	if err != nil {
		return Credentials{}, err
	}
	secret, err := k.open(s)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{StorageID: storageID, AccessKeyID: s.AccessKeyID, SecretAccessKey: secret}, nil
}
