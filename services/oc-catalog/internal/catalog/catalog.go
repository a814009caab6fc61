// Package catalog is the domain of oc-catalog: what a valid resource is, who
// may see and change it, and how changes happen (optimistic concurrency,
// events after every committed change).
package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/server/retry"
)

// Repository is the storage the catalog needs. Implementations return
// ErrNotFound and ErrVersionConflict (wrapped) for those cases.
type Repository interface {
	// Insert stores a new resource and returns its version (1).
	Insert(ctx context.Context, r resource.Resource) (int64, error)
	// Get returns the resource with its current version.
	Get(ctx context.Context, id string) (resource.Resource, error)
	// Replace overwrites the resource if its stored version is version.
	Replace(ctx context.Context, r resource.Resource, version int64) (int64, error)
	// Delete removes the resource if its stored version is version.
	Delete(ctx context.Context, id string, version int64) error
	// Find returns a page of the resources matching q, and their total.
	Find(ctx context.Context, q Query) ([]resource.Resource, int64, error)
}

// Events publishes facts after they are committed to the store.
type Events interface {
	Publish(ctx context.Context, typ, subject, actor string, data any) error
}

// SortField is a field lists can be ordered by.
type SortField string

// Sortable fields.
const (
	SortName      SortField = "name"
	SortKind      SortField = "kind"
	SortCreatedAt SortField = "created_at"
	SortUpdatedAt SortField = "updated_at"
)

// SortFields lists the sortable fields.
var SortFields = []SortField{SortName, SortKind, SortCreatedAt, SortUpdatedAt}

// Sort is one ordering key.
type Sort struct {
	Field SortField
	Desc  bool
}

// Query selects resources. Empty fields do not filter.
type Query struct {
	Viewer     Viewer
	Kind       resource.Kind
	Tags       []string // every tag must be present
	Owner      string
	Visibility resource.Visibility
	Text       string   // every word must occur in the name, descriptions or tags
	IDs        []string // only these ids
	Sort       []Sort
	Limit      int
	Offset     int
}

// Service implements the catalog's use cases.
type Service struct {
	repo   Repository
	events Events
	peerID string
	log    *slog.Logger
	now    func() time.Time
}

// NewService returns the catalog of peer peerID.
func NewService(repo Repository, events Events, peerID string, log *slog.Logger) *Service {
	return &Service{repo: repo, events: events, peerID: peerID, log: log,
		// Milliseconds: what every store backend keeps exactly, so a resource
		// reads back equal to what was written.
		now: func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }}
}

// Create validates in and stores it as a new resource of p's.
func (s *Service) Create(ctx context.Context, p authn.Principal, in resource.Input) (resource.Resource, error) {
	var probs []FieldError
	var ve *ValidationError
	if err := Check(&in); errors.As(err, &ve) {
		probs = ve.Problems
	}
	if in.Version != 0 {
		probs = append(probs, FieldError{Field: "version", Problem: "not accepted when creating a resource; the catalog sets it"})
	}
	if len(probs) > 0 {
		return resource.Resource{}, &ValidationError{Problems: probs}
	}
	if len(in.Owners) == 0 {
		in.Owners = []string{p.Subject}
	}
	now := s.now()
	r := apply(resource.Resource{
		ID: uuid.NewString(), Kind: in.Kind, PeerID: s.peerID, Creator: p.Subject, CreatedAt: now,
	}, in, now)
	v, err := s.repo.Insert(ctx, r)
	if err != nil {
		return resource.Resource{}, fmt.Errorf("create resource: %w", err)
	}
	r.Version = v
	s.publish(ctx, event.ResourceCreated, p, r)
	return r, nil
}

// Get returns resource id if p may see it, else ErrNotFound.
func (s *Service) Get(ctx context.Context, p authn.Principal, id string) (resource.Resource, error) {
	r, err := s.repo.Get(ctx, id)
	if err != nil {
		return resource.Resource{}, fmt.Errorf("get resource %s: %w", id, err)
	}
	if !CanSee(p, r) {
		return resource.Resource{}, fmt.Errorf("get resource %s: %w", id, ErrNotFound)
	}
	return r, nil
}

// List returns the page of resources matching q that p may see, and the
// total of them. q.Viewer is set from p.
func (s *Service) List(ctx context.Context, p authn.Principal, q Query) ([]resource.Resource, int64, error) {
	q.Viewer = ViewerOf(p)
	items, total, err := s.repo.Find(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("list resources: %w", err)
	}
	return items, total, nil
}

// Lookup returns, in the order of ids, the resources among ids that p may
// see, and the ids that are unknown or invisible to p (not told apart, as
// on Get). Repeated ids are answered once.
func (s *Service) Lookup(ctx context.Context, p authn.Principal, ids []string) (resource.LookupResult, error) {
	res := resource.LookupResult{Items: []resource.Resource{}, Missing: []string{}}
	var probs []FieldError
	if len(ids) == 0 {
		probs = append(probs, FieldError{Field: "ids", Problem: "give at least one resource id"})
	}
	if len(ids) > resource.MaxLookup {
		probs = append(probs, FieldError{Field: "ids",
			Problem: fmt.Sprintf("at most %d ids per lookup (got %d); split the list", resource.MaxLookup, len(ids))})
	}
	if len(probs) > 0 {
		return res, &ValidationError{Problems: probs}
	}
	seen := make(map[string]bool, len(ids))
	uniq := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	found, _, err := s.repo.Find(ctx, Query{Viewer: ViewerOf(p), IDs: uniq, Limit: len(uniq)})
	if err != nil {
		return res, fmt.Errorf("lookup resources: %w", err)
	}
	byID := make(map[string]resource.Resource, len(found))
	for _, r := range found {
		byID[r.ID] = r
	}
	for _, id := range uniq {
		if r, ok := byID[id]; ok {
			res.Items = append(res.Items, r)
		} else {
			res.Missing = append(res.Missing, id)
		}
	}
	return res, nil
}

// Replace overwrites the writable fields of resource id with in. The version
// replaced is ifMatch (the If-Match header) or in.Version; one of them is
// required (ErrPreconditionRequired), and if it is not current the result is
// a *ConflictError.
func (s *Service) Replace(ctx context.Context, p authn.Principal, id string, in resource.Input, ifMatch int64) (resource.Resource, error) {
	if ifMatch == 0 && in.Version == 0 {
		return resource.Resource{}, ErrPreconditionRequired
	}
	if err := Check(&in); err != nil {
		return resource.Resource{}, err
	}
	return s.Update(ctx, p, id, ifMatch, func(resource.Input) (resource.Input, error) { return in, nil })
}

// Update changes resource id: change gets the current writable fields and
// returns the new ones (a merge patch is such a function). The change is
// made to version expected if it is not 0, or to the version the returned
// input names; otherwise to whatever is current, retrying if another writer
// got there first. The new input is validated.
func (s *Service) Update(ctx context.Context, p authn.Principal, id string, expected int64,
	change func(current resource.Input) (resource.Input, error),
) (resource.Resource, error) {
	return retry.OnConflict(ctx, func(ctx context.Context) (resource.Resource, error) {
		cur, err := s.editable(ctx, p, id)
		if err != nil {
			return resource.Resource{}, err
		}
		base := cur.Input()
		base.Version = 0
		in, err := change(base)
		if err != nil {
			return resource.Resource{}, err
		}
		want := expected
		if in.Version != 0 {
			if want != 0 && in.Version != want {
				return resource.Resource{}, invalid("version",
					fmt.Sprintf("the body names version %d but If-Match names %d; send one, or the same in both", in.Version, want))
			}
			want = in.Version
		}
		if err := Check(&in); err != nil {
			return resource.Resource{}, err
		}
		if in.Kind != cur.Kind {
			return resource.Resource{}, invalid("kind",
				fmt.Sprintf("cannot change the kind of a resource (it is %q); create a new resource instead", cur.Kind))
		}
		if len(in.Owners) == 0 {
			in.Owners = cur.Owners
		}
		if want != 0 && want != cur.Version {
			return resource.Resource{}, &ConflictError{Given: want, Current: cur.Version}
		}
		next := apply(cur, in, s.now())
		v, err := s.repo.Replace(ctx, next, cur.Version)
		if errors.Is(err, ErrVersionConflict) || errors.Is(err, ErrNotFound) {
			// Another writer changed or deleted it since we read it: a
			// change not pinned to a version is made again on what is current.
			err = s.conflict(ctx, id, cur.Version, err)
			if want == 0 {
				err = retry.LostRace(err)
			}
			return resource.Resource{}, err
		}
		if err != nil {
			return resource.Resource{}, fmt.Errorf("update resource %s: %w", id, err)
		}
		next.Version = v
		s.publish(ctx, event.ResourceUpdated, p, next)
		return next, nil
	})
}

// Delete removes resource id. ifMatch, if not 0, is the version the caller
// means to delete.
func (s *Service) Delete(ctx context.Context, p authn.Principal, id string, ifMatch int64) error {
	_, err := retry.OnConflict(ctx, func(ctx context.Context) (struct{}, error) {
		cur, err := s.editable(ctx, p, id)
		if err != nil {
			return struct{}{}, err
		}
		if ifMatch != 0 && ifMatch != cur.Version {
			return struct{}{}, &ConflictError{Given: ifMatch, Current: cur.Version}
		}
		err = s.repo.Delete(ctx, id, cur.Version)
		if errors.Is(err, ErrVersionConflict) {
			// Changed since we read it: its owners may have changed too, so check again.
			err = s.conflict(ctx, id, cur.Version, err)
			if ifMatch == 0 {
				err = retry.LostRace(err)
			}
			return struct{}{}, err
		}
		if err != nil {
			return struct{}{}, fmt.Errorf("delete resource %s: %w", id, err)
		}
		s.publish(ctx, event.ResourceDeleted, p, cur)
		return struct{}{}, nil
	})
	return err
}

// editable loads resource id for a change by p: ErrNotFound if p cannot see
// it, ErrForbidden if p sees it but may not change it.
func (s *Service) editable(ctx context.Context, p authn.Principal, id string) (resource.Resource, error) {
	cur, err := s.Get(ctx, p, id)
	if err != nil {
		return resource.Resource{}, err
	}
	if !CanEdit(p, cur) {
		return resource.Resource{}, fmt.Errorf("change resource %s: %w", id, ErrForbidden)
	}
	return cur, nil
}

// conflict turns a lost race into a ConflictError naming the version that is
// current now (or ErrNotFound if the resource is gone).
func (s *Service) conflict(ctx context.Context, id string, given int64, cause error) error {
	now, err := s.repo.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("resource %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("resource %s after %w: %w", id, cause, err)
	}
	return &ConflictError{Given: given, Current: now.Version}
}

// apply sets the writable fields of r from a checked input.
func apply(r resource.Resource, in resource.Input, now time.Time) resource.Resource {
	r.Name, r.Description, r.ShortDescription = in.Name, in.Description, in.ShortDescription
	r.Logo, r.Owners, r.License = in.Logo, in.Owners, in.License
	r.Tags = in.Tags
	if r.Tags == nil {
		r.Tags = []string{}
	}
	r.Visibility, r.Groups = in.Visibility, in.Groups
	r.Pricing = *in.Pricing
	r.Data, r.Processing, r.Storage, r.Compute, r.Workflow = in.Data, in.Processing, in.Storage, in.Compute, in.Workflow
	r.UpdatedAt = now
	return r
}

// publish announces a committed change. The store is the truth and
// consumers reconcile from it, so a lost event is logged, not returned.
func (s *Service) publish(ctx context.Context, typ string, p authn.Principal, r resource.Resource) {
	if s.events == nil {
		return
	}
	if err := s.events.Publish(ctx, typ, r.ID, p.Subject, r); err != nil {
		s.log.WarnContext(ctx, "resource event not published", "type", typ, "id", r.ID, "err", err)
	}
}
