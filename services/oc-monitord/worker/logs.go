package worker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
)

// Argo's names (workflow/common, v3.6), not imported to keep the
// controller's packages out of the worker.
const (
	argoLabelWorkflow  = "workflows.argoproj.io/workflow"
	argoAnnotationNode = "workflows.argoproj.io/node-id"
	// mainContainer is the container Argo runs a template's container as.
	mainContainer = "main"
)

// Step logs. Each step's log is followed while the step runs: once the
// main container of its pod has started, its log is streamed (Follow) and
// every line is published on NATS as it comes (event.ExecutionLog, an
// execution.LogLine numbered by Seq) and kept in the store, a batch every
// FlushEvery at most, under the worker's lease. A stream that breaks is
// opened again from the timestamp of the last line read (the kubelet's,
// to the nanosecond), skipping the lines already read, so that no line is
// published or kept twice; a worker that takes the execution over resumes
// from the mark kept in the store. Following ends once the container has
// ended and its log was read to the end. The execution's end is written
// only after every step's log was (or LogTimeout passed).

// FlushEvery is the longest a log line waits before it is kept in the store.
const FlushEvery = time.Second

// podState is what following a log needs to know of a step's pod.
type podState struct {
	name string
	// started and ended are the main container's.
	started, ended bool
	// gone: there is no such pod (not yet, or any more).
	gone bool
}

// podLogs is what following a step's log needs of the cluster.
type podLogs interface {
	// pod finds the pod running Argo node argoNode.
	pod(ctx context.Context, argoNode string) (podState, error)
	// stream opens the main container's log of pod from since (zero: its
	// start), each line after its timestamp, following it while the
	// container runs.
	stream(ctx context.Context, pod string, since time.Time) (io.ReadCloser, error)
}

// kubeLogs reads the pods of one Argo Workflow.
type kubeLogs struct {
	kube         kubernetes.Interface
	ns, workflow string

	mu    sync.Mutex
	names map[string]string // Argo node id → pod name
}

func newKubeLogs(kube kubernetes.Interface, ns, workflow string) *kubeLogs {
	return &kubeLogs{kube: kube, ns: ns, workflow: workflow, names: map[string]string{}}
}

func (k *kubeLogs) pod(ctx context.Context, argoNode string) (podState, error) {
	k.mu.Lock()
	name := k.names[argoNode]
	k.mu.Unlock()
	var p *corev1.Pod
	if name != "" {
		got, err := k.kube.CoreV1().Pods(k.ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return podState{name: name, gone: true}, nil
		case err != nil:
			return podState{}, fmt.Errorf("get pod %s: %w", name, err)
		}
		p = got
	} else {
		pods, err := k.kube.CoreV1().Pods(k.ns).List(ctx, metav1.ListOptions{LabelSelector: argoLabelWorkflow + "=" + k.workflow})
		if err != nil {
			return podState{}, fmt.Errorf("list pods: %w", err)
		}
		for i := range pods.Items {
			if pods.Items[i].Annotations[argoAnnotationNode] == argoNode {
				p = &pods.Items[i]
				break
			}
		}
		if p == nil {
			return podState{gone: true}, nil
		}
		k.mu.Lock()
		k.names[argoNode] = p.Name
		k.mu.Unlock()
	}
	st := podState{name: p.Name, gone: p.DeletionTimestamp != nil && podOver(p)}
	for _, c := range p.Status.ContainerStatuses {
		if c.Name != mainContainer {
			continue
		}
		st.started = c.State.Running != nil || c.State.Terminated != nil
		st.ended = c.State.Terminated != nil
	}
	if podOver(p) {
		st.ended = true
	}
	return st, nil
}

func podOver(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func (k *kubeLogs) stream(ctx context.Context, pod string, since time.Time) (io.ReadCloser, error) {
	opts := &corev1.PodLogOptions{Container: mainContainer, Follow: true, Timestamps: true}
	if !since.IsZero() {
		// The API takes whole seconds: lines of that second already read
		// are skipped by their timestamps.
		t := metav1.NewTime(since)
		opts.SinceTime = &t
	}
	rc, err := k.kube.CoreV1().Pods(k.ns).GetLogs(pod, opts).Stream(ctx)
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", pod, err)
	}
	return rc, nil
}

// stepLog follows one step's log.
type stepLog struct {
	executionID, step, argoNode string
	src                         podLogs
	// mark is how far the log was read; markTime is mark.Time parsed, and
	// skip how many lines at markTime are still to be skipped on a stream.
	mark     executions.LogMark
	markTime time.Time
	skip     int
	// emit hands each new line on, with the mark it was read up to.
	emit func(execution.LogLine, executions.LogMark)
	poll time.Duration
	// ending is closed when the run is over: a container that has not
	// started by then never will.
	ending <-chan struct{}
	now    func() time.Time
	log    *slog.Logger
}

// afterEnd is how many times a log whose container ended is opened
// when reading it fails, endedPause apart.
const (
	afterEnd   = 2
	endedPause = 250 * time.Millisecond
)

// run follows the log until the container ended and its log was read to
// the end (nil), its pod is gone, or ctx ends.
func (f *stepLog) run(ctx context.Context) error {
	if f.mark.Complete {
		return nil
	}
	if f.mark.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, f.mark.Time)
		if err == nil {
			f.markTime = t
		}
	}
	pod, err := f.started(ctx)
	if err != nil || pod == "" {
		return err
	}
	failures := 0
	for {
		f.skip = f.mark.AtTime
		rc, err := f.src.stream(ctx, pod, f.markTime)
		if err == nil {
			err = f.read(rc)
			_ = rc.Close()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		st, serr := f.src.pod(ctx, f.argoNode)
		switch {
		case serr == nil && st.gone:
			return err // deleted: nothing more can be read
		case serr == nil && st.ended && err == nil:
			f.mark.Complete = true
			f.emit(execution.LogLine{}, f.mark)
			return nil
		case serr == nil && st.ended:
			if failures++; failures >= afterEnd {
				return err
			}
		case err != nil:
			f.log.Debug("step log interrupted; reading it again", "step", f.step, "err", err)
		}
		pause := f.poll
		if st.ended {
			// Only the end is left to read: the execution's end waits for it.
			pause = min(pause, endedPause)
		}
		if !sleep(ctx, pause) {
			return ctx.Err()
		}
	}
}

// started waits until the main container of the step's pod has started
// and returns the pod's name; "" when the run ended first.
func (f *stepLog) started(ctx context.Context) (string, error) {
	for {
		st, err := f.src.pod(ctx, f.argoNode)
		if err == nil && !st.gone && st.started {
			return st.name, nil
		}
		select {
		case <-f.ending:
			return "", err
		default:
		}
		if !sleep(ctx, f.poll) {
			return "", ctx.Err()
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// read hands on every line of one stream; nil at its end (io.EOF). A line
// cut short by a broken stream is left for the next stream to read whole.
func (f *stepLog) read(r io.Reader) error {
	br := bufio.NewReaderSize(r, 32<<10)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line) < execution.MaxLogLine+64 {
			line = append(line, chunk[:min(len(chunk), execution.MaxLogLine+64-len(line))]...)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == nil:
			f.accept(bytes.TrimSuffix(line, []byte("\n")))
		case errors.Is(err, io.EOF):
			if len(line) > 0 {
				f.accept(line)
			}
			return nil
		default:
			return err
		}
		line = line[:0]
	}
}

// accept hands on one line as the kubelet wrote it (its timestamp, a
// space, the text), unless it was read before.
func (f *stepLog) accept(raw []byte) {
	ts, text, _ := strings.Cut(string(raw), " ")
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		t, text = f.now(), string(raw)
	} else {
		switch {
		case t.Before(f.markTime):
			return
		case t.Equal(f.markTime) && f.skip > 0:
			f.skip--
			return
		case t.Equal(f.markTime):
			f.mark.AtTime++
		default:
			f.mark.Time, f.markTime, f.mark.AtTime, f.skip = ts, t, 1, 0
		}
	}
	if len(text) > execution.MaxLogLine {
		text = strings.ToValidUTF8(text[:execution.MaxLogLine], "")
	}
	f.mark.LastSeq++
	f.emit(execution.LogLine{ExecutionID: f.executionID, Step: f.step, Seq: f.mark.LastSeq,
		At: t.UTC().Truncate(time.Millisecond), Line: text}, f.mark)
}

// logs follows the logs of one run's steps, publishes their lines and
// keeps them in the store.
type logs struct {
	f      *follower
	owner  string
	src    podLogs
	ctx    context.Context
	cancel context.CancelFunc
	ending chan struct{}
	end    sync.Once
	steps  sync.WaitGroup
	sink   *logSink
	mu     sync.Mutex
	seen   map[string]bool // steps followed
}

func (f *follower) newLogs(owner string) *logs {
	return f.newLogsFrom(owner, newKubeLogs(f.kube, f.ns, f.name))
}

func (f *follower) newLogsFrom(owner string, src podLogs) *logs {
	// Not the run's context: the last lines of a step are still worth
	// reading when the execution has just ended.
	ctx, cancel := context.WithCancel(context.Background())
	l := &logs{f: f, owner: owner, src: src, ctx: ctx, cancel: cancel,
		ending: make(chan struct{}), seen: map[string]bool{}}
	l.sink = newLogSink(f.lease, f.log)
	l.sink.start()
	return l
}

// podNodes maps each step that has a pod in w to its newest pod's Argo node.
func (p plan) podNodes(w *wfv1.Workflow) map[string]string {
	out := map[string]string{}
	newest := map[string]wfv1.NodeStatus{}
	for _, n := range w.Status.Nodes {
		id, ok := p.byTemplate[n.TemplateName]
		if n.Type != wfv1.NodeTypePod || !ok {
			continue
		}
		if cur, seen := newest[id]; seen && !newer(n, cur) {
			continue
		}
		newest[id] = n
		out[id] = n.ID
	}
	return out
}

// follow starts following the log of every step of w with a pod, once.
func (l *logs) follow(p plan, w *wfv1.Workflow) {
	for step, argoNode := range p.podNodes(w) {
		l.mu.Lock()
		seen := l.seen[step]
		l.seen[step] = true
		l.mu.Unlock()
		if seen {
			continue
		}
		l.steps.Go(func() { l.followStep(step, argoNode) })
	}
}

func (l *logs) followStep(step, argoNode string) {
	f := l.f
	mark, err := f.d.Executions.LogMark(l.ctx, f.id, step)
	if err != nil {
		f.log.Warn("could not read how far the step's log was kept; not following it", "step", step, "err", err)
		return
	}
	sl := &stepLog{executionID: f.id, step: step, argoNode: argoNode, src: l.src, mark: mark,
		poll: f.d.Poll, ending: l.ending, now: f.d.Now, log: f.log,
		emit: func(line execution.LogLine, mark executions.LogMark) {
			if line.Seq > 0 && f.d.Publisher != nil {
				if err := f.d.Publisher.Publish(l.ctx, event.ExecutionLog(f.id), f.id, l.owner, line); err != nil {
					f.log.Debug("could not publish a log line", "step", step, "err", err)
				}
			}
			l.sink.add(step, line, mark)
		}}
	if err := sl.run(l.ctx); err != nil && l.ctx.Err() == nil {
		f.log.Debug("step log not read to its end", "step", step, "err", err)
	}
}

// drain waits, at most timeout, for every step's log to be read to its
// end, then keeps what was read: called before the execution's end is
// written, so that its last lines come before it.
func (l *logs) drain(timeout time.Duration) {
	l.end.Do(func() { close(l.ending) })
	done := make(chan struct{})
	go func() { l.steps.Wait(); close(done) }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		l.f.log.Info("step logs not read to their end in time", "timeout", timeout)
		l.cancel()
		<-done
	}
	l.sink.flush(context.Background())
}

// stop ends following without waiting (the worker lost the execution, or
// is stopping): what was read is kept if the lease still allows.
func (l *logs) stop() {
	l.end.Do(func() { close(l.ending) })
	l.cancel()
	l.steps.Wait()
	l.sink.stop()
}

// logSink keeps the lines read in the store, a batch every FlushEvery.
type logSink struct {
	lease *executions.Lease
	log   *slog.Logger

	mu      sync.Mutex
	pending map[string]*pendingLog
	lost    bool
	quit    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// pendingLog are a step's lines not kept yet, and the mark they were read
// up to; bounded as the kept log is, the oldest dropped first.
type pendingLog struct {
	lines []execution.LogLine
	bytes int
	mark  executions.LogMark
}

func newLogSink(lease *executions.Lease, log *slog.Logger) *logSink {
	return &logSink{lease: lease, log: log, pending: map[string]*pendingLog{}, quit: make(chan struct{}), done: make(chan struct{})}
}

func (s *logSink) start() {
	go func() {
		defer close(s.done)
		tick := time.NewTicker(FlushEvery)
		defer tick.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-tick.C:
				s.flush(context.Background())
			}
		}
	}()
}

func (s *logSink) stop() {
	s.once.Do(func() { close(s.quit) })
	<-s.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.flush(ctx)
}

// add queues line (none when its Seq is 0: only the mark moved).
func (s *logSink) add(step string, line execution.LogLine, mark executions.LogMark) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending[step]
	if p == nil {
		p = &pendingLog{}
		s.pending[step] = p
	}
	p.mark = mark
	if line.Seq == 0 {
		return
	}
	p.lines = append(p.lines, line)
	p.bytes += len(line.Line)
	p.trim()
}

// trim drops the oldest lines beyond the bounds of a kept log.
func (p *pendingLog) trim() {
	drop := 0
	for len(p.lines)-drop > execution.MaxLogLines || p.bytes > execution.MaxLogBytes {
		p.bytes -= len(p.lines[drop].Line)
		drop++
	}
	if drop > 0 {
		p.lines = append([]execution.LogLine(nil), p.lines[drop:]...)
	}
}

// flush keeps what is pending; what could not be kept stays pending,
// unless the lease was lost.
func (s *logSink) flush(ctx context.Context) {
	s.mu.Lock()
	batch := s.pending
	s.pending = map[string]*pendingLog{}
	lost := s.lost
	s.mu.Unlock()
	if lost || s.lease == nil {
		return
	}
	for step, p := range batch {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.lease.AppendLog(wctx, step, p.lines, p.mark)
		cancel()
		switch {
		case err == nil:
		case errors.Is(err, executions.ErrLeaseLost) || errors.Is(err, executions.ErrStateChanged):
			s.log.Debug("the step logs are no longer this worker's to keep", "err", err)
			s.mu.Lock()
			s.lost = true
			s.mu.Unlock()
			return
		default:
			s.log.Warn("could not keep a step's log lines; trying again", "step", step, "err", err)
			s.mu.Lock()
			if newer := s.pending[step]; newer != nil {
				p.lines = append(p.lines, newer.lines...)
				p.bytes += newer.bytes
				p.mark = newer.mark
				p.trim()
			}
			s.pending[step] = p
			s.mu.Unlock()
		}
	}
}
