package service_test

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"

	catalogclient "github.com/opencloud/opencloud/services/oc-catalog/client"

	"github.com/opencloud/opencloud/services/oc-datacenter/datacenter"
	"github.com/opencloud/opencloud/services/oc-datacenter/internal/inventory"
)

// The test cluster's kwok nodes (scripts/cluster.sh): node-1 and node-2,
// 8 CPUs, 32 GiB, 110 pods, amd64 linux, zone-<n>.
var kwokNodes = []string{"node-1", "node-2"}

const gib = int64(1) << 30

// Any user sees the cluster's nodes with their labels and capacity.
func TestNodes(t *testing.T) {
	e := withCluster(t, testenv.SQLiteStore(t))
	if r := e.do(http.MethodGet, "/datacenter/readyz", "", ""); r.Status != http.StatusOK ||
		!strings.Contains(string(r.Body), `"kubernetes":"ok"`) {
		t.Errorf("readyz with a cluster: %d %s", r.Status, r.Body)
	}
	list, err := e.as(alice).Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if list.Cluster != clusterName {
		t.Errorf("cluster %q, want %q", list.Cluster, clusterName)
	}
	var names []string
	for _, n := range list.Items {
		names = append(names, n.Name)
	}
	if !slices.Equal(names, kwokNodes) {
		t.Fatalf("nodes %v, want %v", names, kwokNodes)
	}
	for i, n := range list.Items {
		want := datacenter.Resources{CPUMillicores: 8000, MemoryBytes: 32 * gib, Pods: 110}
		if n.Capacity != want || n.Allocatable != want {
			t.Errorf("%s: capacity %+v allocatable %+v, want %+v", n.Name, n.Capacity, n.Allocatable, want)
		}
		if n.Architecture != "amd64" || n.OS != "linux" || !n.Ready || n.Unschedulable {
			t.Errorf("%s: %s/%s ready %v unschedulable %v", n.Name, n.Architecture, n.OS, n.Ready, n.Unschedulable)
		}
		for _, l := range []resource.Label{
			{Key: "kubernetes.io/hostname", Value: n.Name},
			{Key: "node.opencloud.io/name", Value: n.Name},
			{Key: "topology.kubernetes.io/zone", Value: "zone-" + string(rune('1'+i))},
			{Key: "kubernetes.io/arch", Value: "amd64"},
		} {
			if !slices.Contains(n.Labels, l) {
				t.Errorf("%s: no label %s=%s in %v", n.Name, l.Key, l.Value, n.Labels)
			}
		}
		if !slices.IsSortedFunc(n.Labels, func(a, b resource.Label) int { return cmp.Compare(a.Key, b.Key) }) {
			t.Errorf("%s: labels not sorted by key", n.Name)
		}
	}
}

// Publishing makes one compute per node in a real catalog; publishing again
// changes nothing; an inventory field changed in the catalog is put back
// while what the admin edited stays; a published compute whose node is
// gone is reported stale.
func TestPublishInventory(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := withCluster(t, st)
		ctx := context.Background()
		admin := e.as(root)

		res, err := admin.PublishInventory(ctx, datacenter.PublishRequest{Visibility: resource.Public})
		if err != nil {
			t.Fatal(err)
		}
		if res.Created != 2 || res.Updated+res.Unchanged+res.Failed != 0 || len(res.Stale) != 0 || res.Cluster != clusterName {
			t.Fatalf("first publish: %+v", res)
		}
		computes := e.computes()
		if len(computes) != 2 {
			t.Fatalf("%d computes in the catalog, want 2", len(computes))
		}
		for i, r := range computes {
			node := kwokNodes[i]
			if res.Items[i].Node != node || res.Items[i].ResourceID != r.ID {
				t.Errorf("item %d: %+v, resource %s", i, res.Items[i], r.ID)
			}
			want := resource.Compute{ClusterRef: clusterName, Architecture: "amd64", CPUCores: 8, MemoryBytes: 32 * gib,
				NodeSelector: []resource.Label{{Key: "kubernetes.io/hostname", Value: node}, {Key: "node.opencloud.io/name", Value: node}}}
			if r.Compute == nil || !inventory.SameInventory(r.Compute, &want) {
				t.Errorf("compute of %s: %+v, want %+v", node, r.Compute, want)
			}
			if r.Visibility != resource.Public || !slices.Contains(r.Tags, "node-"+node) || !slices.Contains(r.Tags, "cluster-"+clusterName) {
				t.Errorf("compute of %s: visibility %s tags %v", node, r.Visibility, r.Tags)
			}
		}
		// A user of the peer sees them.
		page, err := e.catalog(alice).List(ctx, catalogclient.ListOptions{Kind: resource.KindCompute})
		if err != nil || page.Total != 2 {
			t.Errorf("alice sees %d computes (%v), want 2", page.Total, err)
		}

		again, err := admin.PublishInventory(ctx, datacenter.PublishRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if again.Unchanged != 2 || again.Created+again.Updated+again.Failed != 0 {
			t.Errorf("second publish: %+v", again)
		}
		for i, r := range e.computes() {
			if r.Version != computes[i].Version {
				t.Errorf("compute %s went from version %d to %d on an idle publish", r.ID, computes[i].Version, r.Version)
			}
		}

		// The admin renames node-1's compute and someone changes its CPU.
		first := computes[0]
		in := first.Input()
		in.Name, in.Compute.CPUCores, in.Compute.Location = "Rack A, first node", 64, "Paris, DC2"
		if _, err := e.catalog(root).Update(ctx, first.ID, first.Version, in); err != nil {
			t.Fatal(err)
		}
		// A compute published for a node the cluster no longer has.
		gone, err := e.catalog(root).Create(ctx, resource.Input{Kind: resource.KindCompute, Name: "old node", Visibility: resource.Private,
			Tags:    []string{inventory.InventoryTag, inventory.ClusterTag(clusterName), inventory.NodeTag("node-9")},
			Compute: &resource.Compute{ClusterRef: clusterName, Architecture: "amd64", CPUCores: 4}})
		if err != nil {
			t.Fatal(err)
		}
		third, err := admin.PublishInventory(ctx, datacenter.PublishRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if third.Updated != 1 || third.Unchanged != 1 || third.Items[0].Action != datacenter.Updated || !slices.Equal(third.Stale, []string{gone.ID}) {
			t.Errorf("publish after a change: %+v", third)
		}
		got, err := e.catalog(root).Get(ctx, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Compute.CPUCores != 8 || got.Name != "Rack A, first node" || got.Compute.Location != "Paris, DC2" {
			t.Errorf("after publish: name %q cpu %d location %q; want the admin's name and location, the node's CPU",
				got.Name, got.Compute.CPUCores, got.Compute.Location)
		}
		if n := len(e.computes()); n != 3 {
			t.Errorf("%d computes, want 3 (nothing deleted, nothing duplicated)", n)
		}

		// A user may not publish.
		_, err = e.as(alice).PublishInventory(ctx, datacenter.PublishRequest{})
		if ae := apiErr(t, err); ae.Status != http.StatusForbidden {
			t.Errorf("publish as a user: %v", err)
		}
	})
}

// computes are the compute resources in the catalog, as the admin sees
// them, the published ones first by node name.
func (e *env) computes() []resource.Resource {
	e.t.Helper()
	page, err := e.catalog(root).List(context.Background(), catalogclient.ListOptions{Kind: resource.KindCompute,
		Sort: []string{"created_at"}, Limit: 200})
	if err != nil {
		e.t.Fatal(err)
	}
	// Computes published by one call may share a creation millisecond.
	node := func(r resource.Resource) string {
		for _, t := range r.Tags {
			if strings.HasPrefix(t, "node-") {
				return t
			}
		}
		return ""
	}
	slices.SortStableFunc(page.Items, func(a, b resource.Resource) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(node(a), node(b)))
	})
	return page.Items
}
