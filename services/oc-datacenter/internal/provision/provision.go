// Package provision makes and removes what an execution needs in this
// peer's cluster: its namespace; the service account its steps run as,
// which has no rights and no token mounted; the service account of Argo's
// executor, its token Secret, and the Role and RoleBinding granting it what
// the executor needs; and a Secret of S3 credentials per storage the
// execution uses, which only the executor's account may read. Every object
// is created idempotently: on a second call, what drifted from the
// expected spec is put back.
package provision

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"

	"github.com/opencloud/opencloud/services/oc-datacenter/datacenter"
)

// ManagedBy is the value of execution.LabelManaged on every object made here.
const ManagedBy = "opencloud"

// RoleName names the Role and the RoleBinding of an execution's namespace,
// which grant the executor's service account, and it alone, what Argo's
// executor needs.
const RoleName = "oc-executor"

// Sentinel errors.
var (
	// ErrCluster: the Kubernetes API failed or refused the request.
	ErrCluster = errors.New("the Kubernetes API failed")
)

// ValidationError lists what is wrong with the ids given.
type ValidationError struct{ Problems []Problem }

// Problem is one invalid field.
type Problem struct{ Field, Problem string }

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid request: %s: %s", e.Problems[0].Field, e.Problems[0].Problem)
}

// ConflictError is a namespace that exists but cannot be used for the
// execution (another owner, another workflow, being deleted).
type ConflictError struct {
	Code    string // namespace_not_managed, workflow_mismatch, namespace_terminating
	Message string
}

func (e *ConflictError) Error() string { return e.Message }

// Provisioner works on one cluster.
type Provisioner struct {
	cs        kubernetes.Interface
	retention time.Duration
}

// New returns a provisioner on cs that sweeps executions ended more than
// retention ago.
func New(cs kubernetes.Interface, retention time.Duration) *Provisioner {
	return &Provisioner{cs: cs, retention: retention}
}

// ExecutorRules are what Argo v3.6's executor does with its service
// account (execution.ExecutorServiceAccount): report step outputs as WorkflowTaskResults, read,
// watch and annotate its own pod and its logs, and read the artifacts'
// credentials Secrets, secretNames (only those: the rule names them).
func ExecutorRules(secretNames ...string) []rbacv1.PolicyRule {
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflowtaskresults"}, Verbs: []string{"create", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "watch", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
	}
	if len(secretNames) > 0 {
		// Without resourceNames the rule would open every Secret of the namespace.
		names := slices.Sorted(slices.Values(secretNames))
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"},
			Verbs: []string{"get"}, ResourceNames: slices.Compact(names)})
	}
	return rules
}

// S3Secret is the S3 credentials of one storage, to be put in the
// execution's namespace as the Secret execution.S3SecretName(Storage).
type S3Secret struct {
	Storage   resource.Ref // the peer normalised: the name is derived from it
	AccessKey string
	SecretKey string
}

// Name is the Secret's name, the one oc-monitord's Workflow refers to.
func (s S3Secret) Name() string { return execution.S3SecretName(s.Storage) }

func (s S3Secret) data() map[string][]byte {
	return map[string][]byte{execution.S3AccessKey: []byte(s.AccessKey), execution.S3SecretKey: []byte(s.SecretKey)}
}

// AnnotationStorage, on an S3 Secret, names the storage ("peer/id") whose
// credentials it holds: its name is a hash.
const AnnotationStorage = "opencloud.io/storage"

// ValidateIDs checks that an execution id makes a valid namespace name and
// label value, and a workflow id a valid label value (workflowID "" is not
// checked: Release and Sweep have none).
func ValidateIDs(executionID, workflowID string, needWorkflow bool) error {
	var probs []Problem
	if executionID == "" {
		probs = append(probs, Problem{"id", "required: the execution's id"})
	} else if errs := validation.IsDNS1123Label(execution.Namespace(executionID)); len(errs) > 0 {
		probs = append(probs, Problem{"id", fmt.Sprintf("the execution id must make a Kubernetes namespace name %q: %s; use the execution's id (a UUID)", clip(execution.Namespace(executionID)), errs[0])})
	} else if errs := validation.IsValidLabelValue(executionID); len(errs) > 0 {
		// It also labels every object of the execution.
		probs = append(probs, Problem{"id", fmt.Sprintf("the execution id must be usable as a Kubernetes label value: %s; use the execution's id (a UUID)", errs[0])})
	}
	switch {
	case !needWorkflow:
	case workflowID == "":
		probs = append(probs, Problem{"workflow_id", "required: the id of the workflow the execution runs"})
	default:
		if errs := validation.IsValidLabelValue(workflowID); len(errs) > 0 {
			probs = append(probs, Problem{"workflow_id", fmt.Sprintf("must be usable as a Kubernetes label value: %s; use the workflow's id (a UUID)", errs[0])})
		}
	}
	if len(probs) > 0 {
		return &ValidationError{Problems: probs}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// labels are the labels of every object of an execution.
func labels(executionID, workflowID string) map[string]string {
	return map[string]string{
		execution.LabelExecution: executionID,
		execution.LabelWorkflow:  workflowID,
		execution.LabelManaged:   ManagedBy,
	}
}

// withLabels returns have with want's labels set over it: labels others
// added (admins, policies) are kept.
func withLabels(have, want map[string]string) (map[string]string, bool) {
	out := maps.Clone(have)
	if out == nil {
		out = map[string]string{}
	}
	changed := false
	for k, v := range want {
		if out[k] != v {
			out[k], changed = v, true
		}
	}
	return out, changed
}

// Prepare makes sure the execution's namespace, the workload's and the
// executor's service accounts, the executor's token Secret, Role,
// RoleBinding and S3 Secrets exist as expected, creating or putting back
// what is missing or changed.
func (p *Provisioner) Prepare(ctx context.Context, executionID, workflowID string, secrets []S3Secret) (datacenter.Prepared, error) {
	out := datacenter.Prepared{ExecutionID: executionID, WorkflowID: workflowID,
		Namespace: execution.Namespace(executionID), ServiceAccount: execution.WorkloadServiceAccount,
		ExecutorServiceAccount: execution.ExecutorServiceAccount, Role: RoleName, RoleBinding: RoleName}
	if err := ValidateIDs(executionID, workflowID, true); err != nil {
		return out, err
	}
	ns, lbl := out.Namespace, labels(executionID, workflowID)
	names := make([]string, len(secrets))
	for i, s := range secrets {
		names[i] = s.Name()
	}
	rules := ExecutorRules(names...)
	type step struct {
		kind string
		name string
		do   func(context.Context, string, map[string]string) (datacenter.Action, error)
	}
	// The executor's token belongs to the account of that UID: a token of
	// an account deleted and made again is replaced.
	var executorUID types.UID
	steps := []step{
		{"Namespace", ns, p.namespace},
		{"ServiceAccount", execution.WorkloadServiceAccount, func(ctx context.Context, ns string, lbl map[string]string) (datacenter.Action, error) {
			act, _, err := p.serviceAccount(ctx, ns, execution.WorkloadServiceAccount, lbl)
			return act, err
		}},
		{"ServiceAccount", execution.ExecutorServiceAccount, func(ctx context.Context, ns string, lbl map[string]string) (datacenter.Action, error) {
			act, uid, err := p.serviceAccount(ctx, ns, execution.ExecutorServiceAccount, lbl)
			executorUID = uid
			return act, err
		}},
		{"Secret", execution.ExecutorTokenSecret, func(ctx context.Context, ns string, lbl map[string]string) (datacenter.Action, error) {
			return p.executorToken(ctx, ns, lbl, executorUID)
		}},
		{"Role", RoleName, func(ctx context.Context, ns string, lbl map[string]string) (datacenter.Action, error) {
			return p.role(ctx, ns, lbl, rules)
		}},
		{"RoleBinding", RoleName, p.roleBinding},
	}
	for _, s := range secrets {
		steps = append(steps, step{"Secret", s.Name(), func(ctx context.Context, ns string, lbl map[string]string) (datacenter.Action, error) {
			return p.secret(ctx, ns, lbl, s)
		}})
	}
	for _, s := range steps {
		act, err := s.do(ctx, ns, lbl)
		if err != nil {
			return out, err
		}
		obj := datacenter.Object{Kind: s.kind, Name: s.name, Namespace: ns, Action: act}
		if s.kind == "Namespace" {
			obj.Namespace = ""
		}
		out.Objects = append(out.Objects, obj)
	}
	return out, nil
}

func (p *Provisioner) namespace(ctx context.Context, name string, lbl map[string]string) (datacenter.Action, error) {
	want := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbl}}
	_, err := p.cs.CoreV1().Namespaces().Create(ctx, want, metav1.CreateOptions{})
	if err == nil {
		return datacenter.Created, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return "", clusterErr("create namespace "+name, err)
	}
	act := datacenter.Unchanged
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := p.cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if err := ours(cur.ObjectMeta, lbl); err != nil {
			return err
		}
		if cur.DeletionTimestamp != nil || cur.Status.Phase == corev1.NamespaceTerminating {
			return &ConflictError{Code: "namespace_terminating", Message: fmt.Sprintf(
				"namespace %s is being deleted (the execution was released or swept): wait until it is gone, then prepare again", name)}
		}
		merged, changed := withLabels(cur.Labels, lbl)
		if !changed {
			return nil
		}
		cur.Labels = merged
		_, err = p.cs.CoreV1().Namespaces().Update(ctx, cur, metav1.UpdateOptions{})
		act = datacenter.Updated
		return err
	})
	if err != nil {
		return "", clusterErr("update namespace "+name, err)
	}
	return act, nil
}

// ours refuses a namespace that OpenCloud did not make for this execution
// and workflow: preparing must never take over somebody else's namespace.
func ours(m metav1.ObjectMeta, lbl map[string]string) error {
	if m.Labels[execution.LabelManaged] != ManagedBy || m.Labels[execution.LabelExecution] != lbl[execution.LabelExecution] {
		return &ConflictError{Code: "namespace_not_managed", Message: fmt.Sprintf(
			"namespace %s exists and was not made by OpenCloud for this execution (labels %s=%s, %s=%s are missing): remove or rename it",
			m.Name, execution.LabelManaged, ManagedBy, execution.LabelExecution, lbl[execution.LabelExecution])}
	}
	if w, ok := m.Labels[execution.LabelWorkflow]; ok && w != lbl[execution.LabelWorkflow] {
		return &ConflictError{Code: "workflow_mismatch", Message: fmt.Sprintf(
			"execution %s was prepared for workflow %s, not %s", lbl[execution.LabelExecution], w, lbl[execution.LabelWorkflow])}
	}
	return nil
}

// serviceAccount makes service account name, without its token mounted
// in pods: the workload must not have one, and Argo mounts the executor's
// itself, in its own containers only. It returns the account's UID.
func (p *Provisioner) serviceAccount(ctx context.Context, ns, name string, lbl map[string]string) (datacenter.Action, types.UID, error) {
	api := p.cs.CoreV1().ServiceAccounts(ns)
	noToken := false
	want := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: lbl},
		AutomountServiceAccountToken: &noToken}
	if cur, err := api.Create(ctx, want, metav1.CreateOptions{}); err == nil {
		return datacenter.Created, cur.UID, nil
	} else if !apierrors.IsAlreadyExists(err) {
		return "", "", clusterErr("create service account "+name, err)
	}
	act := datacenter.Unchanged
	var uid types.UID
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := api.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		uid = cur.UID
		merged, changed := withLabels(cur.Labels, lbl)
		mounts := cur.AutomountServiceAccountToken == nil || *cur.AutomountServiceAccountToken
		if !changed && !mounts {
			return nil
		}
		cur.Labels, cur.AutomountServiceAccountToken = merged, &noToken
		_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
		act = datacenter.Updated
		return err
	})
	if err != nil {
		return "", "", clusterErr("update service account "+name, err)
	}
	return act, uid, nil
}

// executorToken makes the Secret holding the executor account's token,
// which Kubernetes fills and Argo mounts in the executor's containers. A
// Secret of that name that is not the token of the account of UID
// executorUID is replaced; the token itself is Kubernetes' to write.
func (p *Provisioner) executorToken(ctx context.Context, ns string, lbl map[string]string, executorUID types.UID) (datacenter.Action, error) {
	api := p.cs.CoreV1().Secrets(ns)
	name := execution.ExecutorTokenSecret
	want := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: lbl,
			Annotations: map[string]string{corev1.ServiceAccountNameKey: execution.ExecutorServiceAccount}},
		Type: corev1.SecretTypeServiceAccountToken,
	}
	if _, err := api.Create(ctx, want, metav1.CreateOptions{}); err == nil {
		return datacenter.Created, nil
	} else if !apierrors.IsAlreadyExists(err) {
		return "", clusterErr("create secret "+name, err)
	}
	act := datacenter.Unchanged
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := api.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		uid, bound := cur.Annotations[corev1.ServiceAccountUIDKey]
		if cur.Type != want.Type || cur.Annotations[corev1.ServiceAccountNameKey] != execution.ExecutorServiceAccount ||
			(bound && executorUID != "" && types.UID(uid) != executorUID) {
			// Neither the type nor the account of a token can be changed: replace it.
			if err := api.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cur.UID}}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			act = datacenter.Updated
			_, err := api.Create(ctx, want, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(corev1.Resource("secrets"), name, err)
			}
			return err
		}
		merged, changed := withLabels(cur.Labels, lbl)
		if !changed {
			return nil
		}
		cur.Labels = merged
		_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
		act = datacenter.Updated
		return err
	})
	if err != nil {
		return "", clusterErr("update secret "+name, err)
	}
	return act, nil
}

func (p *Provisioner) role(ctx context.Context, ns string, lbl map[string]string, rules []rbacv1.PolicyRule) (datacenter.Action, error) {
	api := p.cs.RbacV1().Roles(ns)
	want := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: RoleName, Namespace: ns, Labels: lbl}, Rules: rules}
	if _, err := api.Create(ctx, want, metav1.CreateOptions{}); err == nil {
		return datacenter.Created, nil
	} else if !apierrors.IsAlreadyExists(err) {
		return "", clusterErr("create role", err)
	}
	act := datacenter.Unchanged
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := api.Get(ctx, RoleName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		merged, changed := withLabels(cur.Labels, lbl)
		if !changed && RulesEqual(cur.Rules, want.Rules) {
			return nil
		}
		cur.Labels, cur.Rules = merged, want.Rules
		_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
		act = datacenter.Updated
		return err
	})
	if err != nil {
		return "", clusterErr("update role", err)
	}
	return act, nil
}

func (p *Provisioner) roleBinding(ctx context.Context, ns string, lbl map[string]string) (datacenter.Action, error) {
	api := p.cs.RbacV1().RoleBindings(ns)
	want := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: RoleName, Namespace: ns, Labels: lbl},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: RoleName},
		// The executor's account only: the workload's is bound to nothing.
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: execution.ExecutorServiceAccount, Namespace: ns}},
	}
	if _, err := api.Create(ctx, want, metav1.CreateOptions{}); err == nil {
		return datacenter.Created, nil
	} else if !apierrors.IsAlreadyExists(err) {
		return "", clusterErr("create role binding", err)
	}
	act := datacenter.Unchanged
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := api.Get(ctx, RoleName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.RoleRef != want.RoleRef {
			// The role reference of a binding cannot be changed: replace it.
			if err := api.Delete(ctx, RoleName, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cur.UID}}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			act = datacenter.Updated
			_, err := api.Create(ctx, want, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(rbacv1.Resource("rolebindings"), RoleName, err)
			}
			return err
		}
		merged, changed := withLabels(cur.Labels, lbl)
		if !changed && slices.Equal(cur.Subjects, want.Subjects) {
			return nil
		}
		cur.Labels, cur.Subjects = merged, want.Subjects
		_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
		act = datacenter.Updated
		return err
	})
	if err != nil {
		return "", clusterErr("update role binding", err)
	}
	return act, nil
}

func (p *Provisioner) secret(ctx context.Context, ns string, lbl map[string]string, s S3Secret) (datacenter.Action, error) {
	api := p.cs.CoreV1().Secrets(ns)
	name := s.Name()
	want := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: lbl,
			Annotations: map[string]string{AnnotationStorage: s.Storage.String()}},
		Type: corev1.SecretTypeOpaque,
		Data: s.data(),
	}
	// Errors name the Secret, never its data.
	if _, err := api.Create(ctx, want, metav1.CreateOptions{}); err == nil {
		return datacenter.Created, nil
	} else if !apierrors.IsAlreadyExists(err) {
		return "", clusterErr("create secret "+name, err)
	}
	act := datacenter.Unchanged
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := api.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.Type != want.Type {
			// A Secret's type cannot be changed: replace it.
			if err := api.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cur.UID}}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			act = datacenter.Updated
			_, err := api.Create(ctx, want, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(corev1.Resource("secrets"), name, err)
			}
			return err
		}
		merged, changed := withLabels(cur.Labels, lbl)
		annotations, annChanged := withLabels(cur.Annotations, want.Annotations)
		if !changed && !annChanged && sameData(cur.Data, want.Data) {
			return nil
		}
		cur.Labels, cur.Annotations, cur.Data, cur.StringData = merged, annotations, want.Data, nil
		_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
		act = datacenter.Updated
		return err
	})
	if err != nil {
		return "", clusterErr("update secret "+name, err)
	}
	return act, nil
}

func sameData(a, b map[string][]byte) bool {
	return maps.EqualFunc(a, b, func(x, y []byte) bool { return string(x) == string(y) })
}

// RulesEqual compares two rule lists as sets of (group, resource, verb)
// grants, so that an equivalent Role written in another order or shape is
// not rewritten.
func RulesEqual(a, b []rbacv1.PolicyRule) bool {
	return maps.Equal(grants(a), grants(b))
}

type grant struct{ group, resource, verb, name, url string }

func grants(rules []rbacv1.PolicyRule) map[grant]bool {
	out := map[grant]bool{}
	for _, r := range rules {
		for _, u := range r.NonResourceURLs {
			for _, v := range r.Verbs {
				out[grant{url: u, verb: v}] = true
			}
		}
		names := r.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					for _, n := range names {
						out[grant{group: g, resource: res, verb: v, name: n}] = true
					}
				}
			}
		}
	}
	return out
}

// Release deletes the execution's namespace and so everything in it. An
// execution without a namespace is already released.
func (p *Provisioner) Release(ctx context.Context, executionID string) error {
	if err := ValidateIDs(executionID, "", false); err != nil {
		return err
	}
	name := execution.Namespace(executionID)
	cur, err := p.cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return clusterErr("get namespace "+name, err)
	}
	if cur.Labels[execution.LabelManaged] != ManagedBy || cur.Labels[execution.LabelExecution] != executionID {
		return &ConflictError{Code: "namespace_not_managed", Message: fmt.Sprintf(
			"namespace %s was not made by OpenCloud for this execution: it is left alone", name)}
	}
	if cur.DeletionTimestamp != nil {
		return nil
	}
	return p.delete(ctx, cur)
}

func (p *Provisioner) delete(ctx context.Context, ns *corev1.Namespace) error {
	// The UID precondition keeps a namespace re-created meanwhile alive.
	err := p.cs.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &ns.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return clusterErr("delete namespace "+ns.Name, err)
	}
	return nil
}

// Ended tells whether an execution is over and since when. A zero endedAt
// with over true means "over, time unknown" (an execution the store does
// not know): the namespace's creation time stands in for it.
type Ended func(ctx context.Context, executionID string) (endedAt time.Time, over bool, err error)

// SweepResult is what one sweep did.
type SweepResult struct {
	Deleted []string // namespaces deleted
	Kept    int      // managed namespaces left: running, or ended within the retention
}

// Sweep deletes the namespaces OpenCloud made whose execution ended more
// than the retention before now. A failure on one namespace does not stop
// the others; every failure is returned, joined.
func (p *Provisioner) Sweep(ctx context.Context, now time.Time, isOver Ended) (SweepResult, error) {
	var res SweepResult
	list, err := p.cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{
		LabelSelector: execution.LabelManaged + "=" + ManagedBy})
	if err != nil {
		return res, clusterErr("list namespaces", err)
	}
	var errs []error
	for i := range list.Items {
		ns := &list.Items[i]
		id := ns.Labels[execution.LabelExecution]
		if ns.DeletionTimestamp != nil || id == "" {
			continue
		}
		ended, over, err := isOver(ctx, id)
		if err != nil {
			errs = append(errs, fmt.Errorf("execution %s: %w", id, err))
			continue
		}
		if !Due(ended, over, ns.CreationTimestamp.Time, now, p.retention) {
			res.Kept++
			continue
		}
		if err := p.delete(ctx, ns); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Deleted = append(res.Deleted, ns.Name)
	}
	return res, errors.Join(errs...)
}

// Due decides whether a namespace created at created, whose execution is
// over (ended at endedAt, zero when unknown), is past its retention at now.
func Due(endedAt time.Time, over bool, created, now time.Time, retention time.Duration) bool {
	if !over {
		return false
	}
	if endedAt.IsZero() {
		endedAt = created
	}
	return now.Sub(endedAt) >= retention
}

func clusterErr(what string, err error) error {
	var ve *ValidationError
	var ce *ConflictError
	if errors.As(err, &ve) || errors.As(err, &ce) {
		return err
	}
	return fmt.Errorf("%s: %w: %w", what, ErrCluster, err)
}
