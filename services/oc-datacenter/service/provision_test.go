package service_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"

	"github.com/opencloud/opencloud/services/oc-datacenter/datacenter"
	"github.com/opencloud/opencloud/services/oc-datacenter/internal/provision"
	"github.com/opencloud/opencloud/services/oc-datacenter/service"
)

func actions(p datacenter.Prepared) []datacenter.Action {
	out := make([]datacenter.Action, len(p.Objects))
	for i, o := range p.Objects {
		out[i] = o.Action
	}
	return out
}

// fixedObjects is how many objects every execution has besides its S3
// Secrets: namespace, two service accounts, token Secret, Role, RoleBinding.
const fixedObjects = 6

func all(a datacenter.Action) []datacenter.Action {
	out := make([]datacenter.Action, fixedObjects)
	for i := range out {
		out[i] = a
	}
	return out
}

// Preparing twice makes the six objects once, as specified, then finds
// them unchanged; a Role, binding, label, service account or token Secret
// changed behind its back is put back on the next call.
func TestPrepare(t *testing.T) {
	e := withCluster(t, testenv.SQLiteStore(t))
	ctx := context.Background()
	id, wf := e.newExecution(), uuid.NewString()
	ns := execution.Namespace(id)

	p, err := e.as(root).Prepare(ctx, id, wf)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(actions(p), all(datacenter.Created)) {
		t.Errorf("first prepare: %v, want all created", actions(p))
	}
	want := datacenter.Prepared{ExecutionID: id, WorkflowID: wf, Namespace: ns, ServiceAccount: execution.WorkloadServiceAccount,
		ExecutorServiceAccount: execution.ExecutorServiceAccount, Role: provision.RoleName, RoleBinding: provision.RoleName}
	p.Objects = nil
	if p.ExecutionID != want.ExecutionID || p.Namespace != want.Namespace || p.ServiceAccount != want.ServiceAccount ||
		p.ExecutorServiceAccount != want.ExecutorServiceAccount ||
		p.Role != want.Role || p.RoleBinding != want.RoleBinding || p.WorkflowID != wf {
		t.Errorf("prepared %+v, want %+v", p, want)
	}
	e.checkObjects(id, wf)

	again, err := e.as(root).Prepare(ctx, id, wf)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(actions(again), all(datacenter.Unchanged)) {
		t.Errorf("second prepare: %v, want all unchanged", actions(again))
	}

	// Somebody narrows the Role, empties the binding and drops a label.
	role, err := e.kube.RbacV1().Roles(ns).Get(ctx, provision.RoleName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	role.Rules = role.Rules[:1]
	if _, err := e.kube.RbacV1().Roles(ns).Update(ctx, role, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb, err := e.kube.RbacV1().RoleBindings(ns).Get(ctx, provision.RoleName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rb.Subjects = []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: ns}}
	if _, err := e.kube.RbacV1().RoleBindings(ns).Update(ctx, rb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	nsObj, err := e.kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	delete(nsObj.Labels, execution.LabelWorkflow)
	nsObj.Labels["team"] = "infra" // someone else's label: kept
	if _, err := e.kube.CoreV1().Namespaces().Update(ctx, nsObj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// ...gives the workload its token back and deletes the executor's.
	sa, err := e.kube.CoreV1().ServiceAccounts(ns).Get(ctx, execution.WorkloadServiceAccount, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sa.AutomountServiceAccountToken = nil
	if _, err := e.kube.CoreV1().ServiceAccounts(ns).Update(ctx, sa, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.kube.CoreV1().Secrets(ns).Delete(ctx, execution.ExecutorTokenSecret, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	fixed, err := e.as(root).Prepare(ctx, id, wf)
	if err != nil {
		t.Fatal(err)
	}
	wantActions := []datacenter.Action{datacenter.Updated, datacenter.Updated, datacenter.Unchanged, datacenter.Created,
		datacenter.Updated, datacenter.Updated}
	if !slices.Equal(actions(fixed), wantActions) {
		t.Errorf("prepare after drift: %v, want %v", actions(fixed), wantActions)
	}
	e.checkObjects(id, wf)
	if nsObj, _ = e.kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); nsObj.Labels["team"] != "infra" {
		t.Errorf("a label OpenCloud does not own was removed: %v", nsObj.Labels)
	}

	// The same execution for another workflow is a conflict, and nothing changes.
	_, err = e.as(root).Prepare(ctx, id, uuid.NewString())
	if ae := apiErr(t, err); ae.Status != http.StatusConflict || ae.Code != "workflow_mismatch" {
		t.Errorf("prepare for another workflow: %v", err)
	}
	e.checkObjects(id, wf)
}

// checkObjects asserts the namespace, service accounts, token Secret, Role
// and binding of execution id are as specified, the Role granting its S3
// Secrets to the executor's account only.
func (e *env) checkObjects(id, wf string, secrets ...string) {
	e.t.Helper()
	ctx := context.Background()
	ns := execution.Namespace(id)
	labels := map[string]string{execution.LabelExecution: id, execution.LabelWorkflow: wf, execution.LabelManaged: "opencloud"}
	hasLabels := func(what string, got map[string]string) {
		for k, v := range labels {
			if got[k] != v {
				e.t.Errorf("%s label %s=%q, want %q", what, k, got[k], v)
			}
		}
	}
	n, err := e.kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	hasLabels("namespace", n.Labels)
	for _, name := range []string{execution.WorkloadServiceAccount, execution.ExecutorServiceAccount} {
		sa, err := e.kube.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
		hasLabels("service account "+name, sa.Labels)
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			e.t.Errorf("service account %s: automountServiceAccountToken %v, want false", name, sa.AutomountServiceAccountToken)
		}
	}
	token, err := e.kube.CoreV1().Secrets(ns).Get(ctx, execution.ExecutorTokenSecret, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	hasLabels("token secret", token.Labels)
	if token.Type != corev1.SecretTypeServiceAccountToken || token.Annotations[corev1.ServiceAccountNameKey] != execution.ExecutorServiceAccount {
		e.t.Errorf("token secret %s for %q", token.Type, token.Annotations[corev1.ServiceAccountNameKey])
	}
	role, err := e.kube.RbacV1().Roles(ns).Get(ctx, provision.RoleName, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	if !provision.RulesEqual(role.Rules, provision.ExecutorRules(secrets...)) {
		e.t.Errorf("role rules %+v", role.Rules)
	}
	rb, err := e.kube.RbacV1().RoleBindings(ns).Get(ctx, provision.RoleName, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	wantRef := rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: provision.RoleName}
	wantSubj := []rbacv1.Subject{{Kind: "ServiceAccount", Name: execution.ExecutorServiceAccount, Namespace: ns}}
	if rb.RoleRef != wantRef || !slices.Equal(rb.Subjects, wantSubj) {
		e.t.Errorf("role binding %+v %+v", rb.RoleRef, rb.Subjects)
	}
}

// The executor's service account may do what Argo's executor does, and
// nothing more: asked of the API server's own authorizer.
func TestExecutorPermissions(t *testing.T) {
	e := withCluster(t, testenv.SQLiteStore(t))
	ctx := context.Background()
	a, b := e.storage("a"), e.storage("b")
	e.setCredentials(a, "AK-A", "SK-A")
	e.setCredentials(b, "AK-B", "SK-B")
	mine, theirs := resource.Ref{Peer: peerID, ID: a.ID}, resource.Ref{Peer: peerID, ID: b.ID}
	id, other := e.newExecution(), e.newExecution()
	for x, st := range map[string]resource.Ref{id: mine, other: theirs} {
		if _, err := e.as(root).PrepareWith(ctx, x, datacenter.PrepareRequest{WorkflowID: uuid.NewString(), Storages: []resource.Ref{st}}); err != nil {
			t.Fatal(err)
		}
	}
	// A Secret of the namespace that is not an artifact's credentials.
	ns := execution.Namespace(id)
	if _, err := e.kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "private"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mySecret := execution.S3SecretName(mine)
	for _, tc := range []struct {
		ns, group, resource, sub, verb string
		allowed                        bool
		name                           string
	}{
		// The artifacts' credentials, by name only.
		{ns, "", "secrets", "", "get", true, mySecret},
		{ns, "", "secrets", "", "get", false, "private"},
		{ns, "", "secrets", "", "get", false, execution.S3SecretName(theirs)},
		{ns, "", "secrets", "", "list", false, ""},
		{ns, "", "secrets", "", "watch", false, mySecret},
		{ns, "", "secrets", "", "update", false, mySecret},
		{execution.Namespace(other), "", "secrets", "", "get", false, mySecret},
		{execution.Namespace(other), "", "secrets", "", "get", false, execution.S3SecretName(theirs)},
		{ns, "argoproj.io", "workflowtaskresults", "", "create", true, ""},
		{ns, "argoproj.io", "workflowtaskresults", "", "patch", true, ""},
		{ns, "", "pods", "", "get", true, ""},
		{ns, "", "pods", "", "watch", true, ""},
		{ns, "", "pods", "", "patch", true, ""},
		{ns, "", "pods", "log", "get", true, ""},
		// Least privilege: no more than that.
		{ns, "", "pods", "", "delete", false, ""},
		{ns, "", "pods", "", "create", false, ""},
		{ns, "", "secrets", "", "get", false, ""},
		{ns, "", "configmaps", "", "get", false, ""},
		{ns, "argoproj.io", "workflows", "", "create", false, ""},
		{ns, "argoproj.io", "workflowtaskresults", "", "delete", false, ""},
		// Nothing in another execution's namespace.
		{execution.Namespace(other), "", "pods", "", "get", false, ""},
		{execution.Namespace(other), "argoproj.io", "workflowtaskresults", "", "create", false, ""},
	} {
		sar := &authv1.SubjectAccessReview{Spec: authv1.SubjectAccessReviewSpec{
			User:   "system:serviceaccount:" + ns + ":" + execution.ExecutorServiceAccount,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			ResourceAttributes: &authv1.ResourceAttributes{Namespace: tc.ns, Group: tc.group, Resource: tc.resource,
				Subresource: tc.sub, Verb: tc.verb, Name: tc.name},
		}}
		got, err := e.kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Allowed != tc.allowed {
			t.Errorf("%s %s/%s/%s %q in %s: allowed %v, want %v (%s)", tc.verb, tc.group, tc.resource, tc.sub, tc.name, tc.ns,
				got.Status.Allowed, tc.allowed, got.Status.Reason)
		}
	}
}

// Releasing deletes the namespace (Kubernetes finishes it), and releasing
// what is gone is fine. A namespace OpenCloud did not make is neither
// taken over by prepare nor deleted by release.
func TestRelease(t *testing.T) {
	e := withCluster(t, testenv.SQLiteStore(t))
	ctx := context.Background()
	id := e.newExecution()
	if _, err := e.as(root).Prepare(ctx, id, uuid.NewString()); err != nil {
		t.Fatal(err)
	}
	if err := e.as(root).Release(ctx, id); err != nil {
		t.Fatal(err)
	}
	e.namespaceGone(execution.Namespace(id), true)
	if err := e.as(root).Release(ctx, id); err != nil {
		t.Errorf("release again: %v", err)
	}

	foreign := e.newExecution()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: execution.Namespace(foreign)}}
	if _, err := e.kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := e.as(root).Prepare(ctx, foreign, uuid.NewString())
	if ae := apiErr(t, err); ae.Status != http.StatusConflict || ae.Code != "namespace_not_managed" {
		t.Errorf("prepare over a foreign namespace: %v", err)
	}
	if ae := apiErr(t, e.as(root).Release(ctx, foreign)); ae.Status != http.StatusConflict {
		t.Errorf("release of a foreign namespace: %v", ae)
	}
	if !e.alive(ns.Name) {
		t.Error("a namespace OpenCloud did not make was deleted")
	}
	sas, err := e.kube.CoreV1().ServiceAccounts(ns.Name).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sa := range sas.Items {
		if sa.Name == execution.ExecutorServiceAccount {
			t.Error("prepare wrote into a foreign namespace")
		}
	}
}

// Sweeping deletes only the namespaces of executions over for longer than
// the retention; an execution the store does not know counts from its
// namespace's creation.
func TestSweep(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := withCluster(t, st)
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Millisecond)
		ago := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
		old, recent, running, unknown := e.newExecution(), e.newExecution(), e.newExecution(), e.newExecution()
		for _, x := range []struct {
			id       string
			state    execution.State
			finished *time.Time
		}{
			{old, execution.Succeeded, ago(2 * retention)},
			{recent, execution.Failed, ago(retention / 6)},
			{running, execution.Running, nil},
		} {
			ex := execution.Execution{ID: x.id, WorkflowID: uuid.NewString(), Name: x.id, Owner: "alice", State: x.state,
				Start: now.Add(-3 * retention), End: now, FinishedAt: x.finished, CreatedAt: now, UpdatedAt: now}
			if _, err := e.execs.Insert(ctx, ex); err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range []string{old, recent, running, unknown} {
			if _, err := e.as(root).Prepare(ctx, id, uuid.NewString()); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.dc.Sweep(ctx, now); err != nil {
			t.Fatal(err)
		}
		for id, alive := range map[string]bool{old: false, recent: true, running: true, unknown: true} {
			if got := e.alive(execution.Namespace(id)); got != alive {
				t.Errorf("after a sweep now: namespace of %s alive %v, want %v", id, got, alive)
			}
		}
		// Later, past the retention of the recent one and of the unknown one.
		if _, err := e.dc.Sweep(ctx, now.Add(2*retention)); err != nil {
			t.Fatal(err)
		}
		for id, alive := range map[string]bool{recent: false, running: true, unknown: false} {
			if got := e.alive(execution.Namespace(id)); got != alive {
				t.Errorf("after a sweep 2h on: namespace of %s alive %v, want %v", id, got, alive)
			}
		}
	})
}

// Run sweeps on its own, every SweepInterval.
func TestRunSweeps(t *testing.T) {
	e := withCluster(t, testenv.SQLiteStore(t))
	ctx, cancel := context.WithCancel(context.Background())
	id := e.newExecution()
	if _, err := e.as(root).Prepare(ctx, id, uuid.NewString()); err != nil {
		t.Fatal(err)
	}
	// The store does not know the execution: over since its namespace was made.
	dc, err := service.New(ctx, e.deps(service.Deps{Retention: time.Millisecond, SweepInterval: 100 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- dc.Run(ctx) }()
	e.namespaceGone(execution.Namespace(id), false)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
