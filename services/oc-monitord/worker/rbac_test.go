package worker_test

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/services/oc-monitord/worker"
)

// rbacOnce applies deploy/kubernetes/oc-monitord-rbac.yaml once per test binary.
var rbacOnce sync.Once

// asMonitord is the env's cluster configuration impersonating the
// oc-monitord service account of deploy/kubernetes/oc-monitord-rbac.yaml,
// applied as written.
func (e *env) asMonitord() *rest.Config {
	e.t.Helper()
	var err error
	rbacOnce.Do(func() { err = e.applyRBAC("../../../deploy/kubernetes/oc-monitord-rbac.yaml") })
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := rest.CopyConfig(e.cfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:opencloud:oc-monitord"}
	return cfg
}

func (e *env) applyRBAC(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if _, err := e.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "opencloud"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	for _, doc := range bytes.Split(raw, []byte("\n---\n")) {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return err
		}
		switch meta.Kind {
		case "ServiceAccount":
			var o corev1.ServiceAccount
			if err = yaml.UnmarshalStrict(doc, &o); err == nil {
				_, err = e.kube.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, &o, metav1.CreateOptions{})
			}
		case "ClusterRole":
			var o rbacv1.ClusterRole
			if err = yaml.UnmarshalStrict(doc, &o); err == nil {
				_, err = e.kube.RbacV1().ClusterRoles().Create(ctx, &o, metav1.CreateOptions{})
			}
		case "ClusterRoleBinding":
			var o rbacv1.ClusterRoleBinding
			if err = yaml.UnmarshalStrict(doc, &o); err == nil {
				_, err = e.kube.RbacV1().ClusterRoleBindings().Create(ctx, &o, metav1.CreateOptions{})
			}
		default:
			continue
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
}

// TestRunsUnderItsRBAC: a worker with exactly the rights of the deployed
// manifest runs an execution to its end, and cancels another (which
// stops its Workflow and deletes its pods).
func TestRunsUnderItsRBAC(t *testing.T) {
	e := newEnv(t)
	kube := e.asMonitord()

	ok := threeSteps()
	e.prepare(ok)
	e.book(ok)
	d := e.deps(nil)
	d.Kube = kube
	if err := worker.Follow(e.ctx, d, ok.ID); err != nil {
		t.Fatal(err)
	}
	if got := e.get(ok.ID); got.State != execution.Succeeded {
		t.Fatalf("under its RBAC: %s (%s)", got.State, got.Reason)
	}

	long := threeSteps()
	ev := e.listen(long.ID)
	e.prepare(long)
	e.book(long)
	d = e.deps(annotate("a", annotationRunFor, "20s"))
	d.Kube = kube
	done := make(chan error, 1)
	go func() { done <- worker.Follow(e.ctx, d, long.ID) }()
	ev.waitFor(t, e.ctx, "a running", func(ch execution.StateChange) bool { return ch.Step == "a" && ch.To == execution.Running })
	if _, err := e.execs.RequestCancel(e.ctx, long.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the cancel did not end the execution")
	}
	if got := e.get(long.ID); got.State != execution.Cancelled {
		t.Fatalf("cancel under its RBAC: %s (%s)", got.State, got.Reason)
	}
	pods, err := e.kube.CoreV1().Pods(execution.Namespace(long.ID)).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			t.Errorf("pod %s still running", p.Name)
		}
	}
}
