package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/testenv"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
)

// Kubelet timestamps of the lines below: a and b..c share a second, b and
// c the same instant.
const (
	tsA = "2026-11-21T14:31:02.100000000Z"
	tsB = "2026-11-21T14:31:02.500000000Z"
	tsD = "2026-11-21T14:31:03.000000001Z"
	tsE = "2026-11-21T14:31:04Z"
)

var allLines = tsA + " a\n" + tsB + " b\n" + tsB + " c\n" + tsD + " d\n" + tsE + " e\n"

// scriptedPod plays a pod: its main container starts on the second look
// (the first with startedAt 0), and ends after the streams given have all
// been opened; stream n returns streams[n], and records the time it was
// asked from.
type scriptedPod struct {
	mu        sync.Mutex
	startedAt int
	looks     int
	opened    int
	streams   []func() io.ReadCloser
	sinces    []time.Time
}

func (s *scriptedPod) pod(_ context.Context, argoNode string) (podState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.looks++
	if argoNode != "n1" {
		return podState{gone: true}, nil
	}
	return podState{name: "pod-1", started: s.looks > s.startedAt, ended: s.opened >= len(s.streams)}, nil
}

func (s *scriptedPod) stream(_ context.Context, pod string, since time.Time) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pod != "pod-1" || s.looks <= s.startedAt {
		return nil, fmt.Errorf("stream of %s opened before its container started", pod)
	}
	s.sinces = append(s.sinces, since)
	if s.opened >= len(s.streams) {
		return io.NopCloser(strings.NewReader("")), nil
	}
	s.opened++
	return s.streams[s.opened-1](), nil
}

// broken is a stream that fails after text.
func broken(text string) func() io.ReadCloser {
	return func() io.ReadCloser {
		return io.NopCloser(io.MultiReader(strings.NewReader(text), failing{}))
	}
}

func whole(text string) func() io.ReadCloser {
	return func() io.ReadCloser { return io.NopCloser(strings.NewReader(text)) }
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

func follow(t *testing.T, src *scriptedPod, mark executions.LogMark) ([]execution.LogLine, executions.LogMark) {
	t.Helper()
	src.startedAt = 1
	var got []execution.LogLine
	var last executions.LogMark
	f := &stepLog{executionID: "e1", step: "ndvi", argoNode: "n1", src: src, mark: mark, poll: time.Millisecond,
		ending: make(chan struct{}), now: time.Now, log: slog.New(slog.DiscardHandler),
		emit: func(l execution.LogLine, m executions.LogMark) {
			if l.Seq > 0 {
				got = append(got, l)
			}
			last = m
		}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.run(ctx); err != nil {
		t.Fatalf("run: %v", err)
	}
	return got, last
}

func texts(ls []execution.LogLine) string {
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "%d:%s ", l.Seq, l.Line)
	}
	return b.String()
}

// TestStepLogAcrossBreaks: a stream breaks in the middle of a line; the
// log is read again from the last line's second, and every line comes
// once, in order, numbered 1 to 5; then the container has ended and the
// log is complete.
func TestStepLogAcrossBreaks(t *testing.T) {
	src := &scriptedPod{streams: []func() io.ReadCloser{
		broken(tsA + " a\n" + tsB + " b\n" + tsB + " c\n" + tsD + " d-cut sh"),
		whole(allLines), // from the second of b: a again, then all
	}}
	got, last := follow(t, src, executions.LogMark{})
	if want := "1:a 2:b 3:c 4:d 5:e "; texts(got) != want {
		t.Errorf("lines %q, want %q", texts(got), want)
	}
	if !last.Complete || last.LastSeq != 5 || last.Time != tsE || last.AtTime != 1 {
		t.Errorf("last mark %+v", last)
	}
	b, _ := time.Parse(time.RFC3339Nano, tsB)
	if len(src.sinces) < 2 || !src.sinces[0].IsZero() || !src.sinces[1].Equal(b) {
		t.Errorf("streams asked from %v, want the start then %v", src.sinces, b)
	}
	if at := got[0].At; !at.Equal(time.Date(2026, 11, 21, 14, 31, 2, 100e6, time.UTC)) {
		t.Errorf("line a at %v", at)
	}
}

// TestStepLogResumes: a worker taking over resumes from the mark kept in
// the store (c was the last line kept): no line is published twice.
func TestStepLogResumes(t *testing.T) {
	src := &scriptedPod{streams: []func() io.ReadCloser{whole(allLines)}}
	got, _ := follow(t, src, executions.LogMark{Time: tsB, AtTime: 2, LastSeq: 3})
	if want := "4:d 5:e "; texts(got) != want {
		t.Errorf("lines %q, want %q", texts(got), want)
	}
	if done, _ := follow(t, &scriptedPod{}, executions.LogMark{LastSeq: 5, Complete: true}); len(done) != 0 {
		t.Errorf("a complete log read again: %q", texts(done))
	}
}

// TestLongLine: a line longer than execution.MaxLogLine is cut, the next
// one is whole.
func TestLongLine(t *testing.T) {
	long := strings.Repeat("x", 3*execution.MaxLogLine)
	src := &scriptedPod{streams: []func() io.ReadCloser{whole(tsA + " " + long + "\n" + tsB + " next\n")}}
	got, _ := follow(t, src, executions.LogMark{})
	if len(got) != 2 || len(got[0].Line) != execution.MaxLogLine || got[1].Line != "next" {
		t.Fatalf("%d lines, first of %d bytes", len(got), len(got[0].Line))
	}
}

// TestDrainKeepsTheLastLines: the lines of a step that is still writing
// when its execution ends are all published and kept before drain
// returns (what the worker waits for before it writes the end); a log
// that never ends holds the end up for the timeout only.
func TestDrainKeepsTheLastLines(t *testing.T) {
	ctx := context.Background()
	nc := testenv.NATS(t)
	pub := broker.NewPublisher(nc, "monitord")
	execs, err := executions.Open(ctx, testenv.SQLiteStore(t))
	if err != nil {
		t.Fatal(err)
	}
	now := executions.Stamp(time.Now())
	e, err := execs.Insert(ctx, execution.Execution{ID: uuid.NewString(), WorkflowID: "w", Owner: "alice",
		State: execution.Scheduled, Start: now, End: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := execs.Claim(ctx, e.ID, "w1", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	lease, _, err := execs.Hold(ctx, e.ID, "w1", now.Add(time.Minute), now)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var heard []execution.LogLine
	sub, err := nc.Subscribe(event.ExecutionLog(e.ID), func(m *nats.Msg) {
		var env event.Envelope
		var l execution.LogLine
		if json.Unmarshal(m.Data, &env) == nil && json.Unmarshal(env.Data, &l) == nil {
			mu.Lock()
			heard = append(heard, l)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	// The step writes its last lines over 300 ms after the end was decided.
	r, w := io.Pipe()
	go func() {
		for i, ts := range []string{tsA, tsB, tsD, tsE} {
			time.Sleep(75 * time.Millisecond)
			fmt.Fprintf(w, "%s line %d\n", ts, i+1)
		}
		_ = w.Close()
	}()
	src := &scriptedPod{streams: []func() io.ReadCloser{func() io.ReadCloser { return r }}}
	f := &follower{d: Deps{Executions: execs, Publisher: pub, Poll: 10 * time.Millisecond, Now: time.Now},
		id: e.ID, log: slog.New(slog.DiscardHandler), lease: lease}
	l := f.newLogsFrom("alice", src)
	p := plan{byTemplate: map[string]string{"ndvi-t": "ndvi"}}
	wfw := &wfv1.Workflow{Status: wfv1.WorkflowStatus{Nodes: wfv1.Nodes{
		"n1": {ID: "n1", TemplateName: "ndvi-t", Type: wfv1.NodeTypePod}}}}
	l.follow(p, wfw)
	l.follow(p, wfw) // once per step
	l.drain(5 * time.Second)
	kept, err := execs.StepLog(ctx, e.ID, "ndvi", 0)
	if err != nil || len(kept.Lines) != 4 || kept.LastSeq != 4 || !kept.Complete || kept.Lines[3].Line != "line 4" {
		t.Fatalf("kept when drained: %+v %v", kept, err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	if texts(heard) != "1:line 1 2:line 2 3:line 3 4:line 4 " {
		t.Errorf("heard %q", texts(heard))
	}
	mu.Unlock()
	l.stop()

	// A step whose log never ends: drain gives up after its timeout.
	hang, _ := io.Pipe()
	src2 := &scriptedPod{streams: []func() io.ReadCloser{func() io.ReadCloser { return hang }}}
	l2 := f.newLogsFrom("alice", src2)
	l2.follow(p, wfw)
	began := time.Now()
	l2.drain(200 * time.Millisecond)
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("drain of a log that never ends took %v", took)
	}
	l2.stop()
}

// TestKubePods: the pod of an Argo node is found by Argo's annotation,
// its main container's state read, a deleted pod is gone.
func TestKubePods(t *testing.T) {
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "wf-ndvi-1", Namespace: "ns",
		Labels: map[string]string{argoLabelWorkflow: "wf"}, Annotations: map[string]string{argoAnnotationNode: "n1"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "wait", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}},
			{Name: mainContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}
	kube := fake.NewSimpleClientset(pod)
	k := newKubeLogs(kube, "ns", "wf")
	if st, err := k.pod(ctx, "n2"); err != nil || !st.gone {
		t.Fatalf("unknown node: %+v %v", st, err)
	}
	st, err := k.pod(ctx, "n1")
	if err != nil || st.name != "wf-ndvi-1" || !st.started || st.ended || st.gone {
		t.Fatalf("running pod: %+v %v", st, err)
	}
	pod.Status.ContainerStatuses[1].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}
	if _, err := kube.CoreV1().Pods("ns").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := k.pod(ctx, "n1"); !st.started || !st.ended {
		t.Fatalf("ended container: %+v", st)
	}
	rc, err := k.stream(ctx, "wf-ndvi-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_ = rc.Close()
	if err := kube.CoreV1().Pods("ns").Delete(ctx, "wf-ndvi-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := k.pod(ctx, "n1"); !st.gone {
		t.Fatalf("deleted pod: %+v", st)
	}
}
