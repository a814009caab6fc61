package provision_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/testenv"

	"github.com/opencloud/opencloud/services/oc-datacenter/datacenter"
	"github.com/opencloud/opencloud/services/oc-datacenter/internal/provision"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func kube(t *testing.T) kubernetes.Interface {
	t.Helper()
	c := testenv.Cluster(t)
	t.Parallel()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func s3(peer, id string) provision.S3Secret {
	return provision.S3Secret{Storage: resource.Ref{Peer: peer, ID: id}, AccessKey: "AK-" + id, SecretKey: "SK-" + id}
}

// prepare prepares a new execution with secrets and removes its namespace
// when the test ends.
func prepare(t *testing.T, cs kubernetes.Interface, secrets ...provision.S3Secret) (string, datacenter.Prepared) {
	t.Helper()
	id := uuid.NewString()
	p, err := provision.New(cs, time.Hour).Prepare(context.Background(), id, uuid.NewString(), secrets)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), execution.Namespace(id), metav1.DeleteOptions{})
	})
	return id, p
}

// can asks the API server's own authorizer whether service account sa of
// namespace ns may do verb on resource (group/resource/sub) name in inNS.
func can(t *testing.T, cs kubernetes.Interface, ns, sa, inNS, group, res, sub, verb, name string) bool {
	t.Helper()
	sar := &authv1.SubjectAccessReview{Spec: authv1.SubjectAccessReviewSpec{
		User:   "system:serviceaccount:" + ns + ":" + sa,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
		ResourceAttributes: &authv1.ResourceAttributes{Namespace: inNS, Group: group, Resource: res,
			Subresource: sub, Verb: verb, Name: name},
	}}
	got, err := cs.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), sar, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got.Status.Allowed
}

// The account the steps run as can read no Secret at all, the S3
// credentials included, nor do anything else in the cluster; the
// executor's account can read its execution's S3 Secrets and no other.
func TestWorkloadCannotReadCredentials(t *testing.T) {
	cs := kube(t)
	ctx := context.Background()
	a, b := s3("peer-a", "a"), s3("peer-a", "b")
	id, p := prepare(t, cs, a, b)
	other, _ := prepare(t, cs, s3("peer-a", "c"))
	ns, otherNS := execution.Namespace(id), execution.Namespace(other)
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "private"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	workload := p.ServiceAccount
	if workload != execution.WorkloadServiceAccount || workload == execution.ExecutorServiceAccount {
		t.Errorf("the steps run as %q, want %q", workload, execution.WorkloadServiceAccount)
	}
	sa, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, workload, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Errorf("the workload's token is mounted in its pods: automountServiceAccountToken %v", sa.AutomountServiceAccountToken)
	}
	rbs, err := cs.RbacV1().RoleBindings(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rb := range rbs.Items {
		for _, s := range rb.Subjects {
			if s.Kind == rbacv1.ServiceAccountKind && s.Name != execution.ExecutorServiceAccount {
				t.Errorf("role binding %s grants %s to %s", rb.Name, rb.RoleRef.Name, s.Name)
			}
		}
	}

	secrets := []string{a.Name(), b.Name(), execution.S3SecretName(resource.Ref{Peer: "peer-a", ID: "c"}), "private", execution.ExecutorTokenSecret, ""}
	for _, in := range []string{ns, otherNS} {
		for _, name := range secrets {
			for _, verb := range []string{"get", "list", "watch"} {
				if can(t, cs, ns, workload, in, "", "secrets", "", verb, name) {
					t.Errorf("the workload may %s secret %q in %s", verb, name, in)
				}
			}
		}
		for _, x := range []struct{ group, res, sub, verb string }{
			{"", "pods", "", "get"}, {"", "pods", "", "list"}, {"", "pods", "", "patch"}, {"", "pods", "exec", "create"},
			{"", "pods", "log", "get"}, {"", "serviceaccounts", "token", "create"}, {"", "configmaps", "", "get"},
			{"argoproj.io", "workflowtaskresults", "", "create"}, {"argoproj.io", "workflows", "", "get"},
		} {
			if can(t, cs, ns, workload, in, x.group, x.res, x.sub, x.verb, "") {
				t.Errorf("the workload may %s %s/%s/%s in %s", x.verb, x.group, x.res, x.sub, in)
			}
		}
	}

	executor := execution.ExecutorServiceAccount
	for _, tc := range []struct {
		in, verb, name string
		allowed        bool
	}{
		{ns, "get", a.Name(), true},
		{ns, "get", b.Name(), true},
		{ns, "get", "private", false},
		{ns, "get", execution.ExecutorTokenSecret, false},
		{ns, "get", execution.S3SecretName(resource.Ref{Peer: "peer-a", ID: "c"}), false},
		{ns, "list", "", false},
		{ns, "watch", a.Name(), false},
		{ns, "update", a.Name(), false},
		{otherNS, "get", execution.S3SecretName(resource.Ref{Peer: "peer-a", ID: "c"}), false},
		{otherNS, "get", a.Name(), false},
	} {
		if got := can(t, cs, ns, executor, tc.in, "", "secrets", "", tc.verb, tc.name); got != tc.allowed {
			t.Errorf("executor: %s secret %q in %s: allowed %v, want %v", tc.verb, tc.name, tc.in, got, tc.allowed)
		}
	}
}

// Argo mounts the executor's token from a Secret it finds by name: Prepare
// makes it, and Kubernetes fills it with the executor account's token.
func TestExecutorToken(t *testing.T) {
	cs := kube(t)
	ctx := context.Background()
	id, _ := prepare(t, cs)
	ns := execution.Namespace(id)
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := cs.CoreV1().Secrets(ns).Get(ctx, execution.ExecutorTokenSecret, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if s.Type != corev1.SecretTypeServiceAccountToken || s.Annotations[corev1.ServiceAccountNameKey] != execution.ExecutorServiceAccount {
			t.Fatalf("token secret of type %s for %q", s.Type, s.Annotations[corev1.ServiceAccountNameKey])
		}
		if len(s.Data[corev1.ServiceAccountTokenKey]) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Kubernetes did not fill the executor's token")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
