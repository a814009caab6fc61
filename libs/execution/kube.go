package execution

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/opencloud/opencloud/libs/resource"
)

// The names an execution's Kubernetes objects go by: oc-datacenter creates
// them, oc-monitord refers to them, so both derive them here.

// The service accounts of an execution's namespace. The steps' own
// containers run as WorkloadServiceAccount, which has no rights and no
// token mounted: the code a user runs cannot call the Kubernetes API.
// Argo's executor (the init and wait containers beside each step) runs as
// ExecutorServiceAccount, the only identity allowed to read the
// execution's S3 Secrets; Argo mounts its token, from the Secret
// ExecutorTokenSecret, in those containers only.
const (
	WorkloadServiceAccount = "oc-workload"
	ExecutorServiceAccount = "oc-executor"
	// ExecutorTokenSecret is the name Argo looks the executor's token up
	// by: the account's name and ".service-account-token".
	ExecutorTokenSecret = ExecutorServiceAccount + ".service-account-token"
)

// Labels every Kubernetes object made for an execution carries.
const (
	LabelExecution = "opencloud.io/execution-id"
	LabelWorkflow  = "opencloud.io/workflow-id"
	LabelManaged   = "app.kubernetes.io/managed-by" // value "opencloud"
)

// Namespace is the namespace of execution id: "oc-" and the id (a UUID,
// so the name stays within Kubernetes' 63 characters).
func Namespace(id string) string { return "oc-" + id }

// WorkflowName is the name of the Argo Workflow of execution id: derived,
// so that a re-run finds and follows the Workflow already submitted
// instead of submitting a second one.
func WorkflowName(id string) string { return "oc-" + id }

// S3SecretName is the Secret, in the execution's namespace, holding the S3
// credentials its owner issued for storage: keys "accessKey" and
// "secretKey".
func S3SecretName(storage resource.Ref) string {
	sum := sha256.Sum256([]byte(storage.Peer + "/" + storage.ID))
	return "oc-s3-" + hex.EncodeToString(sum[:8])
}

// S3 Secret keys.
const (
	S3AccessKey = "accessKey"
	S3SecretKey = "secretKey"
)
