// Package render turns an execution (its graph and the snapshot of its
// resources taken at booking) into the Argo Workflow that runs it, and checks
// the result with Argo's own validation before anything is submitted.
//
// The Workflow has one DAG template, "main", with one task per processing
// node; each task runs a container template built from the processing
// (image, command, args, env, requests), placed by the linked compute's node
// labels, with S3 artifacts for its storage links and HTTP artifacts for
// data read over http(s). Names come from libs/execution, which
// oc-datacenter uses too, so the namespace, service accounts and S3 Secrets
// it provisions are the ones the Workflow refers to.
//
// The steps' pods run as the workload's service account, which has no
// rights, with no service account token mounted: the code a processing
// runs cannot reach the Kubernetes API, and so neither the S3 Secrets.
// Argo's executor (the init and wait containers, which fetch and store the
// artifacts) runs as the executor's account, whose token Argo mounts in
// those containers only.
//
// What cannot be rendered is refused with an *Error naming the node or link
// (errors.Is tells ErrNoCompute, ErrMissingResource, ErrCycle and
// ErrInvalid apart), never with a Workflow Argo would reject later.
package render

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/validate"
	corev1 "k8s.io/api/core/v1"
	k8sresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"
)

// Names and values the rendered Workflow uses.
const (
	// Entrypoint is the DAG template every Workflow starts from.
	Entrypoint = "main"
	// ManagedBy is the value of execution.LabelManaged.
	ManagedBy = "opencloud"
	// AnnotationNode, on each step's pod, is the graph node id the step
	// runs: task names are a DNS-safe form of it, this is the original.
	AnnotationNode = "opencloud.io/node"
	// LabelArch is the node label a compute's architecture selects.
	LabelArch = "kubernetes.io/arch"
	// ResourceGPU is the extended resource a processing's GPUs are asked as.
	ResourceGPU = corev1.ResourceName("nvidia.com/gpu")
	// DataDir is where a data node read over http(s) lands, as DataDir/<node id>.
	DataDir = "/oc/data"
	// Environment variables every step gets; a processing's own env does
	// not override them.
	EnvExecutionID = "OC_EXECUTION_ID"
	EnvStep        = "OC_STEP"
	// EnvDataPrefix + the node id in upper case (other characters as '_')
	// holds the location of each data node linked into the step.
	EnvDataPrefix = "OC_DATA_"
	// MinDeadline is the shortest activeDeadlineSeconds a Workflow gets,
	// whatever its booked window.
	MinDeadline = 60 * time.Second
	// DefaultLocalPeer is Options.LocalPeer when empty (tests).
	DefaultLocalPeer = "local"
)

// Admiralty's conventions (multicluster.admiralty.io/v1alpha1, release
// 0.17), for steps whose compute belongs to another peer:
//
//   - A pod annotated AnnotationElect in a namespace labelled
//     multicluster-scheduler=enabled becomes a proxy pod: Admiralty's
//     webhook strips its node selector and schedules it on a virtual node
//     standing for a target cluster, and the original spec (our node
//     selector included) is what the delegate pod in the target cluster is
//     scheduled with. Our nodeSelector therefore keeps selecting the real
//     nodes of the remote compute.
//   - Which target cluster is chosen is constrained with
//     AnnotationProxyPodConstraints: a YAML PodSpec fragment whose
//     nodeSelector applies to the virtual nodes only. Admiralty labels the
//     virtual node of a namespaced Target with LabelTargetNamespace and
//     LabelTargetName (a ClusterTarget's with
//     multicluster.admiralty.io/cluster-target-name instead).
//
// The Target oc-datacenter creates for a remote compute, in the
// execution's namespace, is named TargetName(peer, cluster_ref).
const (
	AnnotationElect               = "multicluster.admiralty.io/elect"
	AnnotationProxyPodConstraints = "multicluster.admiralty.io/proxy-pod-scheduling-constraints"
	LabelTargetNamespace          = "multicluster.admiralty.io/target-namespace"
	LabelTargetName               = "multicluster.admiralty.io/target-name"
)

// TargetName is the name of the Admiralty Target standing for cluster
// clusterRef of peer: hashed, since peer ids and cluster references need
// not be valid Kubernetes names.
func TargetName(peer, clusterRef string) string {
	sum := sha256.Sum256([]byte(peer + "/" + clusterRef))
	return "oc-target-" + hex.EncodeToString(sum[:8])
}

// Sentinel errors; every error of Render is an *Error wrapping one of them.
var (
	// ErrNoCompute: a processing has no compute link.
	ErrNoCompute = errors.New("processing has no compute")
	// ErrMissingResource: a node references a resource absent from the
	// execution's resources snapshot.
	ErrMissingResource = errors.New("resource missing from the execution's snapshot")
	// ErrCycle: dependency links loop.
	ErrCycle = errors.New("dependency links form a cycle")
	// ErrInvalid: anything else that cannot become a valid Workflow.
	ErrInvalid = errors.New("cannot be rendered")
	// ErrRejected: Argo's validation refused a rendered Workflow (Validate).
	ErrRejected = errors.New("argo's validation refused the workflow")
)

// Error says what cannot be rendered, and where.
type Error struct {
	// Node is the id of the graph node concerned, if one is.
	Node string
	// Link is the id of the link concerned, if one is.
	Link string
	// Kind is one of the sentinel errors.
	Kind error
	// Detail says what is wrong and what to change.
	Detail string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("render: ")
	if e.Node != "" {
		fmt.Fprintf(&b, "node %q: ", e.Node)
	}
	if e.Link != "" {
		fmt.Fprintf(&b, "link %q: ", e.Link)
	}
	b.WriteString(e.Detail)
	return b.String()
}

// Unwrap lets errors.Is match the sentinel.
func (e *Error) Unwrap() error { return e.Kind }

func nodeErr(node string, kind error, format string, args ...any) *Error {
	return &Error{Node: node, Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

func linkErr(link string, kind error, format string, args ...any) *Error {
	return &Error{Link: link, Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// Options tune Render.
type Options struct {
	// LocalPeer is this peer's id: computes of other peers are reached
	// through Admiralty, and a Ref with Peer "" means this peer. Default
	// DefaultLocalPeer.
	LocalPeer string
	// ServiceAccount runs the steps' pods, without its token. Default
	// execution.WorkloadServiceAccount.
	ServiceAccount string
	// ExecutorServiceAccount is the account of Argo's executor in each
	// pod, the one that reads the S3 Secrets; it must not be
	// ServiceAccount. Default execution.ExecutorServiceAccount.
	ExecutorServiceAccount string
	// Namespace the Workflow is created in. Default: the execution's
	// Namespace field, else execution.Namespace(id).
	Namespace string
}

func (o Options) withDefaults(e execution.Execution) Options {
	if o.LocalPeer == "" {
		o.LocalPeer = DefaultLocalPeer
	}
	if o.ServiceAccount == "" {
		o.ServiceAccount = execution.WorkloadServiceAccount
	}
	if o.ExecutorServiceAccount == "" {
		o.ExecutorServiceAccount = execution.ExecutorServiceAccount
	}
	if o.Namespace == "" {
		o.Namespace = e.Namespace
	}
	if o.Namespace == "" {
		o.Namespace = execution.Namespace(e.ID)
	}
	return o
}

// Render builds the Argo Workflow of execution e. It does not call Argo's
// validation: Validate does, so that callers (and tests) see both steps.
func Render(e execution.Execution, opts Options) (*wfv1.Workflow, error) {
	opts = opts.withDefaults(e)
	if err := checkIdentity(e, opts); err != nil {
		return nil, err
	}
	g, err := build(e, opts.LocalPeer)
	if err != nil {
		return nil, err
	}
	order, err := g.topological()
	if err != nil {
		return nil, err
	}
	g.name()

	labels := map[string]string{
		execution.LabelExecution: e.ID,
		execution.LabelWorkflow:  e.WorkflowID,
		execution.LabelManaged:   ManagedBy,
	}
	dag := &wfv1.DAGTemplate{Tasks: make([]wfv1.DAGTask, 0, len(order))}
	templates := make([]wfv1.Template, 0, len(order)+1)
	templates = append(templates, wfv1.Template{Name: Entrypoint, DAG: dag})
	for _, s := range order {
		tmpl, err := g.template(s, e.ID, opts)
		if err != nil {
			return nil, err
		}
		templates = append(templates, tmpl)
		task := wfv1.DAGTask{Name: s.task, Template: s.task}
		for _, d := range s.deps {
			task.Dependencies = append(task.Dependencies, g.steps[d].task)
		}
		slices.Sort(task.Dependencies)
		dag.Tasks = append(dag.Tasks, task)
	}

	deadline := max(e.End.Sub(e.Start), MinDeadline)
	secs := int64(deadline / time.Second)
	if deadline%time.Second != 0 {
		secs++ // rounded up, without overflowing on a saturated window
	}
	noToken := false
	return &wfv1.Workflow{
		TypeMeta: metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      execution.WorkflowName(e.ID),
			Namespace: opts.Namespace,
			Labels:    labels,
		},
		Spec: wfv1.WorkflowSpec{
			Entrypoint: Entrypoint,
			// Set for the whole Workflow, and by no template: every
			// step's pod runs as the workload, without a token, and only
			// Argo's executor containers get the executor's.
			ServiceAccountName:           opts.ServiceAccount,
			AutomountServiceAccountToken: &noToken,
			Executor:                     &wfv1.ExecutorConfig{ServiceAccountName: opts.ExecutorServiceAccount},
			ActiveDeadlineSeconds:        &secs,
			// Pods carry the execution's labels too, as every object made for it.
			PodMetadata: &wfv1.Metadata{Labels: copyMap(labels)},
			Templates:   templates,
		},
	}, nil
}

var validateMu sync.Mutex

// Validate runs Argo's own validation (as the controller and the CLI do
// before submitting) on a rendered Workflow.
func Validate(w *wfv1.Workflow) error {
	if w == nil {
		return fmt.Errorf("%w: no workflow", ErrRejected)
	}
	// Argo's validation numbers its placeholders with a package-level
	// counter it does not guard: workers running in one process (the
	// in-process launcher) must take turns.
	validateMu.Lock()
	defer validateMu.Unlock()
	// No WorkflowTemplate or ClusterWorkflowTemplate is referenced, so no
	// getter is needed to resolve one.
	if err := validate.ValidateWorkflow(nil, nil, w, validate.ValidateOpts{Submit: true}); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrRejected, w.Name, err)
	}
	return nil
}

// YAML is a rendered Workflow as a person reads it: without the empty
// status and creation time a Workflow not yet submitted has.
func YAML(w *wfv1.Workflow) ([]byte, error) {
	raw, err := yaml.Marshal(w)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	delete(doc, "status")
	if md, ok := doc["metadata"].(map[string]any); ok && md["creationTimestamp"] == nil {
		delete(md, "creationTimestamp")
	}
	return yaml.Marshal(doc)
}

// checkIdentity refuses ids that would not make valid Kubernetes names or
// label values: the Workflow's name, namespace and labels derive from them.
func checkIdentity(e execution.Execution, opts Options) error {
	bad := func(format string, args ...any) error {
		return &Error{Kind: ErrInvalid, Detail: fmt.Sprintf(format, args...)}
	}
	name := execution.WorkflowName(e.ID)
	if e.ID == "" {
		return bad("the execution has no id")
	}
	if errs := k8svalidation.IsDNS1123Label(name); len(errs) > 0 {
		return bad("execution id %q does not make a valid Workflow name %q: %s", e.ID, name, strings.Join(errs, "; "))
	}
	if errs := k8svalidation.IsDNS1123Label(opts.Namespace); len(errs) > 0 {
		return bad("namespace %q is not a valid Kubernetes namespace: %s", opts.Namespace, strings.Join(errs, "; "))
	}
	if errs := k8svalidation.IsValidLabelValue(e.ID); len(errs) > 0 {
		return bad("execution id %q is not a valid label value: %s", e.ID, strings.Join(errs, "; "))
	}
	if errs := k8svalidation.IsValidLabelValue(e.WorkflowID); len(errs) > 0 {
		return bad("workflow id %q is not a valid label value: %s", e.WorkflowID, strings.Join(errs, "; "))
	}
	for _, sa := range []string{opts.ServiceAccount, opts.ExecutorServiceAccount} {
		if errs := k8svalidation.IsDNS1123Subdomain(sa); len(errs) > 0 {
			return bad("service account %q is not a valid name: %s", sa, strings.Join(errs, "; "))
		}
	}
	if opts.ServiceAccount == opts.ExecutorServiceAccount {
		return bad("the steps cannot run as %s, the executor's service account: it may read the storage credentials", opts.ServiceAccount)
	}
	return nil
}

// node is a graph node with the resource it references.
type node struct {
	wf.Node
	ref resource.Ref // Peer normalised to the local peer when empty
	res resource.Resource
}

// step is one processing and everything linked to it.
type step struct {
	*node
	task     string   // task and template name
	compute  *node    // the linked compute
	deps     []string // node ids of the processings it waits for
	data     []*node  // data nodes read, in link order
	reads    []s3Link
	writes   []s3Link
	envNames map[string]string // data node id → env var name
}

type s3Link struct {
	link    wf.Link
	storage *node
}

type graph struct {
	nodes map[string]*node
	steps map[string]*step
	order []string // processing node ids, in graph order
	// dataPaths maps a data node id to its artifact path under DataDir.
	dataPaths map[string]string
	// constraints are the Admiralty constraints of each target, encoded once.
	constraints map[string]string
}

var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// build indexes the graph, matches every node with its resource and every
// link with its nodes, refusing what the design-time validation should
// have refused (the snapshot may predate a rule, or be damaged).
func build(e execution.Execution, local string) (*graph, error) {
	norm := func(r resource.Ref) resource.Ref {
		if r.Peer == "" {
			r.Peer = local
		}
		return r
	}
	snapshot := make(map[resource.Ref]resource.Resource, len(e.Resources))
	for _, r := range e.Resources {
		snapshot[norm(resource.Ref{Peer: r.PeerID, ID: r.ID})] = r
	}
	g := &graph{nodes: map[string]*node{}, steps: map[string]*step{}, dataPaths: map[string]string{}, constraints: map[string]string{}}
	for _, n := range e.Graph.Nodes {
		if !nodeIDPattern.MatchString(n.ID) {
			return nil, nodeErr(n.ID, ErrInvalid, "a node id must be 1 to 64 characters of A-Z a-z 0-9 _ . -")
		}
		if _, dup := g.nodes[n.ID]; dup {
			return nil, nodeErr(n.ID, ErrInvalid, "two nodes have this id")
		}
		ref := norm(n.Resource)
		res, ok := snapshot[ref]
		if !ok {
			return nil, nodeErr(n.ID, ErrMissingResource, "resource %s is not in the execution's resources snapshot: book the workflow again", ref)
		}
		if err := checkKind(n, res); err != nil {
			return nil, err
		}
		nd := &node{Node: n, ref: ref, res: res}
		g.nodes[n.ID] = nd
		if n.Kind == resource.KindProcessing {
			g.steps[n.ID] = &step{node: nd, envNames: map[string]string{}}
			g.order = append(g.order, n.ID)
		}
	}
	if len(g.order) == 0 {
		return nil, &Error{Kind: ErrInvalid, Detail: "the graph has no processing node: there is nothing to run"}
	}
	type edge struct {
		kind     wf.LinkKind
		from, to string
	}
	seen := map[edge]bool{}
	for _, l := range e.Graph.Links {
		from, to := g.nodes[l.From], g.nodes[l.To]
		if from == nil || to == nil {
			return nil, linkErr(l.ID, ErrInvalid, "link joins %q and %q, which are not both nodes of the graph", l.From, l.To)
		}
		want, ok := linkEnds[l.Kind]
		if !ok {
			return nil, linkErr(l.ID, ErrInvalid, "unknown link kind %q", l.Kind)
		}
		if from.Kind != want[0] || to.Kind != want[1] {
			return nil, linkErr(l.ID, ErrInvalid, "a %s link goes from a %s node to a %s node, not from %s %q to %s %q",
				l.Kind, want[0], want[1], from.Kind, from.ID, to.Kind, to.ID)
		}
		key := edge{l.Kind, l.From, l.To}
		repeated := seen[key]
		seen[key] = true
		switch l.Kind {
		case wf.LinkCompute:
			s := g.steps[from.ID]
			if s.compute != nil && s.compute.ID != to.ID {
				return nil, nodeErr(from.ID, ErrInvalid, "processing has several compute links (to %q and %q): keep one", s.compute.ID, to.ID)
			}
			s.compute = to
		case wf.LinkDependency:
			if from.ID == to.ID {
				return nil, &Error{Node: from.ID, Link: l.ID, Kind: ErrCycle, Detail: "processing depends on itself"}
			}
			if !repeated {
				g.steps[to.ID].deps = append(g.steps[to.ID].deps, from.ID)
			}
		case wf.LinkData:
			if !repeated {
				g.steps[to.ID].data = append(g.steps[to.ID].data, from)
			}
		case wf.LinkStorageRead:
			if l.Source == "" || l.Destination == "" {
				return nil, linkErr(l.ID, ErrInvalid, "a storage_read link needs a source (the key read) and a destination (the path in the container)")
			}
			g.steps[to.ID].reads = append(g.steps[to.ID].reads, s3Link{link: l, storage: from})
		case wf.LinkStorageWrite:
			if l.Source == "" || l.Destination == "" {
				return nil, linkErr(l.ID, ErrInvalid, "a storage_write link needs a source (the path in the container) and a destination (the key written)")
			}
			g.steps[from.ID].writes = append(g.steps[from.ID].writes, s3Link{link: l, storage: to})
		}
	}
	for _, id := range g.order {
		if g.steps[id].compute == nil {
			return nil, nodeErr(id, ErrNoCompute, "processing has no compute: add one compute link from it to a compute node")
		}
	}
	return g, nil
}

// linkEnds are the node kinds each link kind joins, from and to.
var linkEnds = map[wf.LinkKind][2]resource.Kind{
	wf.LinkData:         {resource.KindData, resource.KindProcessing},
	wf.LinkDependency:   {resource.KindProcessing, resource.KindProcessing},
	wf.LinkStorageRead:  {resource.KindStorage, resource.KindProcessing},
	wf.LinkStorageWrite: {resource.KindProcessing, resource.KindStorage},
	wf.LinkCompute:      {resource.KindProcessing, resource.KindCompute},
}

func checkKind(n wf.Node, r resource.Resource) error {
	var has bool
	switch n.Kind {
	case resource.KindData:
		has = r.Data != nil
	case resource.KindProcessing:
		has = r.Processing != nil
	case resource.KindStorage:
		has = r.Storage != nil
	case resource.KindCompute:
		has = r.Compute != nil
	default:
		return nodeErr(n.ID, ErrInvalid, "a node of kind %q cannot run (expected data, processing, storage or compute)", n.Kind)
	}
	if r.Kind != n.Kind || !has {
		return nodeErr(n.ID, ErrInvalid, "the node is a %s but resource %s/%s is a %s", n.Kind, r.PeerID, r.ID, r.Kind)
	}
	return nil
}

// topological orders the processings so that each comes after those it
// depends on, ties in graph order; a loop is ErrCycle naming a node on it.
func (g *graph) topological() ([]*step, error) {
	waiting := make(map[string]int, len(g.order))
	next := make(map[string][]string, len(g.order))
	for _, id := range g.order {
		waiting[id] = len(g.steps[id].deps)
		for _, d := range g.steps[id].deps {
			next[d] = append(next[d], id)
		}
	}
	pos := make(map[string]int, len(g.order))
	for i, id := range g.order {
		pos[id] = i
	}
	var ready []string
	for _, id := range g.order {
		if waiting[id] == 0 {
			ready = append(ready, id)
		}
	}
	out := make([]*step, 0, len(g.order))
	for len(ready) > 0 {
		id := ready[0]
		ready = ready[1:]
		out = append(out, g.steps[id])
		var freed []string
		for _, n := range next[id] {
			waiting[n]--
			if waiting[n] == 0 {
				freed = append(freed, n)
			}
		}
		ready = append(ready, freed...)
		slices.SortFunc(ready, func(a, b string) int { return pos[a] - pos[b] })
	}
	if len(out) == len(g.order) {
		return out, nil
	}
	// Every processing left waits for another one left: walking back from
	// any of them must come round to a node on a loop.
	var start string
	for _, id := range g.order {
		if waiting[id] > 0 {
			start = id
			break
		}
	}
	visited := map[string]int{}
	var path []string
	for cur := start; ; {
		if i, ok := visited[cur]; ok {
			loop := append(path[i:], cur)
			slices.Reverse(loop)
			return nil, &Error{Node: cur, Kind: ErrCycle,
				Detail: fmt.Sprintf("dependency links loop through %s: remove one of them", strings.Join(loop, " → "))}
		}
		visited[cur] = len(path)
		path = append(path, cur)
		for _, d := range g.steps[cur].deps {
			if waiting[d] > 0 {
				cur = d
				break
			}
		}
	}
}

// name gives every step a task name, every data node read over http(s) a
// path, and every data link an environment variable, all unique.
func (g *graph) name() {
	taken := names{Entrypoint: true}
	for _, id := range g.order {
		base := slug(id, 40)
		if base == "" {
			base = "step"
		}
		if base[0] >= '0' && base[0] <= '9' {
			// Argo refuses task names starting with a digit in a DAG with dependencies.
			base = "s-" + base
		}
		g.steps[id].task = taken.take(base, 50, "-")
	}
	for _, id := range g.order {
		s := g.steps[id]
		envTaken := names{EnvExecutionID: true, EnvStep: true}
		for _, d := range s.data {
			s.envNames[d.ID] = envTaken.take(EnvDataPrefix+envName(d.ID), 120, "_")
			if _, done := g.dataPaths[d.ID]; !done {
				name := d.ID
				if name == "." || name == ".." {
					name = "_" + name
				}
				g.dataPaths[d.ID] = DataDir + "/" + name
			}
		}
	}
}

// template builds the container template of step s.
func (g *graph) template(s *step, executionID string, opts Options) (wfv1.Template, error) {
	p := s.res.Processing
	if strings.TrimSpace(p.Image) == "" {
		return wfv1.Template{}, nodeErr(s.ID, ErrInvalid, "processing %s has no image", s.ref)
	}
	for _, f := range []struct {
		field string
		vals  []string
	}{{"image", []string{p.Image}}, {"command", p.Command}, {"args", p.Args}} {
		for _, v := range f.vals {
			if err := noExpression(s.ID, f.field, v); err != nil {
				return wfv1.Template{}, err
			}
		}
	}
	env, err := g.env(s, executionID)
	if err != nil {
		return wfv1.Template{}, err
	}
	res, err := requirements(s.ID, p.Requests)
	if err != nil {
		return wfv1.Template{}, err
	}
	selector, meta, err := g.placement(s, opts)
	if err != nil {
		return wfv1.Template{}, err
	}
	inputs, outputs, err := g.artifacts(s)
	if err != nil {
		return wfv1.Template{}, err
	}
	return wfv1.Template{
		Name:         s.task,
		Metadata:     meta,
		NodeSelector: selector,
		Inputs:       inputs,
		Outputs:      outputs,
		Container: &corev1.Container{
			Name:      "main",
			Image:     p.Image,
			Command:   slices.Clone(p.Command),
			Args:      slices.Clone(p.Args),
			Env:       env,
			Resources: res,
		},
	}, nil
}

// env is the processing's environment with the step's own variables,
// sorted by name; the step's own win over the processing's.
func (g *graph) env(s *step, executionID string) ([]corev1.EnvVar, error) {
	vals := make(map[string]string, len(s.res.Processing.Env)+2+len(s.data))
	for k, v := range s.res.Processing.Env {
		if errs := k8svalidation.IsEnvVarName(k); len(errs) > 0 {
			return nil, nodeErr(s.ID, ErrInvalid, "env name %q is invalid: %s", k, strings.Join(errs, "; "))
		}
		if err := noExpression(s.ID, "env "+k, v); err != nil {
			return nil, err
		}
		vals[k] = v
	}
	vals[EnvExecutionID] = executionID
	vals[EnvStep] = s.ID
	for _, d := range s.data {
		loc := d.res.Data.Location
		if err := noExpression(d.ID, "location", loc); err != nil {
			return nil, err
		}
		vals[s.envNames[d.ID]] = loc
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]corev1.EnvVar, len(keys))
	for i, k := range keys {
		out[i] = corev1.EnvVar{Name: k, Value: vals[k]}
	}
	return out, nil
}

func requirements(nodeID string, r resource.Requests) (corev1.ResourceRequirements, error) {
	if r.CPUMillicores < 0 || r.MemoryBytes < 0 || r.GPUs < 0 {
		return corev1.ResourceRequirements{}, nodeErr(nodeID, ErrInvalid, "requests must not be negative (cpu %dm, memory %d bytes, %d GPUs)", r.CPUMillicores, r.MemoryBytes, r.GPUs)
	}
	var out corev1.ResourceRequirements
	if r.CPUMillicores > 0 || r.MemoryBytes > 0 {
		out.Requests = corev1.ResourceList{}
	}
	if r.CPUMillicores > 0 {
		out.Requests[corev1.ResourceCPU] = *k8sresource.NewMilliQuantity(r.CPUMillicores, k8sresource.DecimalSI)
	}
	if r.MemoryBytes > 0 {
		out.Requests[corev1.ResourceMemory] = *k8sresource.NewQuantity(r.MemoryBytes, k8sresource.BinarySI)
	}
	if r.GPUs > 0 {
		// Extended resources are asked as limits; Kubernetes sets the
		// request equal, as it must be for them.
		out.Limits = corev1.ResourceList{ResourceGPU: *k8sresource.NewQuantity(r.GPUs, k8sresource.DecimalSI)}
	}
	return out, nil
}

// placement is the node selector and pod metadata putting step s on its
// compute: the compute's node labels and architecture, and for another
// peer's compute, Admiralty's election of the target cluster.
func (g *graph) placement(s *step, opts Options) (map[string]string, wfv1.Metadata, error) {
	c := s.compute
	sel := map[string]string{}
	for _, l := range c.res.Compute.NodeSelector {
		if errs := k8svalidation.IsQualifiedName(l.Key); len(errs) > 0 {
			return nil, wfv1.Metadata{}, nodeErr(c.ID, ErrInvalid, "node label key %q is invalid: %s", l.Key, strings.Join(errs, "; "))
		}
		if errs := k8svalidation.IsValidLabelValue(l.Value); len(errs) > 0 {
			return nil, wfv1.Metadata{}, nodeErr(c.ID, ErrInvalid, "node label %s=%q has an invalid value: %s", l.Key, l.Value, strings.Join(errs, "; "))
		}
		if prev, ok := sel[l.Key]; ok && prev != l.Value {
			return nil, wfv1.Metadata{}, nodeErr(c.ID, ErrInvalid, "node label %s is given twice (%q and %q): keep one", l.Key, prev, l.Value)
		}
		sel[l.Key] = l.Value
	}
	if arch := string(c.res.Compute.Architecture); arch != "" {
		if errs := k8svalidation.IsValidLabelValue(arch); len(errs) > 0 {
			return nil, wfv1.Metadata{}, nodeErr(c.ID, ErrInvalid, "architecture %q is invalid: %s", arch, strings.Join(errs, "; "))
		}
		if prev, ok := sel[LabelArch]; ok && prev != arch {
			return nil, wfv1.Metadata{}, nodeErr(c.ID, ErrInvalid, "the node labels select %s=%s but the compute's architecture is %s", LabelArch, prev, arch)
		}
		sel[LabelArch] = arch
	}
	if len(sel) == 0 {
		sel = nil
	}
	meta := wfv1.Metadata{Annotations: map[string]string{}}
	for _, a := range s.res.Processing.Annotations {
		meta.Annotations[a.Key] = a.Value
	}
	// OpenCloud's own come last: a processing cannot override them.
	meta.Annotations[AnnotationNode] = s.ID
	if c.ref.Peer != opts.LocalPeer {
		target := TargetName(c.ref.Peer, c.res.Compute.ClusterRef)
		constraints, ok := g.constraints[target]
		if !ok {
			raw, err := yaml.Marshal(proxyConstraints{NodeSelector: map[string]string{
				LabelTargetNamespace: opts.Namespace,
				LabelTargetName:      target,
			}})
			if err != nil {
				return nil, wfv1.Metadata{}, nodeErr(c.ID, ErrInvalid, "encode Admiralty constraints: %v", err)
			}
			constraints = string(raw)
			g.constraints[target] = constraints
		}
		meta.Annotations[AnnotationElect] = ""
		meta.Annotations[AnnotationProxyPodConstraints] = constraints
	}
	return sel, meta, nil
}

// proxyConstraints is the part of a PodSpec Admiralty reads from
// AnnotationProxyPodConstraints.
type proxyConstraints struct {
	NodeSelector map[string]string `json:"nodeSelector"`
}

// artifacts are step s's S3 inputs and outputs and its HTTP data inputs.
func (g *graph) artifacts(s *step) (wfv1.Inputs, wfv1.Outputs, error) {
	var in wfv1.Inputs
	var out wfv1.Outputs
	inNames, outNames := names{}, names{}
	var landed []string // what lands at each input's path, in in.Artifacts' order
	addInput := func(a wfv1.Artifact, what, link string) error {
		// Each input is mounted at its path: one inside another would be
		// hidden or not, depending on the order of the mounts.
		for i, prev := range in.Artifacts {
			switch {
			case prev.Path == a.Path:
				return &Error{Node: s.ID, Link: link, Kind: ErrInvalid,
					Detail: fmt.Sprintf("%s and %s both land at %s: give them different paths", landed[i], what, a.Path)}
			case wf.Within(prev.Path, a.Path) || wf.Within(a.Path, prev.Path):
				return &Error{Node: s.ID, Link: link, Kind: ErrInvalid,
					Detail: fmt.Sprintf("%s lands at %s and %s at %s, one inside the other: give them separate paths", landed[i], prev.Path, what, a.Path)}
			}
		}
		landed = append(landed, what)
		in.Artifacts = append(in.Artifacts, a)
		return nil
	}
	for _, r := range s.reads {
		if err := storagePaths(s.ID, r.link, r.link.Destination, r.link.Source); err != nil {
			return in, out, err
		}
		t := wf.ReadTransfer(r.link.Source, r.link.Destination)
		loc, err := s3Location(r.storage, t.Key)
		if err != nil {
			return in, out, err
		}
		name := inNames.take("read-"+orDefault(slug(r.link.ID, 40), "link"), 50, "-")
		// Fetched as stored: without "none", Argo would unpack an object
		// that happens to be a gzipped tarball into a directory.
		a := wfv1.Artifact{Name: name, Path: t.Path, ArtifactLocation: loc, Archive: noArchive()}
		if err := addInput(a, fmt.Sprintf("storage_read link %q", r.link.ID), r.link.ID); err != nil {
			return in, out, err
		}
	}
	for _, d := range s.data {
		u, err := url.Parse(d.res.Data.Location)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			continue // not fetched over http(s): the step reads its location from the environment
		}
		name := inNames.take("data-"+orDefault(slug(d.ID, 40), "node"), 50, "-")
		a := wfv1.Artifact{Name: name, Path: g.dataPaths[d.ID],
			ArtifactLocation: wfv1.ArtifactLocation{HTTP: &wfv1.HTTPArtifact{URL: d.res.Data.Location}}}
		if err := addInput(a, fmt.Sprintf("data %q", d.ID), ""); err != nil {
			return in, out, err
		}
	}
	for _, w := range s.writes {
		if err := storagePaths(s.ID, w.link, w.link.Source, w.link.Destination); err != nil {
			return in, out, err
		}
		t, mismatch := wf.WriteTransfer(w.link.Source, w.link.Destination)
		if mismatch != "" {
			return in, out, &Error{Node: s.ID, Link: w.link.ID, Kind: ErrInvalid, Detail: mismatch}
		}
		loc, err := s3Location(w.storage, t.Key)
		if err != nil {
			return in, out, err
		}
		name := outNames.take("write-"+orDefault(slug(w.link.ID, 40), "link"), 50, "-")
		// Stored as the files themselves, not as Argo's default tarball, so
		// that the key holds what the container wrote; a directory becomes
		// one object per file under the key, which Argo joins with "/".
		out.Artifacts = append(out.Artifacts, wfv1.Artifact{Name: name, Path: t.Path, ArtifactLocation: loc, Archive: noArchive()})
	}
	return in, out, nil
}

// storagePaths checks a storage link's path in the step's container and
// its path in the bucket (libs/workflow's rules).
func storagePaths(nodeID string, l wf.Link, container, bucket string) error {
	cField, bField := "destination", "source"
	if l.Kind == wf.LinkStorageWrite {
		cField, bField = bField, cField
	}
	if why := wf.ContainerPathProblem(container); why != "" {
		return &Error{Node: nodeID, Link: l.ID, Kind: ErrInvalid, Detail: fmt.Sprintf("%s %q %s", cField, container, why)}
	}
	if why := wf.BucketPathProblem(bucket); why != "" {
		return &Error{Node: nodeID, Link: l.ID, Kind: ErrInvalid, Detail: fmt.Sprintf("%s %q %s", bField, bucket, why)}
	}
	return nil
}

func noArchive() *wfv1.ArchiveStrategy { return &wfv1.ArchiveStrategy{None: &wfv1.NoneStrategy{}} }

// s3Location is where key lives in storage st, with the credentials
// oc-datacenter provides for it in the execution's namespace.
func s3Location(st *node, key string) (wfv1.ArtifactLocation, error) {
	s := st.res.Storage
	if err := noExpression(st.ID, "key", key); err != nil {
		return wfv1.ArtifactLocation{}, err
	}
	u, err := url.Parse(s.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return wfv1.ArtifactLocation{}, nodeErr(st.ID, ErrInvalid, "endpoint %q is not an http(s) URL", s.Endpoint)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return wfv1.ArtifactLocation{}, nodeErr(st.ID, ErrInvalid, "endpoint %q has a path, query or user: give only scheme, host and port", s.Endpoint)
	}
	if s.Bucket == "" {
		return wfv1.ArtifactLocation{}, nodeErr(st.ID, ErrInvalid, "storage has no bucket")
	}
	for field, v := range map[string]string{"endpoint": s.Endpoint, "bucket": s.Bucket, "region": s.Region} {
		if err := noExpression(st.ID, field, v); err != nil {
			return wfv1.ArtifactLocation{}, err
		}
	}
	insecure := u.Scheme == "http"
	secret := execution.S3SecretName(st.ref)
	return wfv1.ArtifactLocation{S3: &wfv1.S3Artifact{
		Key: key,
		S3Bucket: wfv1.S3Bucket{
			Endpoint: u.Host,
			Bucket:   s.Bucket,
			Region:   s.Region,
			Insecure: &insecure,
			AccessKeySecret: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: execution.S3AccessKey},
			SecretKeySecret: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: execution.S3SecretKey},
		},
	}}, nil
}

// noExpression refuses "{{" in what goes into a template: Argo would read
// it as one of its expressions, substitute it or fail.
func noExpression(nodeID, field, v string) error {
	if strings.Contains(v, "{{") {
		return nodeErr(nodeID, ErrInvalid, "%s %q contains \"{{\", which Argo reads as one of its expressions", field, v)
	}
	return nil
}

// slug is s in lower case with every run of other characters than a-z 0-9
// as one '-', trimmed, at most max bytes.
func slug(s string, max int) string {
	b := make([]byte, 0, len(s))
	dash := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b = append(b, c)
			dash = false
		} else if !dash && len(b) > 0 {
			b = append(b, '-')
			dash = true
		}
	}
	if len(b) > max {
		b = b[:max]
	}
	return strings.TrimRight(string(b), "-")
}

// envName is s in upper case with other characters than A-Z 0-9 as '_'.
func envName(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - ('a' - 'A')
		case (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'):
		default:
			b[i] = '_'
		}
	}
	return string(b)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// names hands out unique names: a taken base gets sep2, sep3, ...
type names map[string]bool

func (n names) take(base string, max int, sep string) string {
	if len(base) > max {
		base = base[:max]
	}
	if !n[base] {
		n[base] = true
		return base
	}
	for i := 2; ; i++ {
		suffix := sep + strconv.Itoa(i)
		b := base
		if len(b)+len(suffix) > max {
			b = strings.TrimRight(b[:max-len(suffix)], sep)
		}
		if c := b + suffix; !n[c] {
			n[c] = true
			return c
		}
	}
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
