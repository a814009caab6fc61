package render_test

import (
	"fmt"
	"testing"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"

	"github.com/opencloud/opencloud/services/oc-monitord/internal/render"
)

// twentySteps is a 20-step workflow as a person would draw one: four
// stages of five steps, each step waiting for two of the stage before,
// on two local computes and a remote one, each reading one storage and
// writing another, the first stage reading two data sets.
func twentySteps() execution.Execution {
	f := newFixture().
		compute("k8s", "local", resource.Compute{NodeSelector: k8sNode}).
		compute("gpu", "local", resource.Compute{NodeSelector: []resource.Label{{Key: "nvidia.com/gpu.present", Value: "true"}}}).
		compute("partner", "peer-c", resource.Compute{ClusterRef: "dc-lyon"}).
		storage("in", "peer-b", "http://minio.peer-b:9000", "tiles", "").
		storage("out", "local", "https://s3.example.org", "results", "eu-west-3").
		data("tiles", "https://data.example.org/tiles.zip").
		data("dem", "s3://dem/2024/")
	computes := []string{"k8s", "gpu", "partner"}
	for i := range 20 {
		id := fmt.Sprintf("step-%02d", i)
		f.processing(id, resource.Processing{Args: []string{"--stage", fmt.Sprint(i / 5)},
			Env:      map[string]string{"LOG_LEVEL": "info", "THREADS": "4"},
			Requests: resource.Requests{CPUMillicores: 500, MemoryBytes: 1 << 30, GPUs: int64(i % 2)}}).
			runs(id, computes[i%3]).
			link(wf.LinkStorageRead, "in", id, "tiles/", "/in/tiles").
			link(wf.LinkStorageWrite, id, "out", "/out", "results/"+id+"/")
		if i < 5 {
			f.link(wf.LinkData, "tiles", id).link(wf.LinkData, "dem", id)
		} else {
			prev := (i/5 - 1) * 5
			f.dep(fmt.Sprintf("step-%02d", prev+i%5), id).dep(fmt.Sprintf("step-%02d", prev+(i+1)%5), id)
		}
	}
	return f.e
}

func BenchmarkRenderValidate20(b *testing.B) {
	e := twentySteps()
	b.ReportAllocs()
	for b.Loop() {
		w, err := render.Render(e, render.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := render.Validate(w); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRender20(b *testing.B) {
	e := twentySteps()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := render.Render(e, render.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestTwentyStepsRenders(t *testing.T) {
	w := mustRender(t, twentySteps(), render.Options{})
	if n := len(tmpl(t, w, "main").DAG.Tasks); n != 20 {
		t.Fatalf("%d tasks", n)
	}
	if d := deps(t, w)["step-07"]; len(d) != 2 || d[0] != "step-02" || d[1] != "step-03" {
		t.Errorf("step-07 waits for %v", d)
	}
}
