package render_test

import (
	"context"
	"strings"
	"testing"
	"time"

	argo "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/testenv"
	wf "github.com/opencloud/opencloud/libs/workflow"

	"github.com/opencloud/opencloud/services/oc-monitord/internal/render"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// tokenPath is where Kubernetes mounts a service account's token.
const tokenPath = "/var/run/secrets/kubernetes.io/serviceaccount"

// The pods Argo's controller makes from a rendered Workflow run as the
// workload's account, and the step's container is given no Secret: no
// token, no S3 credentials. The executor's token and the S3 credentials
// are mounted in Argo's own containers (init, wait) only.
func TestPodsCarryNoCredentials(t *testing.T) {
	c := testenv.Cluster(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	argoCS, err := argo.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Two independent steps, one reading S3: both pods are made at once.
	e := newFixture().
		storage("s3", "local", "https://s3.example.org", "tiles", "").
		compute("k8s", "local", resource.Compute{}).
		processing("fetch", resource.Processing{}).processing("ndvi", resource.Processing{}).
		runs("fetch", "k8s").runs("ndvi", "k8s").
		link(wf.LinkStorageRead, "s3", "ndvi", "in/tiles", "/in/tiles").e
	e.ID = uuid.NewString()
	w := mustRender(t, e, render.Options{})
	ns := w.Namespace

	// What oc-datacenter prepares, as far as making the pods needs; the
	// accounts as Kubernetes makes them by default, tokens mounted unless
	// a pod says otherwise, so that the Workflow alone keeps them out.
	lbl := map[string]string{execution.LabelExecution: e.ID, execution.LabelManaged: render.ManagedBy}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: lbl}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	for _, sa := range []string{execution.WorkloadServiceAccount, execution.ExecutorServiceAccount} {
		if _, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: execution.ExecutorTokenSecret,
		Annotations: map[string]string{corev1.ServiceAccountNameKey: execution.ExecutorServiceAccount}},
		Type: corev1.SecretTypeServiceAccountToken}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	if _, err := argoCS.ArgoprojV1alpha1().Workflows(ns).Create(ctx, w, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pods []corev1.Pod
	for len(pods) < 2 {
		list, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pods = list.Items
		if len(pods) < 2 {
			got, err := argoCS.ArgoprojV1alpha1().Workflows(ns).Get(ctx, w.Name, metav1.GetOptions{})
			if err == nil && got.Status.Phase.Completed() {
				t.Fatalf("the Workflow ended (%s: %s) with %d pods", got.Status.Phase, got.Status.Message, len(pods))
			}
			select {
			case <-ctx.Done():
				t.Fatalf("Argo made %d pods of 2", len(pods))
			case <-time.After(100 * time.Millisecond):
			}
		}
	}

	for _, p := range pods {
		if p.Spec.ServiceAccountName != execution.WorkloadServiceAccount {
			t.Errorf("pod %s runs as %s", p.Name, p.Spec.ServiceAccountName)
		}
		if a := p.Spec.AutomountServiceAccountToken; a == nil || *a {
			t.Errorf("pod %s: automountServiceAccountToken %v", p.Name, a)
		}
		// Volumes of Secrets (the executor's token, the S3 credentials,
		// which Argo mounts for its executor) or projected tokens.
		secretVolumes, tokenVolume := map[string]bool{}, ""
		for _, v := range p.Spec.Volumes {
			if v.Projected != nil {
				t.Errorf("pod %s has a projected volume %s: %+v", p.Name, v.Name, v.Projected)
			}
			if v.Secret != nil {
				secretVolumes[v.Name] = true
				if v.Secret.SecretName == execution.ExecutorTokenSecret {
					tokenVolume = v.Name
				}
			}
		}
		if tokenVolume == "" {
			t.Errorf("pod %s: no volume of the executor's token", p.Name)
		}
		all := append(append([]corev1.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...)
		for _, ct := range all {
			var token bool
			var secrets []string
			for _, m := range ct.VolumeMounts {
				token = token || m.Name == tokenVolume || strings.HasPrefix(m.MountPath, tokenPath)
				if secretVolumes[m.Name] || strings.HasPrefix(m.MountPath, tokenPath) {
					secrets = append(secrets, m.MountPath)
				}
			}
			for _, env := range ct.Env {
				if env.ValueFrom != nil && env.ValueFrom.SecretKeyRef != nil {
					secrets = append(secrets, "env "+env.Name)
				}
			}
			for _, env := range ct.EnvFrom {
				if env.SecretRef != nil {
					secrets = append(secrets, "env from "+env.SecretRef.Name)
				}
			}
			// Argo's init and wait containers fetch and store the artifacts.
			if executor := ct.Name == "init" || ct.Name == "wait"; executor {
				if !token {
					t.Errorf("pod %s container %s: the executor's token is not mounted", p.Name, ct.Name)
				}
			} else if len(secrets) > 0 {
				t.Errorf("pod %s container %s is given Secrets: %v", p.Name, ct.Name, secrets)
			}
		}
	}
}
