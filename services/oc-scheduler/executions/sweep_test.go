package executions_test

import (
	"context"
	"testing"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
)

// TestSweepBookings: an execution cancelled, and one that ended, whose
// bookings could not be released (the store failed between the two
// writes, as a crash would leave them) keep their bookings until the
// sweep frees them, a bounded number per pass; a second sweep finds
// nothing, and a scheduled execution keeps its bookings.
func TestSweepBookings(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		down := &flaky{Store: st}
		s, err := executions.Open(ctx, down)
		if err != nil {
			t.Fatal(err)
		}
		cancelled, ended, waiting := scheduled(t, s), scheduled(t, s), scheduled(t, s)
		down.fail(executions.BookingSpec.Name)
		if _, err := s.Transition(ctx, cancelled.ID, []execution.State{execution.Scheduled}, execution.Cancelled, nil); err != nil {
			t.Fatal(err)
		}
		for _, to := range []execution.State{execution.Starting, execution.Running, execution.Failed} {
			from := map[execution.State]execution.State{execution.Starting: execution.Scheduled, execution.Running: execution.Starting, execution.Failed: execution.Running}[to]
			if _, err := s.Transition(ctx, ended.ID, []execution.State{from}, to, nil); err != nil {
				t.Fatal(err)
			}
		}
		down.recover()
		if n, _ := s.CountBookings(ctx); n != 3 {
			t.Fatalf("%d bookings left by the failed releases, want 3", n)
		}
		for _, want := range []int{1, 1, 0} {
			n, err := s.SweepBookings(ctx, 1)
			if err != nil || n != want {
				t.Fatalf("sweep freed %d executions' bookings (%v), want %d", n, err, want)
			}
		}
		held, _, err := s.FindBookings(ctx, executions.BookingQuery{Resources: []resource.Ref{{Peer: "local", ID: "c"}}})
		if err != nil || len(held) != 1 || held[0].ExecutionID != waiting.ID {
			t.Fatalf("bookings after the sweep: %+v %v", held, err)
		}
	})
}
