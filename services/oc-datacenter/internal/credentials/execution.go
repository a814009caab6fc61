package credentials

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/opencloud/opencloud/libs/resource"
)

// MaxStorages is the most storages one execution may ask credentials for.
const MaxStorages = 100

// ErrNoKey: the service has no credentials key, so it keeps no credentials.
var ErrNoKey = errors.New("no credentials key configured")

// Refusal is one storage an execution cannot be given credentials for.
type Refusal struct {
	Storage string `json:"storage" example:"peer-b/9a1f7c1e-5b2d-4c8e-8f3a-2d4b6c8e0f12"`
	Code    string `json:"code" example:"remote_storage"`
	Problem string `json:"problem"`
}

// RefusedError refuses an execution's storages: Code and Message are those
// of the first refusal; Refusals lists every storage refused.
type RefusedError struct {
	Code     string
	Message  string
	Refusals []Refusal
}

func (e *RefusedError) Error() string { return e.Message }

// Refusal codes.
const (
	CodeRemote     = "remote_storage"
	CodeMissing    = "storage_credentials_missing"
	CodeUnreadable = "storage_credentials_unreadable"
)

// CheckRefs validates the storages of a prepare request (field "storages")
// and returns them with an empty peer set to peerID, without duplicates,
// in the order given.
func CheckRefs(refs []resource.Ref, peerID string) ([]resource.Ref, error) {
	if len(refs) > MaxStorages {
		return nil, &ValidationError{"storages", fmt.Sprintf("at most %d storages, got %d", MaxStorages, len(refs))}
	}
	out := make([]resource.Ref, 0, len(refs))
	seen := map[resource.Ref]bool{}
	for i, r := range refs {
		if err := CheckStorageID(fmt.Sprintf("storages[%d].id", i), r.ID); err != nil {
			return nil, err
		}
		if r.Peer == "" {
			r.Peer = peerID
		}
		if len(r.Peer) > 253 {
			return nil, &ValidationError{fmt.Sprintf("storages[%d].peer", i), "at most 253 characters: a peer's id"}
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// PutRoute is the route an admin calls to set a storage's credentials.
func PutRoute(storageID string) string {
	return "PUT /datacenter/storages/" + url.PathEscape(storageID) + "/credentials"
}

// ForExecution returns the credentials of each storage of refs (checked by
// CheckRefs), in order, or refuses them all: a storage of another peer
// (its credentials are that peer's to issue, and this peer does not obtain
// them) and a storage without credentials are listed in a
// *RefusedError; k nil is ErrNoKey once no storage is remote.
func ForExecution(ctx context.Context, k *Keeper, peerID string, refs []resource.Ref) ([]Credentials, error) {
	var remote []Refusal
	for _, r := range refs {
		if r.Peer != peerID {
			remote = append(remote, Refusal{Storage: r.String(), Code: CodeRemote, Problem: fmt.Sprintf(
				"storage %s belongs to peer %s: its credentials are issued by that peer, which needs federation (not configured)", r, r.Peer)})
		}
	}
	if len(remote) > 0 {
		return nil, refused(remote)
	}
	if len(refs) == 0 {
		return nil, nil
	}
	if k == nil {
		return nil, ErrNoKey
	}
	out := make([]Credentials, 0, len(refs))
	var refusals []Refusal
	for _, r := range refs {
		c, err := k.Reveal(ctx, r.ID)
		switch {
		case errors.Is(err, ErrNotFound):
			refusals = append(refusals, Refusal{Storage: r.String(), Code: CodeMissing, Problem: fmt.Sprintf(
				"storage %s has no S3 credentials on this peer: an admin sets them with %s", r, PutRoute(r.ID))})
		case errors.Is(err, ErrUnreadable):
			refusals = append(refusals, Refusal{Storage: r.String(), Code: CodeUnreadable, Problem: fmt.Sprintf(
				"the S3 credentials of storage %s cannot be decrypted with this OC_DATACENTER_CREDENTIALS_KEY (was the key changed?): an admin sets them again with %s", r, PutRoute(r.ID))})
		case err != nil:
			return nil, err
		default:
			out = append(out, c)
		}
	}
	if len(refusals) > 0 {
		return nil, refused(refusals)
	}
	return out, nil
}

func refused(rs []Refusal) *RefusedError {
	msg := rs[0].Problem
	if len(rs) > 1 {
		msg += fmt.Sprintf(" (and %d more storages refused: see details)", len(rs)-1)
	}
	return &RefusedError{Code: rs[0].Code, Message: msg, Refusals: rs}
}
