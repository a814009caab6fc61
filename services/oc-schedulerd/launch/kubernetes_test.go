package launch_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/testenv"

	"github.com/opencloud/opencloud/services/oc-schedulerd/launch"
)

func TestMain(m *testing.M) {
	actAsWorker() // when this binary is a test's worker process
	testenv.Main(m)
}

func TestKubernetesOptions(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	valid := launch.KubernetesOptions{Config: cfg, Namespace: "opencloud", Image: "opencloud/oc-monitord:dev"}
	for _, tc := range []struct {
		name   string
		change func(*launch.KubernetesOptions)
		want   []string // in the error; none: valid
	}{
		{"valid", func(*launch.KubernetesOptions) {}, nil},
		{"everything set", func(o *launch.KubernetesOptions) {
			o.ServiceAccount, o.EnvFrom, o.Poll = "oc-monitord", "oc-monitord-env", time.Second
			o.Env = map[string]string{"OC_MONITORD_LEASE_TTL": "30s"}
		}, nil},
		{"no config", func(o *launch.KubernetesOptions) { o.Config = nil }, []string{"Config:"}},
		{"no namespace", func(o *launch.KubernetesOptions) { o.Namespace = "" }, []string{"Namespace:", "required"}},
		{"bad namespace", func(o *launch.KubernetesOptions) { o.Namespace = "Open_Cloud" }, []string{"Namespace:", `"Open_Cloud"`}},
		{"no image", func(o *launch.KubernetesOptions) { o.Image = "" }, []string{"Image:", "required"}},
		{"bad service account", func(o *launch.KubernetesOptions) { o.ServiceAccount = "Bad Name" }, []string{"ServiceAccount:", `"Bad Name"`}},
		{"bad secret", func(o *launch.KubernetesOptions) { o.EnvFrom = "my/secret" }, []string{"EnvFrom:", `"my/secret"`}},
		{"worker in env", func(o *launch.KubernetesOptions) { o.Env = map[string]string{"OC_MONITORD_WORKER": "x"} }, []string{"Env:", "OC_MONITORD_WORKER"}},
		{"bad env name", func(o *launch.KubernetesOptions) { o.Env = map[string]string{"1=2": "x"} }, []string{"Env:", `"1=2"`}},
		{"negative poll", func(o *launch.KubernetesOptions) { o.Poll = -time.Second }, []string{"Poll:"}},
		{"all missing", func(o *launch.KubernetesOptions) { *o = launch.KubernetesOptions{} }, []string{"Config:", "Namespace:", "Image:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := valid
			tc.change(&o)
			l, err := launch.Kubernetes(o)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Kubernetes: %v", err)
				}
				if l.Name() != launch.NameKubernetes {
					t.Errorf("Name() = %q, want %q", l.Name(), launch.NameKubernetes)
				}
				return
			}
			if err == nil {
				t.Fatalf("Kubernetes(%+v) = nil error, want one naming %q", o, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestJobName(t *testing.T) {
	id := "3F9A0C12-5b7e-4d2a-9c1e-000000000001"
	names := map[string]bool{}
	for _, tc := range []struct{ id, worker string }{
		{id, "host-1/3f9a0c12"},
		{id, "host-1/3f9a0c13"},
		{id, "host-2/3f9a0c12"},
		{"3f9a0c12-5b7e-4d2a-9c1e-000000000002", "host-1/3f9a0c12"},
		{"___", "w"},
		{"", "w"},
		{strings.Repeat("x", 300), strings.Repeat("Y/", 300)},
	} {
		name := launch.JobName(tc.id, tc.worker)
		if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
			t.Errorf("JobName(%q, %q) = %q: not a DNS-1123 label: %v", tc.id, tc.worker, name, errs)
		}
		if !strings.HasPrefix(name, "oc-monitord-") {
			t.Errorf("JobName(%q, %q) = %q, want the prefix oc-monitord-", tc.id, tc.worker, name)
		}
		if again := launch.JobName(tc.id, tc.worker); again != name {
			t.Errorf("JobName(%q, %q) is %q then %q", tc.id, tc.worker, name, again)
		}
		if names[name] {
			t.Errorf("JobName(%q, %q) = %q, the name of another launch", tc.id, tc.worker, name)
		}
		names[name] = true
	}
	if name := launch.JobName(id, "host-1/3f9a0c12"); !strings.HasPrefix(name, "oc-monitord-3f9a0c12-") {
		t.Errorf("JobName = %q, want the execution id's first characters for a reader of kubectl get jobs", name)
	}
}

// kubeEnv is one test's namespace on the shared test cluster.
type kubeEnv struct {
	ctx  context.Context
	cfg  *rest.Config
	kube kubernetes.Interface
	ns   string
}

func newKubeEnv(t *testing.T) *kubeEnv {
	t.Helper()
	c := testenv.Cluster(t)
	t.Parallel()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e := &kubeEnv{ctx: ctx, cfg: cfg, kube: kube, ns: "oc-launch-" + uuid.NewString()[:8]}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kube.CoreV1().Namespaces().Delete(context.Background(), e.ns, metav1.DeleteOptions{})
	})
	return e
}

func (e *kubeEnv) launcher(t *testing.T, change func(*launch.KubernetesOptions)) launch.Launcher {
	t.Helper()
	o := launch.KubernetesOptions{
		Config:    e.cfg,
		Namespace: e.ns,
		Image:     "opencloud/oc-monitord:test",
		Poll:      50 * time.Millisecond,
	}
	if change != nil {
		change(&o)
	}
	l, err := launch.Kubernetes(o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// holdPods keeps the Jobs of the test's namespace from starting pods (a
// quota of none): kwok would run a Job's pod to success at once, and the
// tests that end Jobs their own way need them to stay unfinished until
// then.
func (e *kubeEnv) holdPods(t *testing.T) {
	t.Helper()
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "no-pods"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("0")}},
	}
	if _, err := e.kube.CoreV1().ResourceQuotas(e.ns).Create(e.ctx, quota, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// jobs are the worker Jobs of execution id in the test's namespace.
func (e *kubeEnv) jobs(t *testing.T, id string) []batchv1.Job {
	t.Helper()
	list, err := e.kube.BatchV1().Jobs(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: execution.LabelExecution + "=" + id})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// finish sets the terminal condition cond on Job name, as the Job
// controller would once its pod ended: kwok runs the pod but never ends it.
// The status must be one the API server accepts for a finished Job (no
// active pods, a start time, the interim condition first).
func (e *kubeEnv) finish(t *testing.T, name string, cond batchv1.JobConditionType, reason, message string) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		job, err := e.kube.BatchV1().Jobs(e.ns).Get(e.ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		if job.Status.StartTime == nil {
			job.Status.StartTime = &now
		}
		job.Status.Active, job.Status.Ready = 0, ptr(int32(0))
		interim := batchv1.JobSuccessCriteriaMet
		if cond == batchv1.JobFailed {
			interim = batchv1.JobFailureTarget
			job.Status.Failed = 1
		} else {
			job.Status.Succeeded = 1
			job.Status.CompletionTime = &now
		}
		for _, c := range []batchv1.JobConditionType{interim, cond} {
			job.Status.Conditions = append(job.Status.Conditions, batchv1.JobCondition{
				Type: c, Status: corev1.ConditionTrue, Reason: reason, Message: message,
				LastProbeTime: now, LastTransitionTime: now,
			})
		}
		_, err = e.kube.BatchV1().Jobs(e.ns).UpdateStatus(e.ctx, job, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("set Job %s %s: %v", name, cond, err)
	}
}

func ptr[T any](v T) *T { return &v }

// wait is the run's end; it fails the test if the run goes on.
func wait(t *testing.T, r *launch.Run) error {
	t.Helper()
	select {
	case <-r.Done():
		return r.Err()
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not end within 30 s")
		return nil
	}
}

// notEnded fails the test if the run has ended.
func notEnded(t *testing.T, r *launch.Run) {
	t.Helper()
	select {
	case <-r.Done():
		t.Fatalf("the run ended early: %v", r.Err())
	case <-time.After(300 * time.Millisecond):
	}
}

func TestKubernetesLaunchCreatesTheJob(t *testing.T) {
	e := newKubeEnv(t)
	e.holdPods(t)
	l := e.launcher(t, func(o *launch.KubernetesOptions) {
		o.ServiceAccount = "oc-monitord"
		o.EnvFrom = "oc-monitord-env"
		o.Env = map[string]string{"OC_MONITORD_LEASE_TTL": "30s", "OC_LOG_LEVEL": "debug"}
	})
	id, worker := uuid.NewString(), "host-1/3f9a0c12"
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	r, err := l.Launch(ctx, id, worker)
	if err != nil {
		t.Fatal(err)
	}
	jobs := e.jobs(t, id)
	if len(jobs) != 1 {
		t.Fatalf("%d Jobs for the execution, want 1", len(jobs))
	}
	job := jobs[0]
	if job.Name != launch.JobName(id, worker) {
		t.Errorf("Job name %q, want JobName = %q", job.Name, launch.JobName(id, worker))
	}
	wantLabels := map[string]string{
		execution.LabelExecution:      id,
		"app.kubernetes.io/name":      "oc-monitord",
		"app.kubernetes.io/component": "worker",
	}
	for k, v := range wantLabels {
		if job.Labels[k] != v {
			t.Errorf("Job label %s = %q, want %q", k, job.Labels[k], v)
		}
	}
	if got := job.Annotations["opencloud.io/worker"]; got != worker {
		t.Errorf("Job annotation opencloud.io/worker = %q, want %q", got, worker)
	}
	spec := job.Spec
	if spec.BackoffLimit == nil || *spec.BackoffLimit != 0 {
		t.Errorf("backoffLimit %v, want 0: the daemon decides on relaunches", spec.BackoffLimit)
	}
	if spec.TTLSecondsAfterFinished == nil || *spec.TTLSecondsAfterFinished != 3600 {
		t.Errorf("ttlSecondsAfterFinished %v, want 3600", spec.TTLSecondsAfterFinished)
	}
	if spec.ActiveDeadlineSeconds != nil {
		t.Errorf("activeDeadlineSeconds %d, want none: an execution may run long", *spec.ActiveDeadlineSeconds)
	}
	pod := spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %q, want Never", pod.RestartPolicy)
	}
	if pod.ServiceAccountName != "oc-monitord" {
		t.Errorf("serviceAccountName %q, want oc-monitord", pod.ServiceAccountName)
	}
	if got := spec.Template.Labels[execution.LabelExecution]; got != id {
		t.Errorf("pod label %s = %q, want %q", execution.LabelExecution, got, id)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Name != "monitord" || c.Image != "opencloud/oc-monitord:test" {
		t.Errorf("container %q image %q, want monitord, opencloud/oc-monitord:test", c.Name, c.Image)
	}
	if !slices.Equal(c.Args, []string{"run", id}) {
		t.Errorf("args %q, want [run %s]", c.Args, id)
	}
	wantEnv := []corev1.EnvVar{
		{Name: "OC_MONITORD_WORKER", Value: worker},
		{Name: "OC_LOG_LEVEL", Value: "debug"},
		{Name: "OC_MONITORD_LEASE_TTL", Value: "30s"},
	}
	if !slices.Equal(c.Env, wantEnv) {
		t.Errorf("env %v, want %v", c.Env, wantEnv)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != "oc-monitord-env" {
		t.Errorf("envFrom %+v, want the Secret oc-monitord-env", c.EnvFrom)
	}
	wantReq := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")}
	if !maps.EqualFunc(c.Resources.Requests, wantReq, func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 }) {
		t.Errorf("requests %v, want %v", c.Resources.Requests, wantReq)
	}
	notEnded(t, r)
}

// TestKubernetesJobRunsToCompletion lets the cluster run the Job: the Job
// controller starts its pod, kwok runs it to success (as it does every
// Job's pod), the Job controller marks the Job Complete, and the run ends.
func TestKubernetesJobRunsToCompletion(t *testing.T) {
	e := newKubeEnv(t)
	id := uuid.NewString()
	r, err := e.launcher(t, nil).Launch(e.ctx, id, "w1")
	if err != nil {
		t.Fatal(err)
	}
	if err := wait(t, r); err != nil {
		t.Fatalf("run ended with %v, want nil", err)
	}
	pods, err := e.kube.CoreV1().Pods(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: execution.LabelExecution + "=" + id})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 {
		t.Fatalf("%d pods for the execution, want 1 (backoffLimit 0)", len(pods.Items))
	}
	pod := pods.Items[0]
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Errorf("pod phase %s, want Succeeded", pod.Status.Phase)
	}
	if pod.Spec.ServiceAccountName != "default" {
		t.Errorf("serviceAccountName %q, want the namespace's default", pod.Spec.ServiceAccountName)
	}
	c := pod.Spec.Containers[0]
	if len(c.EnvFrom) != 0 {
		t.Errorf("envFrom %+v, want none", c.EnvFrom)
	}
	if want := []corev1.EnvVar{{Name: "OC_MONITORD_WORKER", Value: "w1"}}; !slices.Equal(c.Env, want) {
		t.Errorf("env %v, want %v", c.Env, want)
	}
	if got := pod.Annotations["opencloud.io/worker"]; got != "w1" {
		t.Errorf("pod annotation opencloud.io/worker = %q, want w1", got)
	}
}

func TestKubernetesRelaunchAdopts(t *testing.T) {
	e := newKubeEnv(t)
	e.holdPods(t)
	l := e.launcher(t, nil)
	id, worker := uuid.NewString(), "host-1/aaaa"
	first, err := l.Launch(e.ctx, id, worker)
	if err != nil {
		t.Fatal(err)
	}
	created := e.jobs(t, id)
	// A daemon restarted mid-execution launches again under the lease it
	// still holds: the same Job is followed, no second one is made.
	again, err := e.launcher(t, nil).Launch(e.ctx, id, worker)
	if err != nil {
		t.Fatalf("launch again: %v", err)
	}
	jobs := e.jobs(t, id)
	if len(jobs) != 1 || jobs[0].UID != created[0].UID {
		t.Fatalf("after a relaunch, %d Jobs for the execution, want the first one alone", len(jobs))
	}
	notEnded(t, again)
	e.finish(t, jobs[0].Name, batchv1.JobComplete, "CompletionsReached", "")
	for _, r := range []*launch.Run{first, again} {
		if err := wait(t, r); err != nil {
			t.Errorf("run ended with %v, want nil", err)
		}
	}

	// A relaunch under a new lease is a new Job.
	if _, err := l.Launch(e.ctx, id, "host-2/bbbb"); err != nil {
		t.Fatal(err)
	}
	if n := len(e.jobs(t, id)); n != 2 {
		t.Errorf("after a relaunch under a new lease, %d Jobs, want 2", n)
	}

	// Launching an already finished Job again ends at once.
	done, err := l.Launch(e.ctx, id, worker)
	if err != nil {
		t.Fatal(err)
	}
	if err := wait(t, done); err != nil {
		t.Errorf("run of a completed Job ended with %v, want nil", err)
	}
}

func TestKubernetesRefusesAJobOfAnotherExecution(t *testing.T) {
	e := newKubeEnv(t)
	l := e.launcher(t, nil)
	id, worker := uuid.NewString(), "w"
	other := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:   launch.JobName(id, worker),
			Labels: map[string]string{execution.LabelExecution: "someone-else"},
		},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "c", Image: "busybox"}},
		}}},
	}
	if _, err := e.kube.BatchV1().Jobs(e.ns).Create(e.ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := l.Launch(e.ctx, id, worker)
	if err == nil || !strings.Contains(err.Error(), other.Name) || !strings.Contains(err.Error(), "someone-else") {
		t.Fatalf("Launch over another execution's Job: %v, want an error naming the Job and its execution", err)
	}
}

func TestKubernetesJobEnds(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cond     batchv1.JobConditionType
		reason   string
		message  string
		wantErrs []string // none: the run ends nil
	}{
		{"complete", batchv1.JobComplete, "CompletionsReached", "Reached expected number of succeeded pods", nil},
		{"failed", batchv1.JobFailed, "BackoffLimitExceeded", "Job has reached the specified backoff limit",
			[]string{"failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newKubeEnv(t)
			e.holdPods(t)
			id, worker := uuid.NewString(), "host-1/"+tc.name
			r, err := e.launcher(t, nil).Launch(e.ctx, id, worker)
			if err != nil {
				t.Fatal(err)
			}
			notEnded(t, r)
			name := launch.JobName(id, worker)
			e.finish(t, name, tc.cond, tc.reason, tc.message)
			err = wait(t, r)
			if tc.wantErrs == nil {
				if err != nil {
					t.Fatalf("run ended with %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("run ended nil, want an error")
			}
			for _, w := range append(tc.wantErrs, name, e.ns) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestKubernetesJobDeleted(t *testing.T) {
	e := newKubeEnv(t)
	e.holdPods(t)
	id, worker := uuid.NewString(), "w"
	r, err := e.launcher(t, nil).Launch(e.ctx, id, worker)
	if err != nil {
		t.Fatal(err)
	}
	name := launch.JobName(id, worker)
	notEnded(t, r)
	bg := metav1.DeletePropagationBackground
	if err := e.kube.BatchV1().Jobs(e.ns).Delete(e.ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		t.Fatal(err)
	}
	err = wait(t, r)
	if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "was deleted") {
		t.Fatalf("run ended with %v, want an error saying Job %s was deleted", err, name)
	}
}

func TestKubernetesCancelLeavesTheJob(t *testing.T) {
	e := newKubeEnv(t)
	e.holdPods(t)
	id, worker := uuid.NewString(), "w"
	ctx, cancel := context.WithCancel(e.ctx)
	r, err := e.launcher(t, nil).Launch(ctx, id, worker)
	if err != nil {
		t.Fatal(err)
	}
	notEnded(t, r)
	cancel()
	if err := wait(t, r); !errors.Is(err, context.Canceled) || !errors.Is(err, launch.ErrDetached) {
		t.Fatalf("run ended with %v, want ErrDetached and context.Canceled", err)
	}
	// The Job goes on: the worker survives the daemon.
	job, err := e.kube.BatchV1().Jobs(e.ns).Get(e.ctx, launch.JobName(id, worker), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the Job after the cancel: %v", err)
	}
	if job.DeletionTimestamp != nil {
		t.Error("the Job is being deleted after the cancel; want it left running")
	}
}

func TestKubernetesLaunchErrors(t *testing.T) {
	e := newKubeEnv(t)
	l := e.launcher(t, nil)
	for _, tc := range []struct {
		name, id, worker, want string
	}{
		{"empty id", "", "w", "execution id"},
		{"id not a label value", strings.Repeat("x", 64), "w", "execution id"},
		{"empty worker", uuid.NewString(), "", "worker"},
	} {
		if _, err := l.Launch(e.ctx, tc.id, tc.worker); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Launch error %v, want one naming the %s", tc.name, err, tc.want)
		}
	}
	// The API server's refusal names the Job and the namespace.
	missing := e.launcher(t, func(o *launch.KubernetesOptions) { o.Namespace = "oc-launch-missing-" + uuid.NewString()[:8] })
	id := uuid.NewString()
	_, err := missing.Launch(e.ctx, id, "w")
	if err == nil || !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), launch.JobName(id, "w")) || !strings.Contains(err.Error(), "oc-launch-missing-") {
		t.Errorf("Launch in a missing namespace: %v, want the API server's NotFound naming the Job and namespace", err)
	}
}
