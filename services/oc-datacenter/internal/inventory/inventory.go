// Package inventory reads the cluster's nodes and publishes them in the
// catalog as compute resources, one per node, as FLUIDOS's local resource
// manager makes one flavour per node: a step placed on a compute then runs
// on that node (its node selector), and the node's capacity is what the
// scheduler books.
//
// A published compute is found again by its tags, not its name: an admin
// may rename or describe it in the catalog, and a user's compute that
// happens to share a name is never taken over. Publishing owns only the
// compute's inventory fields (cluster, architecture, CPU, memory, GPUs,
// node selector) and its tags; visibility, pricing, name and description
// are the admin's to edit and are left as they are.
package inventory

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	res "github.com/opencloud/opencloud/libs/resource"

	"github.com/opencloud/opencloud/services/oc-datacenter/datacenter"
)

// GPUResource is the extended resource NVIDIA's device plugin advertises.
const GPUResource corev1.ResourceName = "nvidia.com/gpu"

// GPUProductLabel is set by NVIDIA's GPU feature discovery.
const GPUProductLabel = "nvidia.com/gpu.product"

// IdentifyingLabels are the node labels that select one node; those a node
// has become its compute's node selector.
var IdentifyingLabels = []string{"kubernetes.io/hostname", "node.opencloud.io/name"}

// Tags every published compute carries, besides ClusterTag and NodeTag.
const InventoryTag = "datacenter-inventory"

// ErrCatalog: the catalog could not be read.
var ErrCatalog = errors.New("the catalog is unavailable")

// clusterRe is the catalog's rule for a compute's cluster_ref.
var clusterRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$`)

// ValidClusterName reports whether name can be a compute's cluster_ref.
func ValidClusterName(name string) bool { return clusterRe.MatchString(name) }

// Nodes lists the cluster's nodes, sorted by name.
func Nodes(ctx context.Context, cs kubernetes.Interface) ([]datacenter.Node, error) {
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]datacenter.Node, 0, len(list.Items))
	for _, n := range list.Items {
		out = append(out, FromNode(n))
	}
	slices.SortFunc(out, func(a, b datacenter.Node) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// FromNode is the API's view of a Kubernetes node.
func FromNode(n corev1.Node) datacenter.Node {
	out := datacenter.Node{
		Name:          n.Name,
		Architecture:  cmp.Or(n.Labels[corev1.LabelArchStable], n.Status.NodeInfo.Architecture),
		OS:            cmp.Or(n.Labels[corev1.LabelOSStable], n.Status.NodeInfo.OperatingSystem),
		GPUModel:      n.Labels[GPUProductLabel],
		Capacity:      amounts(n.Status.Capacity),
		Allocatable:   amounts(n.Status.Allocatable),
		Labels:        make([]res.Label, 0, len(n.Labels)),
		Unschedulable: n.Spec.Unschedulable,
	}
	for k, v := range n.Labels {
		out.Labels = append(out.Labels, res.Label{Key: k, Value: v})
	}
	slices.SortFunc(out.Labels, func(a, b res.Label) int { return cmp.Compare(a.Key, b.Key) })
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			out.Ready = c.Status == corev1.ConditionTrue
		}
	}
	return out
}

func amounts(l corev1.ResourceList) datacenter.Resources {
	q := func(name corev1.ResourceName) resource.Quantity { return l[name] }
	cpu, mem, gpu, pods := q(corev1.ResourceCPU), q(corev1.ResourceMemory), q(GPUResource), q(corev1.ResourcePods)
	return datacenter.Resources{CPUMillicores: cpu.MilliValue(), MemoryBytes: mem.Value(), GPUs: gpu.Value(), Pods: pods.Value()}
}

// tag is prefix+name when that is a valid catalog tag (1 to 64 of a-z 0-9
// . _ -), else prefix and a hash of name, so that every name has one.
func tag(prefix, name string) string {
	t := prefix + name
	if len(t) <= 64 && tagRe.MatchString(t) {
		return t
	}
	sum := sha256.Sum256([]byte(name))
	return prefix + hex.EncodeToString(sum[:8])
}

var tagRe = regexp.MustCompile(`^[a-z0-9._-]{1,64}$`)

// ClusterTag marks the computes of one cluster.
func ClusterTag(cluster string) string { return tag("cluster-", cluster) }

// NodeTag marks the compute of one node.
func NodeTag(node string) string { return tag("node-", node) }

// Compute is the compute resource describing node n of cluster. Its CPU,
// memory and GPUs are what pods may use (allocatable).
func Compute(cluster string, n datacenter.Node) (res.Compute, error) {
	c := res.Compute{
		ClusterRef:   cluster,
		Architecture: res.Architecture(n.Architecture),
		CPUCores:     n.Allocatable.CPUMillicores / 1000,
		MemoryBytes:  n.Allocatable.MemoryBytes,
		GPUs:         n.Allocatable.GPUs,
		GPUModel:     n.GPUModel,
	}
	for _, key := range IdentifyingLabels {
		for _, l := range n.Labels {
			if l.Key == key {
				c.NodeSelector = append(c.NodeSelector, l)
			}
		}
	}
	if len(c.NodeSelector) == 0 {
		return c, fmt.Errorf("node %s has none of the labels %s: label it so that steps can be placed on it",
			n.Name, strings.Join(IdentifyingLabels, ", "))
	}
	return c, nil
}

// Catalog is what publishing needs of oc-catalog, acting as the caller.
type Catalog interface {
	// Computes returns every compute resource carrying all of tags.
	Computes(ctx context.Context, tags []string) ([]res.Resource, error)
	Create(ctx context.Context, in res.Input) (res.Resource, error)
	Update(ctx context.Context, id string, version int64, in res.Input) (res.Resource, error)
}

// Publish creates or updates one compute resource per node in the catalog,
// and tells what it did for each. A node the catalog refuses is reported
// failed and the others go on; only a catalog that cannot be read at all
// fails the whole call (ErrCatalog).
func Publish(ctx context.Context, cat Catalog, cluster string, nodes []datacenter.Node, req datacenter.PublishRequest) (datacenter.PublishResult, error) {
	out := datacenter.PublishResult{Cluster: cluster, Items: []datacenter.Published{}, Stale: []string{}}
	clusterTag := ClusterTag(cluster)
	existing, err := cat.Computes(ctx, []string{InventoryTag, clusterTag})
	if err != nil {
		return out, fmt.Errorf("%w: %w", ErrCatalog, err)
	}
	byNode := map[string]res.Resource{}
	for _, r := range existing {
		// Computes of the same tags, made by hand or twice, are not merged:
		// the oldest one is kept up to date.
		if r.Compute == nil || r.Compute.ClusterRef != cluster {
			continue
		}
		for _, t := range r.Tags {
			if old, seen := byNode[t]; strings.HasPrefix(t, "node-") && (!seen || r.CreatedAt.Before(old.CreatedAt)) {
				byNode[t] = r
			}
		}
	}
	used := map[string]bool{}
	for _, n := range nodes {
		item := publishOne(ctx, cat, cluster, clusterTag, n, byNode[NodeTag(n.Name)], req)
		used[item.ResourceID] = true
		switch item.Action {
		case datacenter.Created:
			out.Created++
		case datacenter.Updated:
			out.Updated++
		case datacenter.Unchanged:
			out.Unchanged++
		default:
			out.Failed++
		}
		out.Items = append(out.Items, item)
	}
	for _, r := range existing {
		if !used[r.ID] && r.Compute != nil && r.Compute.ClusterRef == cluster {
			out.Stale = append(out.Stale, r.ID)
		}
	}
	slices.Sort(out.Stale)
	return out, nil
}

func publishOne(ctx context.Context, cat Catalog, cluster, clusterTag string, n datacenter.Node, cur res.Resource, req datacenter.PublishRequest) datacenter.Published {
	item := datacenter.Published{Node: n.Name, ResourceID: cur.ID}
	failed := func(err error) datacenter.Published {
		item.Action, item.Error = datacenter.Failed, err.Error()
		return item
	}
	want, err := Compute(cluster, n)
	if err != nil {
		return failed(err)
	}
	tags := []string{InventoryTag, clusterTag, NodeTag(n.Name)}
	if cur.ID == "" {
		in := res.Input{
			Kind: res.KindCompute, Name: n.Name + " (" + cluster + ")",
			Description: fmt.Sprintf("Node %s of cluster %s, published by oc-datacenter from the cluster's inventory.", n.Name, cluster),
			Tags:        tags, Visibility: cmp.Or(req.Visibility, res.Private), Groups: req.Groups, Compute: &want,
		}
		r, err := cat.Create(ctx, in)
		if err != nil {
			return failed(err)
		}
		item.ResourceID, item.Action = r.ID, datacenter.Created
		return item
	}
	in := cur.Input()
	merged := mergeCompute(cur.Compute, want)
	missing := missingTags(cur.Tags, tags)
	if SameInventory(cur.Compute, &merged) && len(missing) == 0 {
		item.Action = datacenter.Unchanged
		return item
	}
	in.Compute, in.Tags = &merged, append(slices.Clone(cur.Tags), missing...)
	if _, err := cat.Update(ctx, cur.ID, cur.Version, in); err != nil {
		return failed(err)
	}
	item.Action = datacenter.Updated
	return item
}

// mergeCompute is cur with the inventory fields of want: what the admin
// added (location, country, carbon intensity, standards) stays.
func mergeCompute(cur *res.Compute, want res.Compute) res.Compute {
	out := want
	if cur != nil {
		out = *cur
		out.ClusterRef, out.Architecture = want.ClusterRef, want.Architecture
		out.CPUCores, out.MemoryBytes, out.GPUs = want.CPUCores, want.MemoryBytes, want.GPUs
		out.NodeSelector = want.NodeSelector
		if want.GPUModel != "" {
			out.GPUModel = want.GPUModel
		}
	}
	return out
}

// SameInventory reports whether two computes agree on what publishing owns.
func SameInventory(a, b *res.Compute) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.ClusterRef != b.ClusterRef || a.Architecture != b.Architecture || a.CPUCores != b.CPUCores ||
		a.MemoryBytes != b.MemoryBytes || a.GPUs != b.GPUs || a.GPUModel != b.GPUModel {
		return false
	}
	key := func(l res.Label) string { return l.Key + "=" + l.Value }
	as, bs := make([]string, len(a.NodeSelector)), make([]string, len(b.NodeSelector))
	for i, l := range a.NodeSelector {
		as[i] = key(l)
	}
	for i, l := range b.NodeSelector {
		bs[i] = key(l)
	}
	slices.Sort(as)
	slices.Sort(bs)
	return slices.Equal(as, bs)
}

func missingTags(have, want []string) []string {
	var out []string
	for _, t := range want {
		if !slices.Contains(have, t) {
			out = append(out, t)
		}
	}
	return out
}

// ValidationError is one invalid field of a publish request.
type ValidationError struct{ Field, Problem string }

func (e *ValidationError) Error() string { return e.Field + ": " + e.Problem }

// ValidatePublish checks a publish request before anything is written, so
// that a bad visibility does not fail every node one by one.
func ValidatePublish(r datacenter.PublishRequest) error {
	if r.Visibility != "" && !slices.Contains(res.Visibilities, r.Visibility) {
		return &ValidationError{"visibility", fmt.Sprintf("expected one of public, partners, groups, private, got %q", r.Visibility)}
	}
	if r.Visibility == res.Groups && len(r.Groups) == 0 {
		return &ValidationError{"groups", "required when visibility is groups: the groups that may see the computes"}
	}
	if r.Visibility != res.Groups && len(r.Groups) > 0 {
		return &ValidationError{"groups", "only allowed when visibility is groups"}
	}
	return nil
}
