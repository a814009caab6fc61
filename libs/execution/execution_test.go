package execution_test

import (
	"slices"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/execution"
)

func TestSettleSteps(t *testing.T) {
	at := time.Date(2026, 11, 21, 14, 30, 0, 0, time.UTC)
	steps := []execution.Step{
		{Node: "a", State: execution.Succeeded},
		{Node: "b", State: execution.Failed},
		{Node: "c", State: execution.Scheduled},
		{Node: "d"},
		{Node: "e", State: execution.Running},
	}
	for _, tc := range []struct {
		ended   execution.State
		want    []execution.State
		changed []int
	}{
		{execution.Failed, []execution.State{"succeeded", "failed", "skipped", "skipped", "running"}, []int{2, 3}},
		{execution.Missed, []execution.State{"succeeded", "failed", "skipped", "skipped", "running"}, []int{2, 3}},
		{execution.Succeeded, []execution.State{"succeeded", "failed", "skipped", "skipped", "running"}, []int{2, 3}},
		{execution.Cancelled, []execution.State{"succeeded", "failed", "cancelled", "cancelled", "running"}, []int{2, 3}},
		{execution.Running, []execution.State{"succeeded", "failed", "scheduled", "", "running"}, nil},
	} {
		got, changed := execution.SettleSteps(steps, tc.ended, at)
		var states []execution.State
		for _, s := range got {
			states = append(states, s.State)
		}
		if !slices.Equal(states, tc.want) || !slices.Equal(changed, tc.changed) {
			t.Errorf("ended %s: %v changed %v; want %v changed %v", tc.ended, states, changed, tc.want, tc.changed)
		}
		for _, i := range changed {
			if got[i].FinishedAt == nil || !got[i].FinishedAt.Equal(at) {
				t.Errorf("ended %s: step %s finished at %v", tc.ended, got[i].Node, got[i].FinishedAt)
			}
		}
	}
	if steps[2].State != execution.Scheduled || steps[3].FinishedAt != nil {
		t.Error("SettleSteps changed its input")
	}
}
