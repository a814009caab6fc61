package executions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencloud/opencloud/libs/execution"
	ds "github.com/opencloud/opencloud/libs/store"
)

// Step logs. What is kept of each step's log is one document per step: its
// last lines (execution.MaxLogLines, at most execution.MaxLogBytes of
// text), written by the worker following the execution through its Lease,
// a batch at a time, and read by oc-scheduler for its API. The worker
// writes them, rather than oc-scheduler consuming the log events, because
// it has the lines in order and the lease that makes it the execution's
// only writer; a line it kept reaches the store even while NATS is down,
// and nothing else has to be deployed or scaled to keep them.

// LogSpec declares the step logs collection.
var LogSpec = ds.Spec{
	Name: "scheduler_step_logs",
	Fields: []ds.Field{
		{Name: "execution_id", Type: ds.String},
		{Name: "step", Type: ds.String},
		{Name: "lease_epoch", Type: ds.Int},
	},
}

// logLine is a line as stored (its execution and step are the document's).
type logLine struct {
	Seq  int64     `json:"seq"`
	At   time.Time `json:"at"`
	Line string    `json:"line"`
}

// logDoc is what is kept of one step's log.
type logDoc struct {
	ExecutionID string    `json:"execution_id"`
	Step        string    `json:"step"`
	LeaseEpoch  int64     `json:"lease_epoch"`
	Lines       []logLine `json:"lines"`
	Bytes       int       `json:"bytes"`
	LastSeq     int64     `json:"last_seq"`
	Mark        LogMark   `json:"mark"`
	Complete    bool      `json:"complete,omitempty"`
}

// LogMark is how far a step's log was read, for a worker to resume it
// without repeating a line: the kubelet's timestamp of the last line kept
// (RFC 3339 to the nanosecond, as the kubelet wrote it), how many lines
// bore exactly that timestamp, and the Seq of the last line.
type LogMark struct {
	Time    string `json:"time,omitempty"`
	AtTime  int    `json:"at_time,omitempty"`
	LastSeq int64  `json:"last_seq"`
	// Complete: the log was read to the end of the step's container.
	Complete bool `json:"complete,omitempty"`
}

func logID(executionID, step string) string { return executionID + "/" + step }

func (s *Store) logDoc(ctx context.Context, executionID, step string) (logDoc, int64, error) {
	var d logDoc
	v, err := s.logs.Get(ctx, logID(executionID, step), &d)
	if err != nil && !errors.Is(err, ds.ErrNotFound) {
		return d, 0, fmt.Errorf("get the log of step %q of execution %s: %w", step, executionID, err)
	}
	return d, v, nil
}

// LogMark says how far step's log was kept (the zero mark when nothing was).
func (s *Store) LogMark(ctx context.Context, executionID, step string) (LogMark, error) {
	d, _, err := s.logDoc(ctx, executionID, step)
	m := d.Mark
	m.LastSeq, m.Complete = d.LastSeq, d.Complete
	return m, err
}

// AppendLog keeps lines of step's log (numbered by their Seq, in order),
// read up to mark, and drops the oldest lines beyond the bounds. Lines at
// or below the Seq already kept are skipped, so a batch written twice
// changes nothing. ErrLeaseLost once the execution is no longer under the
// lease, or when a later lease has written this step's log.
func (l *Lease) AppendLog(ctx context.Context, step string, lines []execution.LogLine, mark LogMark) error {
	s := l.s
	for {
		ed, err := s.get(ctx, l.id)
		if err != nil {
			return err
		}
		if err := l.holds(ed, Stamp(s.now())); err != nil {
			return err
		}
		d, v, err := s.logDoc(ctx, l.id, step)
		if err != nil {
			return err
		}
		if d.LeaseEpoch > l.epoch {
			return fmt.Errorf("execution %s: the log of step %q is written under a later lease: %w", l.id, step, ErrLeaseLost)
		}
		d.ExecutionID, d.Step, d.LeaseEpoch = l.id, step, l.epoch
		for _, ln := range lines {
			if ln.Seq <= d.LastSeq {
				continue
			}
			d.Lines = append(d.Lines, logLine{Seq: ln.Seq, At: ln.At, Line: ln.Line})
			d.Bytes += len(ln.Line)
			d.LastSeq = ln.Seq
		}
		drop := 0
		for len(d.Lines)-drop > execution.MaxLogLines || d.Bytes > execution.MaxLogBytes {
			d.Bytes -= len(d.Lines[drop].Line)
			drop++
		}
		d.Lines = append([]logLine(nil), d.Lines[drop:]...)
		if mark.LastSeq >= d.LastSeq {
			d.Mark = LogMark{Time: mark.Time, AtTime: mark.AtTime}
			d.Complete = mark.Complete
		}
		if v == 0 {
			_, err = s.logs.Insert(ctx, logID(l.id, step), d)
		} else {
			_, err = s.logs.Replace(ctx, logID(l.id, step), v, d)
		}
		switch {
		case errors.Is(err, ds.ErrDuplicate) || errors.Is(err, ds.ErrVersionConflict):
			continue
		case err != nil:
			return fmt.Errorf("keep the log of step %q of execution %s: %w", step, l.id, err)
		}
		return nil
	}
}

// StepLog returns what is kept of step's log, its last max lines at most
// (0: all kept).
func (s *Store) StepLog(ctx context.Context, executionID, step string, max int) (execution.StepLog, error) {
	d, _, err := s.logDoc(ctx, executionID, step)
	if err != nil {
		return execution.StepLog{}, err
	}
	lines := d.Lines
	if max > 0 && len(lines) > max {
		lines = lines[len(lines)-max:]
	}
	out := execution.StepLog{Step: step, Lines: wire(executionID, step, lines), LastSeq: d.LastSeq, Complete: d.Complete}
	if len(d.Lines) > 0 {
		out.FirstSeq = d.Lines[0].Seq
	}
	return out, nil
}

// LogPage returns up to limit lines of step's log kept after Seq after.
func (s *Store) LogPage(ctx context.Context, executionID, step string, after int64, limit int) (execution.LogPage, error) {
	sl, err := s.StepLog(ctx, executionID, step, 0)
	if err != nil {
		return execution.LogPage{}, err
	}
	p := execution.LogPage{Step: step, Items: []execution.LogLine{}, FirstSeq: sl.FirstSeq, LastSeq: sl.LastSeq, Next: after, Complete: sl.Complete}
	for _, ln := range sl.Lines {
		if ln.Seq <= after {
			continue
		}
		if len(p.Items) == limit {
			p.More = true
			break
		}
		p.Items = append(p.Items, ln)
		p.Next = ln.Seq
	}
	return p, nil
}

func wire(executionID, step string, lines []logLine) []execution.LogLine {
	out := make([]execution.LogLine, len(lines))
	for i, ln := range lines {
		out[i] = execution.LogLine{ExecutionID: executionID, Step: step, Seq: ln.Seq, At: ln.At, Line: ln.Line}
	}
	return out
}
