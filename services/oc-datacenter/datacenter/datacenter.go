// Package datacenter holds the wire types of oc-datacenter's API: what the
// scheduler family and the typed client send and receive. The rules
// (names, RBAC, inventory) live in the service.
package datacenter

import (
	"time"

	"github.com/opencloud/opencloud/libs/resource"
)

// PrepareRequest is the body of POST /datacenter/executions/{id}/prepare.
type PrepareRequest struct {
	// WorkflowID is the workflow the execution runs (labels its namespace).
	WorkflowID string `json:"workflow_id" validate:"required" example:"6b0e3c6c-4d0a-4d21-9a43-0e4c1d7b9f10"`
	// Storages are the storages the execution's processings read or
	// write: each gets a Secret of its S3 credentials in the namespace. A
	// peer "" is this peer; only this peer's storages can be served.
	Storages []resource.Ref `json:"storages,omitempty"`
}

// Action is what a call did to one object.
type Action string

// Actions.
const (
	Created   Action = "created"
	Updated   Action = "updated"
	Unchanged Action = "unchanged"
	// Failed: the object could not be written; Published.Error says why.
	Failed Action = "failed"
)

// Object is one Kubernetes object of an execution, and what Prepare did to it.
type Object struct {
	Kind      string `json:"kind" example:"Role"`
	Name      string `json:"name" example:"oc-executor"`
	Namespace string `json:"namespace,omitempty" example:"oc-3f1c2a9e-6a43-4d3b-9a55-1a2b3c4d5e6f"`
	// Action: created, updated (put back to the expected spec) or unchanged.
	Action Action `json:"action" enums:"created,updated,unchanged" example:"created"`
}

// Prepared is what exists for an execution once it is prepared.
type Prepared struct {
	ExecutionID string `json:"execution_id" example:"3f1c2a9e-6a43-4d3b-9a55-1a2b3c4d5e6f"`
	WorkflowID  string `json:"workflow_id" example:"6b0e3c6c-4d0a-4d21-9a43-0e4c1d7b9f10"`
	Namespace   string `json:"namespace" example:"oc-3f1c2a9e-6a43-4d3b-9a55-1a2b3c4d5e6f"`
	// ServiceAccount is the account the steps' pods run as: no rights, no
	// token mounted.
	ServiceAccount string `json:"service_account" example:"oc-workload"`
	// ExecutorServiceAccount is the account of Argo's executor, the only
	// one that may read the execution's S3 Secrets.
	ExecutorServiceAccount string `json:"executor_service_account" example:"oc-executor"`
	Role                   string `json:"role" example:"oc-executor"`
	RoleBinding            string `json:"role_binding" example:"oc-executor"`
	// Objects lists the namespace, the workload's service account, the
	// executor's service account and its token Secret, the Role and the
	// RoleBinding in that order, then one Secret per storage in the order
	// asked, with what was done. A Secret's value is never shown.
	Objects []Object `json:"objects"`
}

// Limits of StorageCredentialsInput.
const (
	MaxAccessKeyID     = 128
	MaxSecretAccessKey = 256
)

// StorageCredentialsInput is the body of PUT
// /datacenter/storages/{id}/credentials: the S3 credentials executions use
// for one of this peer's storages.
type StorageCredentialsInput struct {
	// AccessKeyID: 1 to 128 printable ASCII characters, no spaces.
	AccessKeyID string `json:"access_key_id" validate:"required" maxLength:"128" example:"AKIAIOSFODNN7EXAMPLE"`
	// SecretAccessKey: 1 to 256 printable ASCII characters, no spaces.
	// Stored encrypted; no route ever answers it.
	SecretAccessKey string `json:"secret_access_key" validate:"required" maxLength:"256" example:"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"`
}

// StorageCredentials is what the API shows of a storage's credentials: never the secret.
type StorageCredentials struct {
	// StorageID is the storage resource's id in this peer's catalog.
	StorageID   string    `json:"storage_id" example:"9a1f7c1e-5b2d-4c8e-8f3a-2d4b6c8e0f12"`
	AccessKeyID string    `json:"access_key_id" example:"AKIAIOSFODNN7EXAMPLE"`
	UpdatedAt   time.Time `json:"updated_at"`
	// UpdatedBy is the subject of the admin who set them last.
	UpdatedBy string `json:"updated_by" example:"root"`
}

// Resources are amounts of a node's resources.
type Resources struct {
	CPUMillicores int64 `json:"cpu_millicores" example:"8000"`
	MemoryBytes   int64 `json:"memory_bytes" example:"34359738368"`
	// GPUs are the node's nvidia.com/gpu.
	GPUs int64 `json:"gpus" example:"0"`
	Pods int64 `json:"pods" example:"110"`
}

// Node is one node of the cluster.
type Node struct {
	Name string `json:"name" example:"node-1"`
	// Architecture as Kubernetes names it (kubernetes.io/arch).
	Architecture string `json:"architecture" example:"amd64"`
	OS           string `json:"os" example:"linux"`
	// GPUModel is the nvidia.com/gpu.product label, when the node has one.
	GPUModel string `json:"gpu_model,omitempty"`
	// Capacity is what the node has; Allocatable what pods may use of it.
	Capacity    Resources `json:"capacity"`
	Allocatable Resources `json:"allocatable"`
	// Labels are the node's labels, sorted by key.
	Labels []resource.Label `json:"labels"`
	// Ready is the node's Ready condition.
	Ready bool `json:"ready"`
	// Unschedulable: the node is cordoned.
	Unschedulable bool `json:"unschedulable,omitempty"`
}

// NodeList is the answer of GET /datacenter/nodes.
type NodeList struct {
	// Cluster is the cluster's name (OC_DATACENTER_CLUSTER), the cluster_ref of its computes.
	Cluster string `json:"cluster" example:"local"`
	Items   []Node `json:"items"`
}

// PublishRequest is the optional body of POST /datacenter/inventory/publish.
type PublishRequest struct {
	// Visibility of the compute resources this call creates (default
	// private); those already published keep the visibility they were given.
	Visibility resource.Visibility `json:"visibility,omitempty" enums:"public,partners,groups,private" example:"partners"`
	// Groups, when Visibility is groups.
	Groups []string `json:"groups,omitempty"`
}

// Published is what publishing did for one node.
type Published struct {
	Node string `json:"node" example:"node-1"`
	// ResourceID is the node's compute resource in the catalog.
	ResourceID string `json:"resource_id,omitempty"`
	Action     Action `json:"action" enums:"created,updated,unchanged,failed" example:"created"`
	// Error says why the catalog refused it, when Action is failed.
	Error string `json:"error,omitempty"`
}

// PublishResult is the answer of POST /datacenter/inventory/publish.
type PublishResult struct {
	Cluster   string      `json:"cluster" example:"local"`
	Created   int         `json:"created"`
	Updated   int         `json:"updated"`
	Unchanged int         `json:"unchanged"`
	Failed    int         `json:"failed"`
	Items     []Published `json:"items"`
	// Stale are the ids of compute resources published earlier for nodes
	// the cluster no longer has (or duplicates of a node's compute). They
	// are left in the catalog (bookings may refer to them): delete or keep
	// them there.
	Stale []string `json:"stale"`
}
