package provision

import (
	"errors"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/opencloud/opencloud/libs/execution"
)

func TestValidateIDs(t *testing.T) {
	const id, wf = "3f1c2a9e-6a43-4d3b-9a55-1a2b3c4d5e6f", "6b0e3c6c-4d0a-4d21-9a43-0e4c1d7b9f10"
	for _, tc := range []struct {
		name, id, wf string
		needWF       bool
		fields       []string
	}{
		{"valid", id, wf, true, nil},
		{"no workflow needed", id, "", false, nil},
		{"empty id", "", wf, true, []string{"id"}},
		{"upper case", "ABC", wf, true, []string{"id"}},
		{"dot", "a.b", wf, true, []string{"id"}},
		{"too long", strings.Repeat("a", 61), wf, true, []string{"id"}},
		{"longest", strings.Repeat("a", 60), wf, true, nil},
		{"no workflow", id, "", true, []string{"workflow_id"}},
		{"workflow with space", id, "a b", true, []string{"workflow_id"}},
		{"both", "_", "", true, []string{"id", "workflow_id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateIDs(tc.id, tc.wf, tc.needWF)
			var ve *ValidationError
			if tc.fields == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.As(err, &ve) {
				t.Fatalf("want a ValidationError, got %v", err)
			}
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("fields %v, want %v", got, tc.fields)
			}
		})
	}
}

func FuzzValidateIDs(f *testing.F) {
	for _, s := range []string{"3f1c2a9e-6a43-4d3b-9a55-1a2b3c4d5e6f", "", "A", "a-", "-0", strings.Repeat("x", 70), "é", "a\x00b"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, id, wf string) {
		if ValidateIDs(id, wf, true) != nil {
			return
		}
		if errs := validation.IsDNS1123Label(execution.Namespace(id)); len(errs) > 0 {
			t.Fatalf("accepted id %q makes a bad namespace name: %v", id, errs)
		}
		if errs := validation.IsValidLabelValue(id); len(errs) > 0 {
			t.Fatalf("accepted id %q is not a label value: %v", id, errs)
		}
		if errs := validation.IsValidLabelValue(wf); len(errs) > 0 {
			t.Fatalf("accepted workflow id %q is not a label value: %v", wf, errs)
		}
	})
}

func TestRulesEqual(t *testing.T) {
	want := ExecutorRules()
	split := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"watch"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"patch", "get"}},
		{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflowtaskresults"}, Verbs: []string{"patch", "create"}},
	}
	if !RulesEqual(want, split) {
		t.Error("the same grants written otherwise differ")
	}
	if RulesEqual(want, want[:2]) {
		t.Error("a missing rule is not seen")
	}
	more := append(ExecutorRules(), rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}})
	if RulesEqual(want, more) {
		t.Error("an extra grant is not seen")
	}
	named := ExecutorRules()
	named[1].ResourceNames = []string{"one-pod"}
	if RulesEqual(want, named) {
		t.Error("a rule narrowed to one name is not seen")
	}
}

func TestDue(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	created := now.Add(-30 * time.Minute)
	for _, tc := range []struct {
		name  string
		ended time.Time
		over  bool
		want  bool
	}{
		{"running", time.Time{}, false, false},
		{"ended long ago", now.Add(-2 * time.Hour), true, true},
		{"ended exactly the retention ago", now.Add(-time.Hour), true, true},
		{"ended recently", now.Add(-59 * time.Minute), true, false},
		{"unknown, namespace recent", time.Time{}, true, false},
	} {
		if got := Due(tc.ended, tc.over, created, now, time.Hour); got != tc.want {
			t.Errorf("%s: Due = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !Due(time.Time{}, true, now.Add(-2*time.Hour), now, time.Hour) {
		t.Error("unknown execution with an old namespace is not due")
	}
}

func TestWithLabels(t *testing.T) {
	got, changed := withLabels(map[string]string{"team": "infra", "a": "old"}, map[string]string{"a": "new"})
	if !changed || got["team"] != "infra" || got["a"] != "new" {
		t.Errorf("withLabels = %v, %v", got, changed)
	}
	if _, changed := withLabels(map[string]string{"a": "x", "b": "y"}, map[string]string{"a": "x"}); changed {
		t.Error("no change reported as a change")
	}
	if got, changed := withLabels(nil, map[string]string{"a": "x"}); !changed || got["a"] != "x" {
		t.Errorf("withLabels(nil) = %v, %v", got, changed)
	}
}
