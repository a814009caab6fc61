package render_test

import (
	"testing"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"

	"github.com/opencloud/opencloud/services/oc-monitord/internal/render"
)

// everyKindOfStep is a graph whose steps use each thing a step can have:
// S3 reads and writes, data over http, a remote compute, dependencies.
func everyKindOfStep() execution.Execution {
	return newFixture().
		storage("s3", "local", "https://s3.example.org", "results", "").
		data("dem", "https://data.example.org/dem.tif").
		compute("k8s", "local", resource.Compute{}).
		compute("partner", "peer-c", resource.Compute{ClusterRef: "dc-lyon"}).
		processing("fetch", resource.Processing{}).processing("ndvi", resource.Processing{}).processing("report", resource.Processing{}).
		runs("fetch", "k8s").runs("ndvi", "partner").runs("report", "k8s").
		dep("fetch", "ndvi").dep("ndvi", "report").
		link(wf.LinkData, "dem", "fetch").
		link(wf.LinkStorageRead, "s3", "ndvi", "in/tiles", "/in/tiles").
		link(wf.LinkStorageWrite, "report", "s3", "/out/report.pdf", "out/report.pdf").e
}

// The pods of every step run as the workload's account, without its token,
// and only Argo's executor runs as the account that may read the S3
// Secrets: what Argo uses for each template (the template's own setting,
// else the Workflow's) is checked, and Argo's validation accepts it.
func TestStepsRunWithoutCredentials(t *testing.T) {
	w := mustRender(t, everyKindOfStep(), render.Options{})
	if len(w.Spec.Templates) != 4 {
		t.Fatalf("%d templates, want the DAG and three steps", len(w.Spec.Templates))
	}
	for _, tm := range w.Spec.Templates {
		sa := w.Spec.ServiceAccountName
		if tm.ServiceAccountName != "" {
			sa = tm.ServiceAccountName
		}
		automount := w.Spec.AutomountServiceAccountToken
		if tm.AutomountServiceAccountToken != nil {
			automount = tm.AutomountServiceAccountToken
		}
		executor := w.Spec.Executor
		if tm.Executor != nil && tm.Executor.ServiceAccountName != "" {
			executor = tm.Executor
		}
		if sa != execution.WorkloadServiceAccount {
			t.Errorf("template %s: pods run as %q, want %q", tm.Name, sa, execution.WorkloadServiceAccount)
		}
		if automount == nil || *automount {
			t.Errorf("template %s: the service account token is mounted (automountServiceAccountToken %v)", tm.Name, automount)
		}
		if executor == nil || executor.ServiceAccountName != execution.ExecutorServiceAccount {
			t.Errorf("template %s: executor %+v, want service account %q", tm.Name, executor, execution.ExecutorServiceAccount)
		}
		if tm.PodSpecPatch != "" || len(tm.Volumes) > 0 {
			t.Errorf("template %s patches its pod: %q %+v", tm.Name, tm.PodSpecPatch, tm.Volumes)
		}
		if c := tm.Container; c != nil && len(c.VolumeMounts) > 0 {
			t.Errorf("template %s mounts %+v", tm.Name, c.VolumeMounts)
		}
	}
	if w.Spec.PodSpecPatch != "" || len(w.Spec.Volumes) > 0 {
		t.Errorf("the Workflow patches its pods: %q %+v", w.Spec.PodSpecPatch, w.Spec.Volumes)
	}
}

func TestServiceAccountOptions(t *testing.T) {
	w := mustRender(t, shape(1), render.Options{ServiceAccount: "steps", ExecutorServiceAccount: "runner"})
	if w.Spec.ServiceAccountName != "steps" || w.Spec.Executor == nil || w.Spec.Executor.ServiceAccountName != "runner" {
		t.Errorf("service account %q, executor %+v", w.Spec.ServiceAccountName, w.Spec.Executor)
	}
	for _, o := range []render.Options{
		{ServiceAccount: "same", ExecutorServiceAccount: "same"},
		{ServiceAccount: execution.ExecutorServiceAccount},
		{ServiceAccount: "Not A Name"},
		{ExecutorServiceAccount: "Not A Name"},
	} {
		if _, err := render.Render(shape(1), o); err == nil {
			t.Errorf("%+v rendered", o)
		}
	}
}
