package launch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	batchv1client "k8s.io/client-go/kubernetes/typed/batch/v1"
	"k8s.io/client-go/rest"

	"github.com/opencloud/opencloud/libs/execution"
)

// KubernetesOptions configures the kubernetes launcher.
type KubernetesOptions struct {
	Config    *rest.Config // the cluster the Jobs run in
	Namespace string       // where Jobs are created (required)
	Image     string       // oc-monitord's image (required)
	// ServiceAccount the worker pods run as (it needs the RBAC oc-monitord
	// uses: Workflows and pods in execution namespaces); empty: the
	// namespace's default.
	ServiceAccount string
	// EnvFrom names a Secret whose keys become the worker's environment
	// (OC_STORE, OC_MONGO_URI, OC_NATS_URL, OC_KUBECONFIG...); empty: none.
	EnvFrom string
	Env     map[string]string // more environment, e.g. OC_MONITORD_LEASE_TTL
	Poll    time.Duration     // how often a Job's state is read; default 2 s
	Logger  *slog.Logger
}

// Labels and annotation of the Jobs the kubernetes launcher creates,
// besides execution.LabelExecution.
const (
	LabelName        = "app.kubernetes.io/name"      // "oc-monitord"
	LabelComponent   = "app.kubernetes.io/component" // "worker"
	AnnotationWorker = "opencloud.io/worker"         // the worker (lease) name
)

const (
	jobAppName         = "oc-monitord"
	jobComponent       = "worker"
	jobContainer       = "monitord"
	envWorker          = "OC_MONITORD_WORKER"
	defaultPoll        = 2 * time.Second
	jobTTLAfterFinish  = int32(3600)
	jobNamePrefix      = "oc-monitord-"
	jobNameIDChars     = 8
	jobNameHashHexSize = 10
)

// Kubernetes is the launcher that runs each worker as a Kubernetes Job in
// o.Namespace. A Job outlives the daemon: when Launch's ctx ends, the Run
// ends with ctx's error but the Job goes on, and a daemon restarted with
// the same worker name adopts it instead of creating a second one.
func Kubernetes(o KubernetesOptions) (Launcher, error) {
	var problems []string
	if o.Config == nil {
		problems = append(problems, "Config: the cluster's rest config is required")
	}
	if o.Namespace == "" {
		problems = append(problems, "Namespace: the namespace the worker Jobs are created in is required")
	} else if errs := validation.IsDNS1123Label(o.Namespace); len(errs) > 0 {
		problems = append(problems, fmt.Sprintf("Namespace: %q is not a namespace name: %s", o.Namespace, strings.Join(errs, "; ")))
	}
	if o.Image == "" {
		problems = append(problems, "Image: oc-monitord's container image is required")
	}
	if o.ServiceAccount != "" {
		if errs := validation.IsDNS1123Subdomain(o.ServiceAccount); len(errs) > 0 {
			problems = append(problems, fmt.Sprintf("ServiceAccount: %q is not a service account name: %s", o.ServiceAccount, strings.Join(errs, "; ")))
		}
	}
	if o.EnvFrom != "" {
		if errs := validation.IsDNS1123Subdomain(o.EnvFrom); len(errs) > 0 {
			problems = append(problems, fmt.Sprintf("EnvFrom: %q is not a Secret name: %s", o.EnvFrom, strings.Join(errs, "; ")))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(o.Env)) {
		switch {
		case k == envWorker:
			problems = append(problems, fmt.Sprintf("Env: %s is set by the launcher to each worker's name; remove it", envWorker))
		case len(validation.IsEnvVarName(k)) > 0:
			problems = append(problems, fmt.Sprintf("Env: %q is not an environment variable name: %s", k, strings.Join(validation.IsEnvVarName(k), "; ")))
		}
	}
	if o.Poll < 0 {
		problems = append(problems, fmt.Sprintf("Poll: %s is negative; use 0 for the default of %s", o.Poll, defaultPoll))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("kubernetes launcher: %s", strings.Join(problems, "; "))
	}
	client, err := kubernetes.NewForConfig(o.Config)
	if err != nil {
		return nil, fmt.Errorf("kubernetes launcher: Config: build the client: %w", err)
	}
	if o.Poll == 0 {
		o.Poll = defaultPoll
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &kubeLauncher{o: o, jobs: client.BatchV1().Jobs(o.Namespace)}, nil
}

type kubeLauncher struct {
	o    KubernetesOptions
	jobs batchv1client.JobInterface
}

func (*kubeLauncher) Name() string { return NameKubernetes }

// JobName is the name of the Job that runs execution id's worker under
// lease name worker: a DNS-1123 label. Each launch has a new worker name,
// hence a new Job (a finished Job lingers for its TTL and must not be
// mistaken for the relaunch); the same launch repeated after a restart of
// the daemon finds its Job again. The execution id's first characters are
// there for a person reading `kubectl get jobs`; the hash covers both
// names so that two executions never share a Job.
func JobName(id, worker string) string {
	var short []byte
	for _, c := range []byte(strings.ToLower(id)) {
		if len(short) == jobNameIDChars {
			break
		}
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			short = append(short, c)
		}
	}
	sum := sha256.Sum256([]byte(id + "\x00" + worker))
	hash := hex.EncodeToString(sum[:])[:jobNameHashHexSize]
	if len(short) == 0 {
		return jobNamePrefix + hash
	}
	return jobNamePrefix + string(short) + "-" + hash
}

func (l *kubeLauncher) Launch(ctx context.Context, id, worker string) (*Run, error) {
	if errs := validation.IsValidLabelValue(id); id == "" || len(errs) > 0 {
		return nil, fmt.Errorf("kubernetes launcher: execution id %q cannot be a label value: %s", id, strings.Join(errs, "; "))
	}
	if worker == "" {
		return nil, errors.New("kubernetes launcher: the worker name is empty")
	}
	want := l.job(id, worker)
	job, err := l.jobs.Create(ctx, want, metav1.CreateOptions{})
	how := "worker Job created"
	if apierrors.IsAlreadyExists(err) {
		how = "worker Job adopted"
		job, err = l.adopt(ctx, want, id, worker)
	} else if err != nil {
		err = fmt.Errorf("create Job %s in namespace %s: %w", want.Name, l.o.Namespace, err)
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes launcher: %w", err)
	}
	log := l.o.Logger.With("execution", id, "worker", worker, "job", job.Name, "namespace", l.o.Namespace)
	log.Info(how)
	r := NewRun()
	go func() { r.End(l.follow(ctx, log, job.Name, job.UID)) }()
	return r, nil
}

// adopt takes over the Job a previous launch under the same worker name
// created, as a daemon restarted mid-execution does.
func (l *kubeLauncher) adopt(ctx context.Context, want *batchv1.Job, id, worker string) (*batchv1.Job, error) {
	job, err := l.jobs.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		// Deleted between the two calls (its TTL ran out): the launch
		// starts afresh.
		job, err = l.jobs.Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("create Job %s in namespace %s: %w", want.Name, l.o.Namespace, err)
		}
		return job, nil
	}
	if err != nil {
		return nil, fmt.Errorf("job %s in namespace %s exists, read it: %w", want.Name, l.o.Namespace, err)
	}
	if got := job.Labels[execution.LabelExecution]; got != id {
		return nil, fmt.Errorf("job %s in namespace %s exists for execution %q, not %q: delete it or change the worker name", job.Name, l.o.Namespace, got, id)
	}
	if got := job.Annotations[AnnotationWorker]; got != worker {
		return nil, fmt.Errorf("job %s in namespace %s exists for worker %q, not %q: delete it or change the worker name", job.Name, l.o.Namespace, got, worker)
	}
	return job, nil
}

// follow reads the Job every Poll until it ends. A watch would be
// quicker, but a poll needs no resync logic and a worker's end is not
// urgent to within a few seconds. The Job is never deleted here: it is
// meant to outlive the daemon.
func (l *kubeLauncher) follow(ctx context.Context, log *slog.Logger, name string, uid types.UID) error {
	t := time.NewTicker(l.o.Poll)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			// The daemon stops; the Job (and the lease its worker holds) goes on.
			return fmt.Errorf("%w: %w", ErrDetached, ctx.Err())
		case <-t.C:
		}
		job, err := l.jobs.Get(ctx, name, metav1.GetOptions{})
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("%w: %w", ErrDetached, ctx.Err())
		case apierrors.IsNotFound(err) || err == nil && job.UID != uid:
			return fmt.Errorf("job %s in namespace %s was deleted", name, l.o.Namespace)
		case err != nil:
			// The API server may be away for a while; the Job runs on
			// regardless, so keep asking. Log once per distinct error.
			if msg := err.Error(); msg != lastErr {
				log.Warn("read the worker's Job", "err", err)
				lastErr = msg
			}
			continue
		}
		if lastErr != "" {
			log.Info("worker's Job readable again")
			lastErr = ""
		}
		if done, err := jobEnded(job, l.o.Namespace); done {
			return err
		}
		if job.DeletionTimestamp != nil {
			return fmt.Errorf("job %s in namespace %s was deleted", name, l.o.Namespace)
		}
	}
}

// jobEnded reports whether job has finished, and how.
func jobEnded(job *batchv1.Job, namespace string) (bool, error) {
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return true, nil
		case batchv1.JobFailed:
			why := c.Reason
			if c.Message != "" {
				if why != "" {
					why += ": "
				}
				why += c.Message
			}
			if why == "" {
				why = "no reason given"
			}
			return true, fmt.Errorf("job %s in namespace %s failed: %s", job.Name, namespace, why)
		}
	}
	return false, nil
}

// job is the Job that runs execution id's worker.
func (l *kubeLauncher) job(id, worker string) *batchv1.Job {
	env := []corev1.EnvVar{{Name: envWorker, Value: worker}}
	for _, k := range slices.Sorted(maps.Keys(l.o.Env)) {
		env = append(env, corev1.EnvVar{Name: k, Value: l.o.Env[k]})
	}
	var envFrom []corev1.EnvFromSource
	if l.o.EnvFrom != "" {
		envFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: l.o.EnvFrom},
		}}}
	}
	labels := map[string]string{
		execution.LabelExecution: id,
		LabelName:                jobAppName,
		LabelComponent:           jobComponent,
	}
	// The daemon decides on relaunches (a relaunch is a new lease, so a
	// new Job): the Job controller must not retry a failed pod itself.
	backoff := int32(0)
	ttl := jobTTLAfterFinish
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:        JobName(id, worker),
			Namespace:   l.o.Namespace,
			Labels:      labels,
			Annotations: map[string]string{AnnotationWorker: worker},
		},
		Spec: batchv1.JobSpec{
			BackoffLimit:            &backoff,
			TTLSecondsAfterFinished: &ttl,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{AnnotationWorker: worker}},
				Spec: corev1.PodSpec{
					RestartPolicy:      corev1.RestartPolicyNever,
					ServiceAccountName: l.o.ServiceAccount,
					Containers: []corev1.Container{{
						Name:    jobContainer,
						Image:   l.o.Image,
						Args:    []string{"run", id},
						Env:     env,
						EnvFrom: envFrom,
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU:    resource.MustParse("50m"),
							corev1.ResourceMemory: resource.MustParse("64Mi"),
						}},
					}},
				},
			},
		},
	}
}
