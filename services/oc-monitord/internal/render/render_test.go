package render_test

import (
	"bytes"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"

	"github.com/opencloud/opencloud/services/oc-monitord/internal/render"
)

var k8sNode = []resource.Label{{Key: "node.opencloud.io/name", Value: "node-1"}}

func TestSingleStep(t *testing.T) {
	f := newFixture().
		processing("ndvi", resource.Processing{
			Image: "ghcr.io/acme/ndvi:1.2.0", Command: []string{"/ndvi"}, Args: []string{"--band", "red"},
			Env:         map[string]string{"ZED": "z", "ALPHA": "a", render.EnvStep: "ignored"},
			Requests:    resource.Requests{CPUMillicores: 500, MemoryBytes: 512 << 20},
			Annotations: []resource.Label{{Key: "example.org/team", Value: "geo"}, {Key: render.AnnotationNode, Value: "overridden"}},
		}).
		compute("k8s", "local", resource.Compute{NodeSelector: k8sNode}).
		runs("ndvi", "k8s")
	w := mustRender(t, f.e, render.Options{})

	if w.APIVersion != "argoproj.io/v1alpha1" || w.Kind != "Workflow" {
		t.Errorf("type %s %s", w.APIVersion, w.Kind)
	}
	if w.Name != execution.WorkflowName(execID) || w.Namespace != execution.Namespace(execID) {
		t.Errorf("name %s namespace %s", w.Name, w.Namespace)
	}
	wantLabels := map[string]string{execution.LabelExecution: execID, execution.LabelWorkflow: wfID, execution.LabelManaged: "opencloud"}
	if !reflect.DeepEqual(w.Labels, wantLabels) || !reflect.DeepEqual(w.Spec.PodMetadata.Labels, wantLabels) {
		t.Errorf("labels %v, pod labels %v", w.Labels, w.Spec.PodMetadata.Labels)
	}
	if w.Spec.Entrypoint != "main" || w.Spec.ServiceAccountName != execution.WorkloadServiceAccount || w.Spec.PodGC != nil {
		t.Errorf("spec %+v", w.Spec)
	}
	if *w.Spec.ActiveDeadlineSeconds != 3600 {
		t.Errorf("deadline %d", *w.Spec.ActiveDeadlineSeconds)
	}
	if got := deps(t, w); !reflect.DeepEqual(got, map[string][]string{"ndvi": {}}) {
		t.Errorf("tasks %v", got)
	}
	s := tmpl(t, w, "ndvi")
	c := s.Container
	if c.Image != "ghcr.io/acme/ndvi:1.2.0" || !slices.Equal(c.Command, []string{"/ndvi"}) || !slices.Equal(c.Args, []string{"--band", "red"}) {
		t.Errorf("container %+v", c)
	}
	var names []string
	for _, e := range c.Env {
		names = append(names, e.Name)
	}
	if !slices.Equal(names, []string{"ALPHA", render.EnvExecutionID, render.EnvStep, "ZED"}) {
		t.Errorf("env order %v", names)
	}
	if e := env(s); e[render.EnvStep] != "ndvi" || e[render.EnvExecutionID] != execID {
		t.Errorf("env %v", e)
	}
	if q := c.Resources.Requests[corev1.ResourceCPU]; q.String() != "500m" {
		t.Errorf("cpu %s", q.String())
	}
	if q := c.Resources.Requests[corev1.ResourceMemory]; q.String() != "512Mi" {
		t.Errorf("memory %s", q.String())
	}
	if c.Resources.Limits != nil {
		t.Errorf("limits %v", c.Resources.Limits)
	}
	if want := map[string]string{"kubernetes.io/arch": "amd64", "node.opencloud.io/name": "node-1"}; !reflect.DeepEqual(s.NodeSelector, want) {
		t.Errorf("nodeSelector %v", s.NodeSelector)
	}
	if want := map[string]string{render.AnnotationNode: "ndvi", "example.org/team": "geo"}; !reflect.DeepEqual(s.Metadata.Annotations, want) {
		t.Errorf("annotations %v", s.Metadata.Annotations)
	}
	if len(s.Inputs.Artifacts)+len(s.Outputs.Artifacts) != 0 {
		t.Errorf("artifacts %+v %+v", s.Inputs, s.Outputs)
	}
}

// shape builds processings p0..pn-1 on one compute with the dependency
// links given as "from>to".
func shape(n int, edges ...string) execution.Execution {
	f := newFixture().compute("k8s", "local", resource.Compute{})
	for i := range n {
		id := "p" + strconv.Itoa(i)
		f.processing(id, resource.Processing{}).runs(id, "k8s")
	}
	for _, e := range edges {
		from, to, _ := strings.Cut(e, ">")
		f.dep(from, to)
	}
	return f.e
}

func TestGraphShapes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		e     execution.Execution
		want  map[string][]string
		order []string
	}{
		{"chain", shape(3, "p0>p1", "p1>p2"),
			map[string][]string{"p0": {}, "p1": {"p0"}, "p2": {"p1"}}, []string{"p0", "p1", "p2"}},
		{"chain listed backwards", shape(3, "p2>p1", "p1>p0"),
			map[string][]string{"p2": {}, "p1": {"p2"}, "p0": {"p1"}}, []string{"p2", "p1", "p0"}},
		{"fan-out", shape(4, "p0>p1", "p0>p2", "p0>p3"),
			map[string][]string{"p0": {}, "p1": {"p0"}, "p2": {"p0"}, "p3": {"p0"}}, []string{"p0", "p1", "p2", "p3"}},
		{"fan-in", shape(4, "p2>p3", "p0>p3", "p1>p3"),
			map[string][]string{"p0": {}, "p1": {}, "p2": {}, "p3": {"p0", "p1", "p2"}}, []string{"p0", "p1", "p2", "p3"}},
		{"diamond", shape(4, "p0>p1", "p0>p2", "p1>p3", "p2>p3"),
			map[string][]string{"p0": {}, "p1": {"p0"}, "p2": {"p0"}, "p3": {"p1", "p2"}}, []string{"p0", "p1", "p2", "p3"}},
		{"independent", shape(3),
			map[string][]string{"p0": {}, "p1": {}, "p2": {}}, []string{"p0", "p1", "p2"}},
		{"repeated dependency link", shape(2, "p0>p1", "p0>p1"),
			map[string][]string{"p0": {}, "p1": {"p0"}}, []string{"p0", "p1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := mustRender(t, tc.e, render.Options{})
			got := deps(t, w)
			for k, v := range got {
				if len(v) == 0 {
					got[k] = []string{}
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("dependencies %v, want %v", got, tc.want)
			}
			var order []string
			for _, task := range tmpl(t, w, "main").DAG.Tasks {
				order = append(order, task.Name)
			}
			if !slices.Equal(order, tc.order) {
				t.Errorf("task order %v, want %v", order, tc.order)
			}
			if len(w.Spec.Templates) != len(tc.want)+1 || w.Spec.Templates[0].Name != "main" {
				t.Errorf("%d templates, first %s", len(w.Spec.Templates), w.Spec.Templates[0].Name)
			}
		})
	}
}

func TestStoragesReadAndWrite(t *testing.T) {
	f := newFixture().
		storage("minio-a", "peer-b", "http://minio-a.peer-b:9000", "tiles", "").
		storage("s3-out", "local", "https://s3.example.org/", "results", "eu-west-3").
		processing("ndvi", resource.Processing{}).
		compute("k8s", "local", resource.Compute{}).
		runs("ndvi", "k8s").
		link(wf.LinkStorageRead, "minio-a", "ndvi", "2024/tiles/", "/in/tiles").
		link(wf.LinkStorageRead, "s3-out", "ndvi", "previous/ndvi.tif", "/in/previous.tif").
		link(wf.LinkStorageWrite, "ndvi", "s3-out", "/out/ndvi.tif", "results/ndvi.tif").
		link(wf.LinkStorageWrite, "ndvi", "minio-a", "/out/logs", "logs/")
	w := mustRender(t, f.e, render.Options{})
	s := tmpl(t, w, "ndvi")

	secretA := execution.S3SecretName(resource.Ref{Peer: "peer-b", ID: "res-minio-a"})
	secretOut := execution.S3SecretName(resource.Ref{Peer: "local", ID: "res-s3-out"})
	type art struct {
		name, path, endpoint, bucket, region, key, secret string
		insecure, raw                                     bool
	}
	flatten := func(as []wfv1.Artifact) []art {
		var out []art
		for _, a := range as {
			s3 := a.S3
			if s3 == nil {
				t.Fatalf("artifact %s is not S3: %+v", a.Name, a)
			}
			if s3.AccessKeySecret.Name != s3.SecretKeySecret.Name || s3.AccessKeySecret.Key != execution.S3AccessKey || s3.SecretKeySecret.Key != execution.S3SecretKey {
				t.Errorf("artifact %s credentials %+v %+v", a.Name, s3.AccessKeySecret, s3.SecretKeySecret)
			}
			out = append(out, art{a.Name, a.Path, s3.Endpoint, s3.Bucket, s3.Region, s3.Key, s3.AccessKeySecret.Name,
				*s3.Insecure, a.Archive != nil && a.Archive.None != nil})
		}
		return out
	}
	wantIn := []art{
		{"read-l2", "/in/tiles", "minio-a.peer-b:9000", "tiles", "", "2024/tiles", secretA, true, true},
		{"read-l3", "/in/previous.tif", "s3.example.org", "results", "eu-west-3", "previous/ndvi.tif", secretOut, false, true},
	}
	wantOut := []art{
		{"write-l4", "/out/ndvi.tif", "s3.example.org", "results", "eu-west-3", "results/ndvi.tif", secretOut, false, true},
		{"write-l5", "/out/logs", "minio-a.peer-b:9000", "tiles", "", "logs/logs", secretA, true, true},
	}
	if got := flatten(s.Inputs.Artifacts); !reflect.DeepEqual(got, wantIn) {
		t.Errorf("inputs\n%+v\nwant\n%+v", got, wantIn)
	}
	if got := flatten(s.Outputs.Artifacts); !reflect.DeepEqual(got, wantOut) {
		t.Errorf("outputs\n%+v\nwant\n%+v", got, wantOut)
	}
}

func TestSeveralComputesOneRemote(t *testing.T) {
	f := newFixture().
		compute("edge", "local", resource.Compute{Architecture: "arm64", NodeSelector: []resource.Label{{Key: "topology.kubernetes.io/zone", Value: "zone-1"}}}).
		compute("hpc", "local", resource.Compute{NodeSelector: []resource.Label{{Key: "kubernetes.io/arch", Value: "amd64"}}}).
		compute("partner", "peer-c", resource.Compute{ClusterRef: "dc-lyon", NodeSelector: k8sNode}).
		processing("fetch", resource.Processing{}).processing("ndvi", resource.Processing{}).processing("report", resource.Processing{}).
		runs("fetch", "edge").runs("ndvi", "partner").runs("report", "hpc").
		dep("fetch", "ndvi").dep("ndvi", "report")
	w := mustRender(t, f.e, render.Options{})

	if got := tmpl(t, w, "fetch").NodeSelector; !reflect.DeepEqual(got, map[string]string{"kubernetes.io/arch": "arm64", "topology.kubernetes.io/zone": "zone-1"}) {
		t.Errorf("fetch nodeSelector %v", got)
	}
	if got := tmpl(t, w, "report").NodeSelector; !reflect.DeepEqual(got, map[string]string{"kubernetes.io/arch": "amd64"}) {
		t.Errorf("report nodeSelector %v", got)
	}
	for _, local := range []string{"fetch", "report"} {
		if a := tmpl(t, w, local).Metadata.Annotations; len(a) != 1 {
			t.Errorf("%s is local but annotated %v", local, a)
		}
	}
	remote := tmpl(t, w, "ndvi")
	// The compute's own labels select nodes in the target cluster...
	if want := map[string]string{"kubernetes.io/arch": "amd64", "node.opencloud.io/name": "node-1"}; !reflect.DeepEqual(remote.NodeSelector, want) {
		t.Errorf("remote nodeSelector %v", remote.NodeSelector)
	}
	a := remote.Metadata.Annotations
	if v, ok := a[render.AnnotationElect]; !ok || v != "" {
		t.Errorf("no Admiralty election: %v", a)
	}
	// ...and the proxy pod is held to the virtual node of the peer's Target.
	var constraints corev1.PodSpec
	if err := yaml.UnmarshalStrict([]byte(a[render.AnnotationProxyPodConstraints]), &constraints); err != nil {
		t.Fatalf("constraints %q: %v", a[render.AnnotationProxyPodConstraints], err)
	}
	want := map[string]string{
		render.LabelTargetName:      render.TargetName("peer-c", "dc-lyon"),
		render.LabelTargetNamespace: execution.Namespace(execID),
	}
	if !reflect.DeepEqual(constraints.NodeSelector, want) {
		t.Errorf("proxy constraints %v, want %v", constraints.NodeSelector, want)
	}
	if n := render.TargetName("peer-c", "dc-lyon"); len(n) > 63 || n == render.TargetName("peer-c", "dc-paris") || n == render.TargetName("peer-d", "dc-lyon") {
		t.Errorf("target names not distinct or too long: %s", n)
	}

	// Seen from peer-c, the same graph's partner compute is local and the others are remote.
	w = mustRender(t, f.e, render.Options{LocalPeer: "peer-c"})
	if _, ok := tmpl(t, w, "ndvi").Metadata.Annotations[render.AnnotationElect]; ok {
		t.Error("ndvi elected on its own peer")
	}
	if _, ok := tmpl(t, w, "fetch").Metadata.Annotations[render.AnnotationElect]; !ok {
		t.Error("fetch not elected from another peer")
	}
}

func TestDataLinks(t *testing.T) {
	f := newFixture().
		data("tiles-a", "https://data.example.org/tiles.zip").
		data("tiles.a", "s3://bucket/tiles/").
		data("dem", "http://dem.local:8080/dem.tif").
		processing("ndvi", resource.Processing{Env: map[string]string{"OC_DATA_DEM": "overridden"}}).
		processing("other", resource.Processing{}).
		compute("k8s", "local", resource.Compute{}).
		runs("ndvi", "k8s").runs("other", "k8s").
		link(wf.LinkData, "tiles-a", "ndvi").link(wf.LinkData, "tiles.a", "ndvi").link(wf.LinkData, "dem", "ndvi").
		link(wf.LinkData, "dem", "other")
	w := mustRender(t, f.e, render.Options{})
	s := tmpl(t, w, "ndvi")
	e := env(s)
	for k, v := range map[string]string{
		"OC_DATA_TILES_A": "https://data.example.org/tiles.zip", "OC_DATA_TILES_A_2": "s3://bucket/tiles/", "OC_DATA_DEM": "http://dem.local:8080/dem.tif",
	} {
		if e[k] != v {
			t.Errorf("env %s=%q, want %q (env %v)", k, e[k], v, e)
		}
	}
	var got []string
	for _, a := range s.Inputs.Artifacts {
		if a.HTTP == nil {
			t.Fatalf("artifact %s is not HTTP", a.Name)
		}
		got = append(got, a.Name+" "+a.Path+" "+a.HTTP.URL)
	}
	want := []string{"data-tiles-a /oc/data/tiles-a https://data.example.org/tiles.zip", "data-dem /oc/data/dem http://dem.local:8080/dem.tif"}
	if !slices.Equal(got, want) {
		t.Errorf("HTTP artifacts %v, want %v", got, want)
	}
	if a := tmpl(t, w, "other").Inputs.Artifacts; len(a) != 1 || a[0].Path != "/oc/data/dem" {
		t.Errorf("other's artifacts %+v", a)
	}
}

func TestGPURequests(t *testing.T) {
	f := newFixture().
		processing("train", resource.Processing{Requests: resource.Requests{CPUMillicores: 4000, MemoryBytes: 16 << 30, GPUs: 2}}).
		compute("gpu", "local", resource.Compute{GPUs: 8, NodeSelector: []resource.Label{{Key: "nvidia.com/gpu.present", Value: "true"}}}).
		runs("train", "gpu")
	c := tmpl(t, mustRender(t, f.e, render.Options{}), "train").Container
	if q := c.Resources.Limits[render.ResourceGPU]; q.String() != "2" {
		t.Errorf("gpu limit %q", q.String())
	}
	if cpu, mem := c.Resources.Requests[corev1.ResourceCPU], c.Resources.Requests[corev1.ResourceMemory]; cpu.String() != "4" || mem.String() != "16Gi" {
		t.Errorf("requests cpu %s memory %s", cpu.String(), mem.String())
	}
}

func TestDeadlineFollowsTheWindow(t *testing.T) {
	for _, tc := range []struct {
		window time.Duration
		want   int64
	}{{10 * time.Second, 60}, {0, 60}, {-time.Hour, 60}, {90 * time.Minute, 5400}, {61500 * time.Millisecond, 62}, {1<<63 - 1, 9223372037}} {
		e := shape(1)
		e.End = e.Start.Add(tc.window)
		if got := *mustRender(t, e, render.Options{}).Spec.ActiveDeadlineSeconds; got != tc.want {
			t.Errorf("window %s: deadline %d, want %d", tc.window, got, tc.want)
		}
	}
}

func TestOptions(t *testing.T) {
	e := shape(1)
	w := mustRender(t, e, render.Options{Namespace: "team-a", ServiceAccount: "runner"})
	if w.Namespace != "team-a" || w.Spec.ServiceAccountName != "runner" {
		t.Errorf("namespace %s, service account %s", w.Namespace, w.Spec.ServiceAccountName)
	}
	e.Namespace = "oc-recorded"
	if w := mustRender(t, e, render.Options{}); w.Namespace != "oc-recorded" {
		t.Errorf("namespace %s, want the execution's", w.Namespace)
	}
	// A Ref without a peer is this peer's.
	e = shape(1)
	for i := range e.Graph.Nodes {
		e.Graph.Nodes[i].Resource.Peer = ""
	}
	if _, ok := tmpl(t, mustRender(t, e, render.Options{}), "p0").Metadata.Annotations[render.AnnotationElect]; ok {
		t.Error("a compute without peer was taken as remote")
	}
}

var taskName = regexp.MustCompile(`^[a-z][-a-z0-9]*[a-z0-9]$|^[a-z]$`)

func TestTaskNamesAreDNSSafeAndUnique(t *testing.T) {
	ids := []string{"Step_1", "step-1", "step.1", "1st", "main", "-", "..", "A", strings.Repeat("x", 64), strings.Repeat("x", 63) + "y"}
	f := newFixture().compute("k8s", "local", resource.Compute{})
	for _, id := range ids {
		f.processing(id, resource.Processing{}).runs(id, "k8s")
	}
	for i := 1; i < len(ids); i++ {
		f.dep(ids[i-1], ids[i])
	}
	w := mustRender(t, f.e, render.Options{})
	seen := map[string]bool{"main": true}
	for _, task := range tmpl(t, w, "main").DAG.Tasks {
		if !taskName.MatchString(task.Name) || len(task.Name) > 50 || seen[task.Name] {
			t.Errorf("task name %q not DNS-safe, too long or repeated", task.Name)
		}
		seen[task.Name] = true
		if id := tmpl(t, w, task.Name).Metadata.Annotations[render.AnnotationNode]; !slices.Contains(ids, id) {
			t.Errorf("task %s annotated with node %q", task.Name, id)
		}
	}
	if len(seen) != len(ids)+1 {
		t.Errorf("%d names for %d nodes", len(seen)-1, len(ids))
	}
}

func TestRenderingIsDeterministicAndDoesNotAlias(t *testing.T) {
	e := shape(5, "p0>p1", "p0>p2", "p1>p3", "p2>p3", "p3>p4")
	w1 := mustRender(t, e, render.Options{})
	w2 := mustRender(t, e, render.Options{})
	y1, _ := render.YAML(w1)
	y2, _ := render.YAML(w2)
	if !bytes.Equal(y1, y2) {
		t.Errorf("two renders differ:\n%s\n---\n%s", y1, y2)
	}
	w1.Spec.Templates[1].Container.Command[0] = "/mutated"
	if got := e.Resources[1].Processing.Command[0]; got != "/bin/run" {
		t.Errorf("the Workflow aliases the execution's command: %s", got)
	}
}

func TestYAMLIsForPeople(t *testing.T) {
	y, err := render.YAML(mustRender(t, shape(1), render.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	s := string(y)
	for _, want := range []string{"apiVersion: argoproj.io/v1alpha1", "kind: Workflow", "name: oc-" + execID, "entrypoint: main"} {
		if !strings.Contains(s, want) {
			t.Errorf("YAML lacks %q:\n%s", want, s)
		}
	}
	for _, not := range []string{"status:", "creationTimestamp"} {
		if strings.Contains(s, not) {
			t.Errorf("YAML has %q:\n%s", not, s)
		}
	}
	var back wfv1.Workflow
	if err := yaml.UnmarshalStrict(y, &back); err != nil {
		t.Fatalf("YAML does not read back: %v", err)
	}
	if err := render.Validate(&back); err != nil {
		t.Errorf("read back: %v", err)
	}
}

func TestValidateRefusesWhatArgoRefuses(t *testing.T) {
	w := mustRender(t, shape(2, "p0>p1"), render.Options{})
	w.Spec.Templates[0].DAG.Tasks[1].Dependencies = []string{"nowhere"}
	if err := render.Validate(w); !errors.Is(err, render.ErrRejected) || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("err %v", err)
	}
	if err := render.Validate(nil); !errors.Is(err, render.ErrRejected) {
		t.Errorf("nil: %v", err)
	}
}

// Workers following executions in one process validate at the same time.
func TestValidateConcurrently(t *testing.T) {
	w := mustRender(t, shape(4, "p0>p1", "p0>p2", "p1>p3", "p2>p3"), render.Options{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := render.Validate(w.DeepCopy()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func TestRefusals(t *testing.T) {
	base := func() *fixture {
		return newFixture().
			processing("a", resource.Processing{}).processing("b", resource.Processing{}).
			compute("k8s", "local", resource.Compute{}).
			storage("s3", "local", "https://s3.example.org", "b", "").
			data("d", "https://example.org/d").
			runs("a", "k8s").runs("b", "k8s")
	}
	for _, tc := range []struct {
		name       string
		edit       func(f *fixture)
		kind       error
		node, link string
		says       string
	}{
		{"processing without compute", func(f *fixture) { f.processing("c", resource.Processing{}) }, render.ErrNoCompute, "c", "", "add one compute link"},
		{"missing resource", func(f *fixture) { f.e.Resources = f.e.Resources[1:] }, render.ErrMissingResource, "a", "", "local/res-a"},
		{"resource of another peer", func(f *fixture) { f.e.Graph.Nodes[2].Resource.Peer = "peer-z" }, render.ErrMissingResource, "k8s", "", "peer-z/res-k8s"},
		{"cycle", func(f *fixture) {
			f.processing("c", resource.Processing{}).runs("c", "k8s").dep("a", "b").dep("b", "c").dep("c", "b")
		}, render.ErrCycle, "b", "", "b → c → b"},
		{"self dependency", func(f *fixture) { f.dep("a", "a") }, render.ErrCycle, "a", "l3", "itself"},
		{"dangling link", func(f *fixture) { f.dep("a", "zz") }, render.ErrInvalid, "", "l3", `"zz"`},
		{"link of the wrong kinds", func(f *fixture) { f.link(wf.LinkData, "a", "b") }, render.ErrInvalid, "", "l3", "data link"},
		{"unknown link kind", func(f *fixture) { f.link("teleport", "a", "b") }, render.ErrInvalid, "", "l3", "teleport"},
		{"several computes", func(f *fixture) { f.compute("k2", "local", resource.Compute{}).runs("a", "k2") }, render.ErrInvalid, "a", "", "several compute"},
		{"no processing", func(f *fixture) {
			f.e.Graph = wf.Graph{Nodes: f.e.Graph.Nodes[2:3]}
		}, render.ErrInvalid, "", "", "nothing to run"},
		{"duplicate node", func(f *fixture) { f.e.Graph.Nodes = append(f.e.Graph.Nodes, f.e.Graph.Nodes[0]) }, render.ErrInvalid, "a", "", "two nodes"},
		{"bad node id", func(f *fixture) { f.e.Graph.Nodes[4].ID = "{{x}}" }, render.ErrInvalid, "{{x}}", "", "node id"},
		{"kind mismatch", func(f *fixture) { f.e.Graph.Nodes[3].Kind = resource.KindData }, render.ErrInvalid, "s3", "", "is a storage"},
		{"workflow node", func(f *fixture) { f.e.Graph.Nodes[4].Kind = resource.KindWorkflow }, render.ErrInvalid, "d", "", "cannot run"},
		{"empty image", func(f *fixture) { f.e.Resources[0].Processing.Image = " " }, render.ErrInvalid, "a", "", "no image"},
		{"expression in args", func(f *fixture) { f.e.Resources[0].Processing.Args = []string{"{{workflow.name}}"} }, render.ErrInvalid, "a", "", "{{"},
		{"expression in env", func(f *fixture) { f.e.Resources[0].Processing.Env = map[string]string{"X": "{{"} }, render.ErrInvalid, "a", "", "env X"},
		{"bad env name", func(f *fixture) { f.e.Resources[0].Processing.Env = map[string]string{"A=B": "x"} }, render.ErrInvalid, "a", "", "env name"},
		{"negative requests", func(f *fixture) { f.e.Resources[0].Processing.Requests.CPUMillicores = -1 }, render.ErrInvalid, "a", "", "negative"},
		{"read without destination", func(f *fixture) { f.link(wf.LinkStorageRead, "s3", "a", "k", "") }, render.ErrInvalid, "", "l3", "destination"},
		{"write without key", func(f *fixture) { f.link(wf.LinkStorageWrite, "a", "s3", "/out", "") }, render.ErrInvalid, "", "l3", "destination"},
		{"relative path", func(f *fixture) { f.link(wf.LinkStorageRead, "s3", "a", "k", "in/x") }, render.ErrInvalid, "a", "l3", "absolute"},
		{"unclean path", func(f *fixture) { f.link(wf.LinkStorageWrite, "a", "s3", "/out/../etc", "k") }, render.ErrInvalid, "a", "l3", "clean"},
		{"root path", func(f *fixture) { f.link(wf.LinkStorageRead, "s3", "a", "k", "/") }, render.ErrInvalid, "a", "l3", "root"},
		{"absolute key", func(f *fixture) { f.link(wf.LinkStorageRead, "s3", "a", "/k", "/in/k") }, render.ErrInvalid, "a", "l3", "relative to the bucket"},
		{"key with ..", func(f *fixture) { f.link(wf.LinkStorageWrite, "a", "s3", "/out/x", "a/../b") }, render.ErrInvalid, "a", "l3", `".." segment`},
		{"directory to a key", func(f *fixture) { f.link(wf.LinkStorageWrite, "a", "s3", "/out/", "results/x") }, render.ErrInvalid, "a", "l3", `end the destination with / ("results/x/")`},
		{"input inside another", func(f *fixture) {
			f.link(wf.LinkStorageRead, "s3", "a", "tiles/", "/in/").link(wf.LinkStorageRead, "s3", "a", "k", "/in/k")
		}, render.ErrInvalid, "a", "l4", "one inside the other"},
		{"two inputs at one path", func(f *fixture) {
			f.link(wf.LinkStorageRead, "s3", "a", "k1", "/in/x").link(wf.LinkStorageRead, "s3", "a", "k2", "/in/x")
		}, render.ErrInvalid, "a", "l4", "both land at /in/x"},
		{"data over an input", func(f *fixture) {
			f.link(wf.LinkStorageRead, "s3", "a", "k1", "/oc/data/d").link(wf.LinkData, "d", "a")
		}, render.ErrInvalid, "a", "", "both land"},
		{"endpoint not a URL", func(f *fixture) {
			f.e.Resources[3].Storage.Endpoint = "s3.example.org"
			f.link(wf.LinkStorageRead, "s3", "a", "k", "/in")
		}, render.ErrInvalid, "s3", "", "not an http(s) URL"},
		{"endpoint with a path", func(f *fixture) {
			f.e.Resources[3].Storage.Endpoint = "https://example.org/minio"
			f.link(wf.LinkStorageRead, "s3", "a", "k", "/in")
		}, render.ErrInvalid, "s3", "", "path"},
		{"no bucket", func(f *fixture) {
			f.e.Resources[3].Storage.Bucket = ""
			f.link(wf.LinkStorageWrite, "a", "s3", "/out", "k")
		}, render.ErrInvalid, "s3", "", "bucket"},
		{"bad node label", func(f *fixture) {
			f.e.Resources[2].Compute.NodeSelector = []resource.Label{{Key: "bad key", Value: "v"}}
		}, render.ErrInvalid, "k8s", "", "label key"},
		{"conflicting labels", func(f *fixture) {
			f.e.Resources[2].Compute.NodeSelector = []resource.Label{{Key: "zone", Value: "a"}, {Key: "zone", Value: "b"}}
		}, render.ErrInvalid, "k8s", "", "twice"},
		{"arch conflict", func(f *fixture) {
			f.e.Resources[2].Compute.NodeSelector = []resource.Label{{Key: "kubernetes.io/arch", Value: "arm64"}}
		}, render.ErrInvalid, "k8s", "", "architecture is amd64"},
		{"execution id not a name", func(f *fixture) { f.e.ID = "Not_A_Name" }, render.ErrInvalid, "", "", "execution id"},
		{"execution id too long", func(f *fixture) { f.e.ID = strings.Repeat("a", 61) }, render.ErrInvalid, "", "", "execution id"},
		{"no execution id", func(f *fixture) { f.e.ID = "" }, render.ErrInvalid, "", "", "no id"},
		{"workflow id not a label value", func(f *fixture) { f.e.WorkflowID = "a b" }, render.ErrInvalid, "", "", "workflow id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := base()
			tc.edit(f)
			w, err := render.Render(f.e, render.Options{})
			if err == nil {
				y, _ := render.YAML(w)
				t.Fatalf("rendered:\n%s", y)
			}
			var re *render.Error
			if !errors.As(err, &re) || !errors.Is(err, tc.kind) {
				t.Fatalf("err %v (%T), want %v", err, err, tc.kind)
			}
			if re.Node != tc.node || re.Link != tc.link {
				t.Errorf("err names node %q link %q, want %q %q: %v", re.Node, re.Link, tc.node, tc.link, err)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("%q does not say %q", err, tc.says)
			}
		})
	}
}
