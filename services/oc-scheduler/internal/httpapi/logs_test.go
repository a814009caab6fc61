package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"
	wf "github.com/opencloud/opencloud/libs/workflow"

	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
	"github.com/opencloud/opencloud/services/oc-scheduler/internal/httpapi"
)

// held stores a running execution of owner with one step, "ndvi", held by
// a worker's lease as oc-monitord holds it.
func (e *liveEnv) held(owner string) (string, *executions.Lease) {
	e.t.Helper()
	now := executions.Stamp(time.Now())
	x := execution.Execution{ID: uuid.NewString(), WorkflowID: uuid.NewString(), Name: "logs", Owner: owner,
		State: execution.Scheduled, Start: now, End: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now,
		Graph: wf.Graph{Nodes: []wf.Node{{ID: "ndvi", Kind: resource.KindProcessing}, {ID: "k8s", Kind: resource.KindCompute}}}}
	if _, err := e.execs.Insert(e.ctx, x); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.execs.Claim(e.ctx, x.ID, "w1", now.Add(time.Hour)); err != nil {
		e.t.Fatal(err)
	}
	lease, _, err := e.execs.Hold(e.ctx, x.ID, "w1", now.Add(time.Hour), now)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := lease.Transition(e.ctx, []execution.State{execution.Starting}, execution.Running, nil); err != nil {
		e.t.Fatal(err)
	}
	return x.ID, lease
}

func logLines(id string, from, to int64) []execution.LogLine {
	var out []execution.LogLine
	for i := from; i <= to; i++ {
		out = append(out, execution.LogLine{ExecutionID: id, Step: "ndvi", Seq: i, At: time.Now().UTC().Truncate(time.Millisecond), Line: fmt.Sprintf("line %d", i)})
	}
	return out
}

// get answers GET path as p, decoding a 200 into out.
func (e *liveEnv) get(p authn.Principal, path string, out any) (int, string) {
	e.t.Helper()
	resp := e.call(e.ctx, p, path)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			e.t.Fatalf("%s: %v: %s", path, err, body)
		}
	}
	return resp.StatusCode, string(body)
}

func seqs(ls []execution.LogLine) string {
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "%d ", l.Seq)
	}
	return b.String()
}

// TestLiveMidStep: a client that connects while a step runs gets the
// lines the step wrote before (as kept), then the live ones, each once and
// in order, though the worker published some of them again.
func TestLiveMidStep(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB) store.Store) {
		e := newLiveEnv(t, open(t), httpapi.LiveOptions{})
		id, lease := e.held("alice")
		if err := lease.AppendLog(e.ctx, "ndvi", logLines(id, 1, 5), executions.LogMark{LastSeq: 5}); err != nil {
			t.Fatal(err)
		}
		events, _ := read(e.follow(e.ctx, alice, id).Body)
		if ev := <-events; ev.name != "state" {
			t.Fatalf("first event %s %s", ev.name, ev.data)
		}
		// Lines 4 and 5 again (a worker that took over reads them again), then 6 and 7.
		for _, l := range logLines(id, 4, 7) {
			if err := e.pub.Publish(e.ctx, event.ExecutionLog(id), id, "alice", l); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := lease.Transition(e.ctx, []execution.State{execution.Running}, execution.Succeeded, nil); err != nil {
			t.Fatal(err)
		}
		var got []execution.LogLine
		var last execution.StateChange
		for ev := range events {
			switch ev.name {
			case "log":
				var l execution.LogLine
				if err := json.Unmarshal(ev.data, &l); err != nil {
					t.Fatal(err)
				}
				got = append(got, l)
			case "state":
				_ = json.Unmarshal(ev.data, &last)
			}
		}
		if seqs(got) != "1 2 3 4 5 6 7 " || got[0].Line != "line 1" || got[0].Step != "ndvi" || got[0].ExecutionID != id {
			t.Errorf("lines %q (%+v), want 1 to 7 once each", seqs(got), got)
		}
		if last.To != execution.Succeeded {
			t.Errorf("last state %+v", last)
		}
		// After the end: the kept lines, then the state.
		events, _ = read(e.follow(e.ctx, alice, id).Body)
		var names []string
		for ev := range events {
			names = append(names, ev.name)
		}
		if strings.Join(names, ",") != "log,log,log,log,log,state" {
			t.Errorf("a stream of an execution over: %v", names)
		}
	})
}

// TestExecutionLogs: GET /executions/{id} shows the last 100 lines of each
// step; GET /executions/{id}/logs pages through all that is kept.
func TestExecutionLogs(t *testing.T) {
	e := newLiveEnv(t, testenv.SQLiteStore(t), httpapi.LiveOptions{})
	id, lease := e.held("alice")
	if err := lease.AppendLog(e.ctx, "ndvi", logLines(id, 1, 150), executions.LogMark{LastSeq: 150, Complete: true}); err != nil {
		t.Fatal(err)
	}
	var x execution.Detail
	if code, body := e.get(alice, "/executions/"+id, &x); code != http.StatusOK {
		t.Fatalf("get: %d %s", code, body)
	}
	if x.ID != id || len(x.Logs) != 1 || x.Logs[0].Step != "ndvi" || len(x.Logs[0].Lines) != 100 || x.Logs[0].Lines[0].Seq != 51 ||
		x.Logs[0].FirstSeq != 1 || x.Logs[0].LastSeq != 150 || !x.Logs[0].Complete {
		t.Fatalf("execution %s with logs %+v", x.ID, x.Logs)
	}
	var page execution.LogPage
	if code, body := e.get(alice, "/executions/"+id+"/logs?step=ndvi&limit=100", &page); code != http.StatusOK {
		t.Fatalf("logs: %d %s", code, body)
	}
	if len(page.Items) != 100 || page.Items[0].Seq != 1 || page.Next != 100 || !page.More || page.LastSeq != 150 {
		t.Fatalf("first page: %d items, next %d, more %v", len(page.Items), page.Next, page.More)
	}
	if code, body := e.get(alice, fmt.Sprintf("/executions/%s/logs?step=ndvi&after=%d&limit=100", id, page.Next), &page); code != http.StatusOK ||
		len(page.Items) != 50 || page.Items[49].Line != "line 150" || page.More {
		t.Fatalf("second page: %d %s", code, body)
	}
	for _, tc := range []struct {
		query string
		code  int
		says  string
	}{
		{"", http.StatusBadRequest, "give the step"},
		{"?step=nope", http.StatusBadRequest, `no step \"nope\": give one of ndvi`},
		{"?step=ndvi&after=-1", http.StatusBadRequest, "after"},
		{"?step=ndvi&offset=10", http.StatusBadRequest, "page with after"},
		{"?step=ndvi&limit=1000", http.StatusBadRequest, "limit"},
	} {
		if code, body := e.get(alice, "/executions/"+id+"/logs"+tc.query, nil); code != tc.code || !strings.Contains(body, tc.says) {
			t.Errorf("logs%s: %d %s, want %d saying %s", tc.query, code, body, tc.code, tc.says)
		}
	}
	if code, _ := e.get(bob, "/executions/"+id+"/logs?step=ndvi", nil); code != http.StatusNotFound {
		t.Errorf("another user's logs: %d", code)
	}
}
