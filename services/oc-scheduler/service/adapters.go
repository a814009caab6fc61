package service

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"

	catalogclient "github.com/opencloud/opencloud/services/oc-catalog/client"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
	"github.com/opencloud/opencloud/services/oc-scheduler/internal/booking"
	schedstore "github.com/opencloud/opencloud/services/oc-scheduler/internal/store"
	workflowclient "github.com/opencloud/opencloud/services/oc-workflow/client"
)

// remoteErr maps another service's failure: a 404 is notFound, another
// refusal stays the *apierror.Error the service answered, and an
// unreachable or failing service is booking.ErrUnavailable.
func remoteErr(service string, err, notFound error) error {
	if err == nil {
		return nil
	}
	var ae *apierror.Error
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		return fmt.Errorf("%s: %w (%w)", service, notFound, err)
	case errors.As(err, &ae) && ae.Status < 500:
		return ae
	}
	return fmt.Errorf("%s: %w (%w)", service, booking.ErrUnavailable, err)
}

// workflowAdapter reads workflows from oc-workflow with the caller's token.
type workflowAdapter struct {
	base string
	hc   *http.Client
}

func (a workflowAdapter) Get(ctx context.Context, p authn.Principal, id string) (wf.Workflow, error) {
	w, err := workflowclient.New(a.base, workflowclient.StaticToken(p.Token), a.hc).Get(ctx, id)
	return w, remoteErr("workflow", err, booking.ErrWorkflowNotFound)
}

// catalogAdapter looks resources up in oc-catalog with the caller's token.
type catalogAdapter struct {
	base string
	hc   *http.Client
}

func (a catalogAdapter) Lookup(ctx context.Context, p authn.Principal, ids []string) (resource.LookupResult, error) {
	r, err := catalogclient.New(a.base, catalogclient.StaticToken(p.Token), a.hc).Lookup(ctx, ids)
	// The lookup route answers every id; a 404 is the route missing.
	return r, remoteErr("catalog", err, booking.ErrUnavailable)
}

type lockAdapter struct{ l *schedstore.Lock }

func (a lockAdapter) Acquire(ctx context.Context) (booking.Lease, error) {
	lease, err := a.l.Acquire(ctx)
	if errors.Is(err, schedstore.ErrBusy) {
		return nil, fmt.Errorf("%w (%w)", booking.ErrBusy, err)
	}
	if err != nil {
		return nil, err
	}
	return leaseAdapter{lease}, nil
}

type leaseAdapter struct{ l *schedstore.Lease }

func (a leaseAdapter) Renew(ctx context.Context) error {
	err := a.l.Renew(ctx)
	if errors.Is(err, schedstore.ErrLost) {
		// Held too long (a stalled store): what was written is undone and
		// the client may retry.
		return fmt.Errorf("%w (%w)", booking.ErrBusy, err)
	}
	return err
}

func (a leaseAdapter) Release(ctx context.Context) { a.l.Release(ctx) }

type journalAdapter struct {
	execs  *executions.Store
	holder string
	now    func() time.Time
}

func (a journalAdapter) Begin(ctx context.Context, id, workflowID, owner string) error {
	return a.execs.BeginRequest(ctx, executions.RequestDoc{ID: id, Holder: a.holder, WorkflowID: workflowID, Owner: owner,
		At: a.now().UTC().Truncate(time.Millisecond)})
}

func (a journalAdapter) Finish(ctx context.Context, id string) error {
	return a.execs.FinishRequest(ctx, id)
}

func (a journalAdapter) Undo(ctx context.Context, id string) error {
	return a.execs.UndoRequest(ctx, id)
}
