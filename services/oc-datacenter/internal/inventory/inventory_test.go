package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	res "github.com/opencloud/opencloud/libs/resource"

	"github.com/opencloud/opencloud/services/oc-datacenter/datacenter"
)

func gpuNode() corev1.Node {
	return corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "gpu-1", Labels: map[string]string{
			"kubernetes.io/hostname": "gpu-1", "kubernetes.io/arch": "arm64", GPUProductLabel: "A100", "zone": "b",
		}},
		Spec: corev1.NodeSpec{Unschedulable: true},
		Status: corev1.NodeStatus{
			Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16"), corev1.ResourceMemory: resource.MustParse("64Gi"),
				GPUResource: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("110")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("15500m"), corev1.ResourceMemory: resource.MustParse("62Gi"),
				GPUResource: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("100")},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			NodeInfo:   corev1.NodeSystemInfo{Architecture: "amd64", OperatingSystem: "linux"},
		},
	}
}

func TestFromNode(t *testing.T) {
	n := FromNode(gpuNode())
	if n.Name != "gpu-1" || n.Architecture != "arm64" || n.OS != "linux" || n.GPUModel != "A100" || !n.Ready || !n.Unschedulable {
		t.Errorf("FromNode = %+v", n)
	}
	if want := (datacenter.Resources{CPUMillicores: 16000, MemoryBytes: 64 << 30, GPUs: 2, Pods: 110}); n.Capacity != want {
		t.Errorf("capacity %+v, want %+v", n.Capacity, want)
	}
	if want := (datacenter.Resources{CPUMillicores: 15500, MemoryBytes: 62 << 30, GPUs: 2, Pods: 100}); n.Allocatable != want {
		t.Errorf("allocatable %+v, want %+v", n.Allocatable, want)
	}
	var keys []string
	for _, l := range n.Labels {
		keys = append(keys, l.Key)
	}
	if !slices.IsSorted(keys) || len(keys) != 4 {
		t.Errorf("labels %v", n.Labels)
	}
	bare := FromNode(corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "x"}})
	if bare.Ready || bare.Labels == nil || bare.Capacity != (datacenter.Resources{}) {
		t.Errorf("a node with nothing: %+v", bare)
	}
}

func TestCompute(t *testing.T) {
	c, err := Compute("edge-1", FromNode(gpuNode()))
	if err != nil {
		t.Fatal(err)
	}
	want := res.Compute{ClusterRef: "edge-1", Architecture: "arm64", CPUCores: 15, MemoryBytes: 62 << 30, GPUs: 2, GPUModel: "A100",
		NodeSelector: []res.Label{{Key: "kubernetes.io/hostname", Value: "gpu-1"}}}
	if !SameInventory(&c, &want) {
		t.Errorf("Compute = %+v, want %+v", c, want)
	}
	if _, err := Compute("edge-1", datacenter.Node{Name: "anon"}); err == nil || !strings.Contains(err.Error(), "kubernetes.io/hostname") {
		t.Errorf("a node without identifying labels: %v", err)
	}
}

func TestTags(t *testing.T) {
	if got := NodeTag("node-1"); got != "node-node-1" {
		t.Errorf("NodeTag = %q", got)
	}
	long := strings.Repeat("n", 100)
	a, b := NodeTag(long), NodeTag(long+"x")
	if !tagRe.MatchString(a) || a == b || !strings.HasPrefix(a, "node-") {
		t.Errorf("long names: %q, %q", a, b)
	}
	if got := ClusterTag("local"); got != "cluster-local" {
		t.Errorf("ClusterTag = %q", got)
	}
}

func FuzzNodeTag(f *testing.F) {
	for _, s := range []string{"node-1", "", "UPPER", strings.Repeat("a", 70), "a.b-c_d", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		tag := NodeTag(name)
		if !tagRe.MatchString(tag) {
			t.Fatalf("NodeTag(%q) = %q is not a catalog tag", name, tag)
		}
		if !strings.HasPrefix(tag, "node-") {
			t.Fatalf("NodeTag(%q) = %q lost its prefix", name, tag)
		}
	})
}

func TestValidatePublish(t *testing.T) {
	for req, field := range map[*datacenter.PublishRequest]string{
		{}:                          "",
		{Visibility: res.Partners}:  "",
		{Visibility: "everyone"}:    "visibility",
		{Visibility: res.Groups}:    "groups",
		{Groups: []string{"lab-a"}}: "groups",
		{Visibility: res.Groups, Groups: []string{"lab-a"}}: "",
	} {
		err := ValidatePublish(*req)
		var ve *ValidationError
		switch {
		case field == "" && err != nil:
			t.Errorf("%+v: %v", *req, err)
		case field != "" && (!errors.As(err, &ve) || ve.Field != field):
			t.Errorf("%+v: %v, want a problem with %s", *req, err, field)
		}
	}
}

// memCatalog is an in-memory stand-in for oc-catalog, for the cases the
// component tests cannot provoke: a refused node, an unreadable catalog.
type memCatalog struct {
	items   []res.Resource
	listErr error
	refuse  string // a node name whose create is refused
}

func (m *memCatalog) Computes(_ context.Context, tags []string) ([]res.Resource, error) {
	if m.listErr != nil {
		return nil, m.listErr
	}
	var out []res.Resource
	for _, r := range m.items {
		if !slices.ContainsFunc(tags, func(t string) bool { return !slices.Contains(r.Tags, t) }) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (m *memCatalog) Create(_ context.Context, in res.Input) (res.Resource, error) {
	if m.refuse != "" && slices.Contains(in.Tags, NodeTag(m.refuse)) {
		return res.Resource{}, errors.New("400 invalid_request: compute.architecture: not an architecture")
	}
	r := res.Resource{ID: fmt.Sprintf("r%d", len(m.items)+1), Kind: in.Kind, Name: in.Name, Tags: in.Tags,
		Visibility: in.Visibility, Compute: in.Compute, Version: 1, CreatedAt: time.Unix(int64(len(m.items)), 0)}
	m.items = append(m.items, r)
	return r, nil
}

func (m *memCatalog) Update(_ context.Context, id string, version int64, in res.Input) (res.Resource, error) {
	for i, r := range m.items {
		if r.ID == id {
			if r.Version != version {
				return r, errors.New("409 version_conflict")
			}
			r.Name, r.Tags, r.Compute, r.Version = in.Name, in.Tags, in.Compute, r.Version+1
			m.items[i] = r
			return r, nil
		}
	}
	return res.Resource{}, errors.New("404")
}

func nodes(names ...string) []datacenter.Node {
	var out []datacenter.Node
	for _, n := range names {
		out = append(out, datacenter.Node{Name: n, Architecture: "amd64",
			Allocatable: datacenter.Resources{CPUMillicores: 4000, MemoryBytes: 8 << 30},
			Labels:      []res.Label{{Key: "kubernetes.io/hostname", Value: n}}})
	}
	return out
}

func TestPublish(t *testing.T) {
	ctx := context.Background()
	cat := &memCatalog{refuse: "bad"}
	out, err := Publish(ctx, cat, "c1", nodes("a", "bad", "b"), datacenter.PublishRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Created != 2 || out.Failed != 1 || out.Items[1].Action != datacenter.Failed || !strings.Contains(out.Items[1].Error, "architecture") {
		t.Errorf("publish with a refused node: %+v", out)
	}
	if cat.items[0].Visibility != res.Private {
		t.Errorf("default visibility %q, want private", cat.items[0].Visibility)
	}

	// A duplicate made by hand later than the published one is not adopted.
	dup := cat.items[0]
	dup.ID, dup.CreatedAt, dup.Compute = "dup", time.Unix(100, 0), &res.Compute{ClusterRef: "c1", Architecture: "amd64"}
	cat.items = append(cat.items, dup)
	// The same node name in another cluster is another compute.
	other := cat.items[1]
	other.ID, other.Compute = "other", &res.Compute{ClusterRef: "c2", Architecture: "amd64"}
	cat.items = append(cat.items, other)

	out, err = Publish(ctx, cat, "c1", nodes("a", "b"), datacenter.PublishRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Unchanged != 2 || out.Items[0].ResourceID != "r1" || !slices.Equal(out.Stale, []string{"dup"}) {
		t.Errorf("publish again: %+v", out)
	}

	cat.listErr = errors.New("connection refused")
	if _, err := Publish(ctx, cat, "c1", nodes("a"), datacenter.PublishRequest{}); !errors.Is(err, ErrCatalog) {
		t.Errorf("unreadable catalog: %v, want ErrCatalog", err)
	}
}

func TestMergeCompute(t *testing.T) {
	cur := &res.Compute{ClusterRef: "c1", Architecture: "amd64", CPUCores: 64, Location: "Paris", Country: "FR", GPUModel: "by hand",
		CarbonIntensity: 56, SecurityStandards: []string{"ISO27001"}}
	want := res.Compute{ClusterRef: "c1", Architecture: "arm64", CPUCores: 8, NodeSelector: []res.Label{{Key: "k", Value: "v"}}}
	got := mergeCompute(cur, want)
	if got.CPUCores != 8 || got.Architecture != "arm64" || got.Location != "Paris" || got.Country != "FR" ||
		got.GPUModel != "by hand" || got.CarbonIntensity != 56 || len(got.SecurityStandards) != 1 || len(got.NodeSelector) != 1 {
		t.Errorf("mergeCompute = %+v", got)
	}
}
