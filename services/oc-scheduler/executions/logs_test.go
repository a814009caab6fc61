package executions_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
)

func lines(e execution.Execution, step string, from, to int64, text func(int64) string) []execution.LogLine {
	var out []execution.LogLine
	for i := from; i <= to; i++ {
		out = append(out, execution.LogLine{ExecutionID: e.ID, Step: step, Seq: i, At: time.Unix(i, 0).UTC(), Line: text(i)})
	}
	return out
}

// TestStepLogs: a worker keeps a step's lines under its lease, a batch at
// a time; a batch written again changes nothing; the last 1,000 lines (and
// no more than 256 KiB) are kept, pages read them in order; once another
// worker holds the execution, the first one's lines are refused.
func TestStepLogs(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		s, err := executions.Open(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		e := scheduled(t, s)
		now := executions.Stamp(time.Now())
		if _, err := s.Claim(ctx, e.ID, "w1", now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		lease, _, err := s.Hold(ctx, e.ID, "w1", now.Add(time.Minute), now)
		if err != nil {
			t.Fatal(err)
		}
		text := func(i int64) string { return fmt.Sprintf("line %d", i) }
		first := lines(e, "ndvi", 1, 3, text)
		mark := executions.LogMark{Time: "2026-11-21T14:31:02.123456789Z", AtTime: 2, LastSeq: 3}
		for range 2 {
			if err := lease.AppendLog(ctx, "ndvi", first, mark); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.StepLog(ctx, e.ID, "ndvi", 0)
		if err != nil || len(got.Lines) != 3 || got.FirstSeq != 1 || got.LastSeq != 3 || got.Complete || got.Lines[2].Line != "line 3" || got.Lines[2].ExecutionID != e.ID {
			t.Fatalf("after one batch written twice: %+v %v", got, err)
		}
		if m, err := s.LogMark(ctx, e.ID, "ndvi"); err != nil || m.Time != mark.Time || m.AtTime != 2 || m.LastSeq != 3 {
			t.Fatalf("mark %+v %v", m, err)
		}
		// 1,500 lines in all: the first 500 are dropped.
		if err := lease.AppendLog(ctx, "ndvi", lines(e, "ndvi", 4, 1500, text), executions.LogMark{LastSeq: 1500, Complete: true}); err != nil {
			t.Fatal(err)
		}
		got, _ = s.StepLog(ctx, e.ID, "ndvi", 100)
		if len(got.Lines) != 100 || got.FirstSeq != 501 || got.LastSeq != 1500 || !got.Complete || got.Lines[0].Seq != 1401 {
			t.Fatalf("tail of 100: %d lines, first %d last %d complete %v", len(got.Lines), got.FirstSeq, got.LastSeq, got.Complete)
		}
		page, err := s.LogPage(ctx, e.ID, "ndvi", 0, 200)
		if err != nil || len(page.Items) != 200 || page.Items[0].Seq != 501 || page.Next != 700 || !page.More {
			t.Fatalf("first page: %d items from %d, next %d more %v %v", len(page.Items), page.Items[0].Seq, page.Next, page.More, err)
		}
		page, _ = s.LogPage(ctx, e.ID, "ndvi", 1450, 200)
		if len(page.Items) != 50 || page.Next != 1500 || page.More {
			t.Fatalf("last page: %d items, next %d more %v", len(page.Items), page.Next, page.More)
		}
		// Bytes bound: 300 lines of 1 KiB keep 256 of them.
		big := func(int64) string { return strings.Repeat("x", 1024) }
		if err := lease.AppendLog(ctx, "big", lines(e, "big", 1, 300, big), executions.LogMark{LastSeq: 300}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.StepLog(ctx, e.ID, "big", 0); len(got.Lines) != 256 || got.FirstSeq != 45 {
			t.Fatalf("bytes bound: %d lines from %d", len(got.Lines), got.FirstSeq)
		}
		// Another worker takes the execution over after the lease ran out.
		later := now.Add(2 * time.Minute)
		if _, err := s.Acquire(ctx, e.ID, "w2", later.Add(time.Minute), later); err != nil {
			t.Fatal(err)
		}
		err = lease.AppendLog(ctx, "ndvi", lines(e, "ndvi", 1501, 1501, text), executions.LogMark{LastSeq: 1501})
		if !errors.Is(err, executions.ErrLeaseLost) {
			t.Fatalf("a line of the worker that lost the lease: %v", err)
		}
		if got, _ := s.StepLog(ctx, e.ID, "ndvi", 0); got.LastSeq != 1500 {
			t.Fatalf("kept a line of the worker that lost the lease: last %d", got.LastSeq)
		}
		if none, err := s.StepLog(ctx, e.ID, "other", 0); err != nil || len(none.Lines) != 0 || none.LastSeq != 0 {
			t.Fatalf("a step without a log: %+v %v", none, err)
		}
	})
}
