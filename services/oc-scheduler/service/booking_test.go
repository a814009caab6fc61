package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"

	"github.com/opencloud/opencloud/services/oc-scheduler/client"
	"github.com/opencloud/opencloud/services/oc-scheduler/service"
)

// TestBookSeedShape: the seed's load-script request books 11 executions,
// each holding the compute (the sum of its processings' requests) and the
// storage, each a snapshot of the workflow, each announced on NATS.
func TestBookSeedShape(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		comp, proc, out := e.compute("big", 64), e.processing("ndvi", 1000), e.storage("results")
		w := e.workflow(alice, "NDVI", proc, comp, 3, &out)
		states, err := e.nc.SubscribeSync(event.ExecutionStates)
		if err != nil {
			t.Fatal(err)
		}
		at := day()
		body := fmt.Sprintf(`{"id":null,"name":null,"cron":"0-10 %d %d %d %d *","mode":1,"start":"%s","end":"%s"}`,
			at.Minute(), at.Hour(), at.Day(), int(at.Month()), at.Add(12*time.Millisecond).Format(time.RFC3339Nano),
			at.AddDate(0, 1, 0).Add(12*time.Millisecond).Format(time.RFC3339Nano))
		resp := e.do(http.MethodPost, "/scheduler/"+w.ID, e.token(alice), body)
		if resp.Status != http.StatusCreated {
			t.Fatalf("book: %d %s", resp.Status, resp.Body)
		}
		var plan execution.Plan
		if err := json.Unmarshal(resp.Body, &plan); err != nil {
			t.Fatal(err)
		}
		if len(plan.Windows) != 11 || len(plan.Executions) != 11 || len(plan.Conflicts) != 0 || plan.NextFree != nil || len(plan.Warnings) != 0 {
			t.Fatalf("plan: %d windows, %d executions, %+v", len(plan.Windows), len(plan.Executions), plan.Conflicts)
		}
		for i, x := range plan.Executions {
			if x.State != execution.Scheduled || x.Owner != "alice" || x.Name != "NDVI" || x.WorkflowID != w.ID || x.RequestID == "" ||
				!x.Start.Equal(at.Add(time.Duration(i)*time.Second)) || x.End.Sub(x.Start) != service.DefaultDuration ||
				!reflect.DeepEqual(x.Graph, w.Graph) || len(x.Resources) != 3 || len(x.Steps) != 3 {
				t.Fatalf("execution %d: %+v", i, x)
			}
		}
		if n, b := e.counts(); n != 11 || b != 22 {
			t.Fatalf("stored %d executions and %d bookings, want 11 and 22", n, b)
		}
		page, err := e.as(alice).Bookings(ctx, client.BookingOptions{Resource: comp, Limit: 200})
		if err != nil || page.Total != 11 {
			t.Fatalf("bookings: %+v %v", page, err)
		}
		if d := page.Items[0].Demand; d.CPUMillicores != 3000 || page.Items[0].Kind != resource.KindCompute {
			t.Errorf("booking %+v, want 3000m on the compute", page.Items[0])
		}
		for range 11 {
			m, err := states.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var env event.Envelope
			var ch execution.StateChange
			if json.Unmarshal(m.Data, &env) != nil || json.Unmarshal(env.Data, &ch) != nil || ch.From != "" || ch.To != execution.Scheduled || env.Subject != ch.ExecutionID {
				t.Fatalf("event %s", m.Data)
			}
		}
		// Later edits of the workflow do not change a booked run.
		got, err := e.as(alice).Get(ctx, plan.Executions[0].ID)
		if err != nil || !reflect.DeepEqual(got.Graph, w.Graph) || got.Resources[0].ID == "" {
			t.Fatalf("get: %+v %v", got, err)
		}
	})
}

// TestConflictsAndNextFree: an exclusive compute's held windows are listed
// and next_free is the first start where the whole plan fits.
func TestConflictsAndNextFree(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		comp, proc := e.compute("solo", 0), e.processing("ndvi", 500)
		w := e.workflow(alice, "Solo", proc, comp, 1, nil)
		at := day()
		first, err := e.as(alice).Book(ctx, w.ID, planned(at, 10*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.as(alice).Book(ctx, w.ID, planned(at.Add(20*time.Minute), 10*time.Minute)); err != nil {
			t.Fatal(err)
		}
		// Two windows, 10 min each, 20 min apart, starting 5 min in: both collide.
		req := execution.Request{Mode: 1, Cron: "5,25 * * * *", Start: at, End: ptr(at.Add(59 * time.Minute)), DurationSeconds: 600}
		_, err = e.as(alice).Book(ctx, w.ID, req)
		plan, ok := client.ConflictPlan(err)
		if !ok || status(err) != http.StatusConflict {
			t.Fatalf("got %v, want a 409 booking_conflict", err)
		}
		if len(plan.Conflicts) != 2 || len(plan.Executions) != 0 {
			t.Fatalf("conflicts %+v", plan.Conflicts)
		}
		c := plan.Conflicts[0]
		if c.Resource != comp || !c.Start.Equal(at.Add(5*time.Minute)) || len(c.Held) != 1 || c.Held[0].ExecutionID != first.Executions[0].ID ||
			!strings.Contains(c.Problem, "one execution at a time") {
			t.Errorf("conflict %+v", c)
		}
		// Shifted by d, [5+d, 15+d) and [25+d, 35+d) must miss [0,10) and
		// [20,30): d = 5 min gives [10,20) and [30,40).
		if plan.NextFree == nil || !plan.NextFree.Equal(at.Add(10*time.Minute)) {
			t.Errorf("next_free = %v, want %v", plan.NextFree, at.Add(10*time.Minute))
		}
		if n, b := e.counts(); n != 2 || b != 2 {
			t.Errorf("stored %d executions, %d bookings after a conflict", n, b)
		}
		// Booked where next_free says, it fits.
		req.Start, req.Cron = *plan.NextFree, "10,30 * * * *"
		if _, err := e.as(alice).Book(ctx, w.ID, req); err != nil {
			t.Fatalf("book at next_free: %v", err)
		}
		// Everything is held from 0 to 40 min: ASAP lands at 40.
		asap, err := e.as(alice).Book(ctx, w.ID, execution.Request{Mode: 0, Start: at, DurationSeconds: 600})
		if err != nil || len(asap.Executions) != 1 || !asap.Executions[0].Start.Equal(at.Add(40*time.Minute)) {
			t.Fatalf("asap: %+v %v", asap.Windows, err)
		}
	})
}

// TestCapacitySums: on 8 cores, two executions of 3 cores fit at once, a
// third does not; one that does not overlap does.
func TestCapacitySums(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		comp, proc := e.compute("eight", 8), e.processing("heavy", 3000)
		w := e.workflow(alice, "Heavy", proc, comp, 1, nil)
		at := day()
		for i := range 2 {
			if _, err := e.as(alice).Book(ctx, w.ID, planned(at.Add(time.Duration(i)*time.Minute), 10*time.Minute)); err != nil {
				t.Fatalf("booking %d: %v", i, err)
			}
		}
		_, err := e.as(alice).Book(ctx, w.ID, planned(at.Add(5*time.Minute), 10*time.Minute))
		plan, ok := client.ConflictPlan(err)
		if !ok || len(plan.Conflicts) != 1 || len(plan.Conflicts[0].Held) != 2 ||
			!strings.Contains(plan.Conflicts[0].Problem, "cpu: 6000m of 8000m held, 3000m asked") {
			t.Fatalf("got %v %+v", err, plan.Conflicts)
		}
		if plan.NextFree == nil || !plan.NextFree.Equal(at.Add(10*time.Minute)) {
			t.Errorf("next_free = %v, want %v", plan.NextFree, at.Add(10*time.Minute))
		}
		if _, err := e.as(alice).Book(ctx, w.ID, planned(at.Add(10*time.Minute), 10*time.Minute)); err != nil {
			t.Fatalf("after the first ends: %v", err)
		}
	})
}

// TestStoragesNeverConflict: two workflows on their own computes share a
// storage at the same time; both are booked and both bookings are listed.
func TestStoragesNeverConflict(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		out, proc := e.storage("shared"), e.processing("p", 100)
		w1 := e.workflow(alice, "One", proc, e.compute("a", 0), 1, &out)
		w2 := e.workflow(bob, "Two", proc, e.compute("b", 0), 1, &out)
		at := day()
		if _, err := e.as(alice).Book(ctx, w1.ID, planned(at, time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.as(bob).Book(ctx, w2.ID, planned(at, time.Hour)); err != nil {
			t.Fatal(err)
		}
		page, err := e.as(bob).Bookings(ctx, client.BookingOptions{Resource: out, From: at, To: at.Add(time.Minute)})
		if err != nil || page.Total != 2 || page.Items[0].Kind != resource.KindStorage {
			t.Fatalf("bookings %+v %v", page, err)
		}
		page, err = e.as(bob).Bookings(ctx, client.BookingOptions{Resource: out, From: at.Add(time.Hour)})
		if err != nil || page.Total != 0 {
			t.Fatalf("bookings after the window: %+v %v", page, err)
		}
		// A resource the caller cannot see.
		secret := e.newResource(resource.Input{Kind: resource.KindStorage, Name: "secret", Visibility: resource.Private,
			Storage: &resource.Storage{Endpoint: "https://s3.example.org", Bucket: "secret"}})
		if _, err := e.as(bob).Bookings(ctx, client.BookingOptions{Resource: secret}); status(err) != http.StatusNotFound {
			t.Errorf("bob reading a private resource's bookings: %v", err)
		}
		r := e.do(http.MethodGet, "/scheduler/bookings?resource=nope&limit=0&x=1", e.token(bob), "")
		if f := r.fields(t); f["resource"] == "" || f["limit"] == "" || f["x"] == "" {
			t.Errorf("fields %v", f)
		}
	})
}

// TestConcurrentBookings: 200 requests at once for one slot of an
// exclusive compute: exactly one is booked — with one scheduler, then with
// two scheduler processes on one store.
func TestConcurrentBookings(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		proc := e.processing("p", 100)
		other := serve(t, e.scheduler(service.Deps{}).Handler())
		for _, tc := range []struct {
			name string
			urls []string
		}{{"one instance", []string{e.URL}}, {"two instances", []string{e.URL, other}}} {
			t.Run(tc.name, func(t *testing.T) {
				w := e.workflow(alice, "Race "+tc.name, proc, e.compute("race", 0), 1, nil)
				n0, b0 := e.counts()
				req := planned(day(), 10*time.Minute)
				var wg sync.WaitGroup
				statuses := make(chan int, 200)
				for i := range 200 {
					c := client.New(tc.urls[i%len(tc.urls)], client.StaticToken(e.token(alice)), nil)
					wg.Go(func() {
						_, err := c.Book(context.Background(), w.ID, req)
						if err != nil && status(err) != http.StatusConflict {
							t.Errorf("request %d: %v", i, err)
						}
						statuses <- map[bool]int{true: http.StatusCreated, false: http.StatusConflict}[err == nil]
					})
				}
				wg.Wait()
				close(statuses)
				count := map[int]int{}
				for s := range statuses {
					count[s]++
				}
				if count[http.StatusCreated] != 1 || count[http.StatusConflict] != 199 {
					t.Fatalf("statuses %v, want one 201 and 199 409", count)
				}
				if n, b := e.counts(); n != n0+1 || b != b0+1 {
					t.Errorf("stored %d executions, %d bookings; want one more of each", n-n0, b-b0)
				}
			})
		}
	})
}

// TestCheckBooksNothing: a check answers the plan, conflicts and next_free
// alike, and writes nothing.
func TestCheckBooksNothing(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		w := e.workflow(alice, "Check", e.processing("p", 100), e.compute("solo", 0), 1, nil)
		at := day()
		plan, err := e.as(alice).Check(ctx, w.ID, planned(at, time.Hour))
		if err != nil || len(plan.Windows) != 1 || len(plan.Conflicts) != 0 || len(plan.Executions) != 0 {
			t.Fatalf("check: %+v %v", plan, err)
		}
		if n, b := e.counts(); n != 0 || b != 0 {
			t.Fatalf("a check wrote %d executions, %d bookings", n, b)
		}
		if _, err := e.as(alice).Book(ctx, w.ID, planned(at, time.Hour)); err != nil {
			t.Fatal(err)
		}
		plan, err = e.as(alice).Check(ctx, w.ID, planned(at.Add(30*time.Minute), time.Hour))
		if err != nil || len(plan.Conflicts) != 1 || plan.NextFree == nil || !plan.NextFree.Equal(at.Add(time.Hour)) {
			t.Fatalf("check: %+v %v", plan, err)
		}
		if n, b := e.counts(); n != 1 || b != 1 {
			t.Fatalf("stored %d executions, %d bookings", n, b)
		}
	})
}

// TestIdempotentBooking: the same Idempotency-Key books once.
func TestIdempotentBooking(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		w := e.workflow(alice, "Once", e.processing("p", 100), e.compute("c", 4), 1, nil)
		req := planned(day(), time.Hour)
		a, err := e.as(alice).BookOnce(ctx, w.ID, req, "key-1")
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.as(alice).BookOnce(ctx, w.ID, req, "key-1")
		if err != nil || b.Executions[0].ID != a.Executions[0].ID {
			t.Fatalf("replay: %v %v", b.Executions, err)
		}
		if n, _ := e.counts(); n != 1 {
			t.Fatalf("%d executions", n)
		}
	})
}

// TestBadInput: every problem is named, with nothing written.
func TestBadInput(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		w := e.workflow(alice, "Bad", e.processing("p", 100), e.compute("c", 0), 1, nil)
		tok := e.token(alice)
		at := day().Format(time.RFC3339)
		for _, tc := range []struct {
			body   string
			fields []string
		}{
			{`{"id":"x","mode":3,"cron":"* * *","start":"` + at + `","end":"2000-01-01T00:00:00Z","duration_seconds":-4,"name":"` + strings.Repeat("n", 201) + `"}`,
				[]string{"id", "mode", "cron", "end", "duration_seconds", "name"}},
			{`{"mode":1}`, []string{"start"}},
			{`{"mode":1,"start":"2020-01-01T00:00:00Z"}`, []string{"start"}},
			{`{"mode":1,"cron":"* * * * * *","start":"` + at + `","end":"` + day().Add(time.Hour).Format(time.RFC3339) + `"}`, []string{"cron"}},
			{`{"mode":1,"start":"` + at + `","colour":"red"}`, []string{"colour"}},
			{`{"mode":"one"}`, []string{"mode"}},
		} {
			for _, route := range []string{"/scheduler/" + w.ID, "/scheduler/" + w.ID + "/check"} {
				f := e.do(http.MethodPost, route, tok, tc.body).fields(t)
				for _, name := range tc.fields {
					if f[name] == "" {
						t.Errorf("%s %s: no problem on %s in %v", route, tc.body, name, f)
					}
				}
				if len(f) != len(tc.fields) {
					t.Errorf("%s: fields %v, want %v", tc.body, f, tc.fields)
				}
			}
		}
		if r := e.do(http.MethodPost, "/scheduler/"+w.ID, tok, `{"mode":1,`); r.Status != http.StatusBadRequest {
			t.Errorf("malformed: %d %s", r.Status, r.Body)
		}
		if r := e.do(http.MethodPost, "/scheduler/not-a-uuid", tok, `{"mode":0}`); r.Status != http.StatusNotFound {
			t.Errorf("bad workflow id: %d %s", r.Status, r.Body)
		}
		if r := e.do(http.MethodPost, "/scheduler/"+w.ID, "", `{"mode":0}`); r.Status != http.StatusUnauthorized {
			t.Errorf("no token: %d", r.Status)
		}
		if n, b := e.counts(); n != 0 || b != 0 {
			t.Fatalf("bad input wrote %d executions, %d bookings", n, b)
		}
	})
}

// TestPartnerResource: a partner peer's compute cannot be checked yet: it
// is booked anyway, and the plan says so.
func TestPartnerResource(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		remote := resource.Ref{Peer: "partner", ID: "6b0e3c6c-4d0a-4d21-9a43-0e4c1d7b9f10"}
		w := e.workflow(alice, "Remote", e.processing("p", 100), remote, 1, nil)
		for range 2 {
			plan, err := e.as(alice).Book(ctx, w.ID, planned(day(), time.Hour))
			if err != nil || len(plan.Warnings) != 1 || !strings.Contains(plan.Warnings[0], `peer "partner" is not reachable`) {
				t.Fatalf("book: %+v %v", plan.Warnings, err)
			}
		}
		if n, b := e.counts(); n != 2 || b != 2 {
			t.Fatalf("stored %d executions, %d bookings", n, b)
		}
	})
}

// TestUnbookable: a workflow whose resource left the catalog cannot be
// booked; the answer names the resource, and nothing is written.
func TestUnbookable(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		comp := e.compute("gone", 4)
		w := e.workflow(alice, "Orphan", e.processing("p", 100), comp, 1, nil)
		if err := e.catalog(alice).Delete(ctx, comp.ID, 0); err != nil {
			t.Fatal(err)
		}
		_, err := e.as(alice).Book(ctx, w.ID, planned(day(), time.Hour))
		if status(err) != http.StatusBadRequest || !strings.Contains(err.Error(), comp.String()) {
			t.Fatalf("got %v", err)
		}
		if n, b := e.counts(); n != 0 || b != 0 {
			t.Fatalf("stored %d executions, %d bookings", n, b)
		}
	})
}
