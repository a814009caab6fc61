package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/workflow"

	dcclient "github.com/opencloud/opencloud/services/oc-datacenter/client"
	"github.com/opencloud/opencloud/services/oc-datacenter/datacenter"
)

// storages are the storages the execution's processings read or write:
// each needs its S3 credentials Secret.
func storages(e execution.Execution) []resource.Ref {
	kinds := make(map[string]resource.Kind, len(e.Graph.Nodes))
	refs := make(map[string]resource.Ref, len(e.Graph.Nodes))
	for _, n := range e.Graph.Nodes {
		kinds[n.ID], refs[n.ID] = n.Kind, n.Resource
	}
	var out []resource.Ref
	seen := map[resource.Ref]bool{}
	for _, l := range e.Graph.Links {
		var node string
		switch l.Kind {
		case workflow.LinkStorageRead:
			node = l.From
		case workflow.LinkStorageWrite:
			node = l.To
		default:
			continue
		}
		if r := refs[node]; kinds[node] == resource.KindStorage && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// Datacenter prepares executions through oc-datacenter's REST API, with
// the services' own identity (an admin client).
type Datacenter struct{ Client *dcclient.Client }

// Prepare asks oc-datacenter for the execution's namespace, service
// account and RBAC. Every failure is a *Waiting: the execution waits, with
// the reason, for the datacenter to be able to prepare it.
func (p Datacenter) Prepare(ctx context.Context, e execution.Execution) error {
	_, err := p.Client.PrepareWith(ctx, e.ID, datacenter.PrepareRequest{WorkflowID: e.WorkflowID, Storages: storages(e)})
	if err == nil {
		return nil
	}
	return waiting(err)
}

// waiting turns a failed preparation into the reason the execution waits;
// only a refusal about the execution itself is not global.
func waiting(err error) *Waiting {
	var ae *apierror.Error
	var te *apiclient.TokenError
	switch {
	case errors.As(err, &te):
		return &Waiting{Global: true, Reason: fmt.Sprintf("oc-schedulerd could not get its own token from oc-auth (%d %s): check OC_SERVICE_CLIENT_ID and OC_SERVICE_CLIENT_SECRET", te.Status, te.Code)}
	case errors.As(err, &ae) && ae.Code == "no_cluster":
		return &Waiting{Global: true, Reason: "no Kubernetes cluster is configured on this peer (oc-datacenter needs OC_KUBECONFIG)"}
	case errors.As(err, &ae) && (ae.Status == 401 || ae.Status == 403):
		return &Waiting{Global: true, Reason: fmt.Sprintf("oc-datacenter refused oc-schedulerd's identity (%s): check OC_SERVICE_CLIENT_ID and OC_SERVICE_CLIENT_SECRET", ae.Message)}
	case errors.As(err, &ae):
		return &Waiting{Reason: fmt.Sprintf("oc-datacenter could not prepare it (%s): %s", ae.Code, ae.Message)}
	default:
		return &Waiting{Global: true, Reason: fmt.Sprintf("oc-datacenter is unreachable: %v", err)}
	}
}
