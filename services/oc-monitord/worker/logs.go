package worker

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/execution"
)

// Argo's names (workflow/common, v3.6), not imported to keep the
// controller's packages out of the worker.
const (
	argoLabelWorkflow  = "workflows.argoproj.io/workflow"
	argoAnnotationNode = "workflows.argoproj.io/node-id"
	// mainContainer is the container Argo runs a template's container as.
	mainContainer = "main"
	// maxLogBytes bounds what one step's log sends on NATS.
	maxLogBytes = 1 << 20
	maxLogLine  = 64 << 10
)

// shipLogs publishes the log of the pod that ran step (Argo node
// argoNode) as LogLines, in the background: a slow or absent log (kwok's
// fake nodes have none) never holds the following of the execution up.
// Follow waits for what it started before it returns.
func (r *run) shipLogs(step, argoNode string) {
	if r.d.Publisher == nil {
		return
	}
	owner, workflowID := r.e.Owner, r.e.WorkflowID
	r.logs.Go(func() {
		// Not the run's context: a step's log is still worth sending when
		// the execution has just ended.
		ctx, cancel := context.WithTimeout(context.Background(), r.d.LogTimeout)
		defer cancel()
		n, err := r.sendLog(ctx, step, argoNode, owner)
		if err != nil {
			r.log.Debug("no log for the step", "step", step, "workflow", workflowID, "err", err)
			return
		}
		r.log.Debug("step log published", "step", step, "lines", n)
	})
}

func (r *run) sendLog(ctx context.Context, step, argoNode, owner string) (int, error) {
	pods, err := r.kube.CoreV1().Pods(r.ns).List(ctx, metav1.ListOptions{LabelSelector: argoLabelWorkflow + "=" + r.name})
	if err != nil {
		return 0, fmt.Errorf("list pods: %w", err)
	}
	pod := ""
	for _, p := range pods.Items {
		if p.Annotations[argoAnnotationNode] == argoNode {
			pod = p.Name
			break
		}
	}
	if pod == "" {
		return 0, fmt.Errorf("no pod of Argo node %s", argoNode)
	}
	limit := int64(maxLogBytes)
	rc, err := r.kube.CoreV1().Pods(r.ns).GetLogs(pod, &corev1.PodLogOptions{
		Container: mainContainer, Timestamps: true, LimitBytes: &limit}).Stream(ctx)
	if err != nil {
		return 0, fmt.Errorf("pod %s: %w", pod, err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 0, 4096), maxLogLine)
	n := 0
	for sc.Scan() {
		at, line := splitTimestamp(sc.Text(), r.now())
		if err := r.d.Publisher.Publish(ctx, event.ExecutionLog(r.id), r.id, owner,
			execution.LogLine{ExecutionID: r.id, Step: step, At: at, Line: line}); err != nil {
			return n, err
		}
		n++
	}
	return n, sc.Err()
}

// splitTimestamp splits the RFC 3339 time the kubelet puts before each
// line (Timestamps: true) from the line; def when there is none.
func splitTimestamp(s string, def time.Time) (time.Time, string) {
	ts, rest, ok := strings.Cut(s, " ")
	if !ok {
		ts, rest = s, ""
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return def, s
	}
	return t.UTC().Truncate(time.Millisecond), rest
}
