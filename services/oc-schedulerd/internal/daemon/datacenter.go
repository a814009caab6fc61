package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/execution"

	dcclient "github.com/opencloud/opencloud/services/oc-datacenter/client"
)

// Datacenter prepares executions through oc-datacenter's REST API, with
// the services' own identity (an admin client).
type Datacenter struct{ Client *dcclient.Client }

// Prepare asks oc-datacenter for the execution's namespace, service
// account and RBAC. Every failure is a *Waiting: the execution waits, with
// the reason, for the datacenter to be able to prepare it.
func (p Datacenter) Prepare(ctx context.Context, e execution.Execution) error {
	_, err := p.Client.Prepare(ctx, e.ID, e.WorkflowID)
	if err == nil {
		return nil
	}
	var ae *apierror.Error
	switch {
	case errors.As(err, &ae) && ae.Code == "no_cluster":
		return &Waiting{Reason: "no Kubernetes cluster is configured on this peer (oc-datacenter needs OC_KUBECONFIG)"}
	case errors.As(err, &ae) && (ae.Status == 401 || ae.Status == 403):
		return &Waiting{Reason: fmt.Sprintf("oc-datacenter refused oc-schedulerd's identity (%s): check OC_SERVICE_CLIENT_ID and OC_SERVICE_CLIENT_SECRET", ae.Message)}
	case errors.As(err, &ae):
		return &Waiting{Reason: fmt.Sprintf("oc-datacenter could not prepare it: %s", ae.Message)}
	default:
		return &Waiting{Reason: fmt.Sprintf("oc-datacenter is unreachable: %v", err)}
	}
}
