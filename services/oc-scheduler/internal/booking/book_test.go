package booking_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"
	wf "github.com/opencloud/opencloud/libs/workflow"

	"github.com/opencloud/opencloud/services/oc-scheduler/executions"
	"github.com/opencloud/opencloud/services/oc-scheduler/internal/booking"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const peer = "local"

var alice = authn.Principal{Subject: "alice"}

// world is a workflow of one processing on one compute, as oc-workflow
// and the catalog would answer for it.
type world struct{}

func (world) Get(_ context.Context, _ authn.Principal, id string) (wf.Workflow, error) {
	return wf.Workflow{ID: id, Name: "w", Graph: wf.Graph{
		Nodes: []wf.Node{{ID: "k8s", Kind: resource.KindCompute, Resource: resource.Ref{Peer: peer, ID: "comp"}},
			{ID: "p", Kind: resource.KindProcessing, Resource: resource.Ref{Peer: peer, ID: "proc"}}},
		Links: []wf.Link{{ID: "c", Kind: wf.LinkCompute, From: "p", To: "k8s"}},
	}}, nil
}

func (world) Lookup(_ context.Context, _ authn.Principal, ids []string) (resource.LookupResult, error) {
	var out resource.LookupResult
	for _, id := range ids {
		switch id {
		case "comp":
			out.Items = append(out.Items, resource.Resource{ID: id, Kind: resource.KindCompute, PeerID: peer,
				Compute: &resource.Compute{CPUCores: 64}})
		case "proc":
			out.Items = append(out.Items, resource.Resource{ID: id, Kind: resource.KindProcessing, PeerID: peer,
				Processing: &resource.Processing{Requests: resource.Requests{CPUMillicores: 100}}})
		}
	}
	return out, nil
}

// freeLock is a Lock no one else takes.
type freeLock struct{}

func (freeLock) Acquire(context.Context) (booking.Lease, error) { return freeLock{}, nil }
func (freeLock) Renew(context.Context) error                    { return nil }
func (freeLock) Release(context.Context)                        {}

// journal is the executions journal, with a hook run before Finish (the
// moment between a request's writes and its commit) and a Finish that may
// commit and still fail (its answer lost).
type journal struct {
	s          *executions.Store
	beforeDone func(id string)
	lostAnswer bool
}

func (j *journal) Begin(ctx context.Context, id, workflowID, owner string) error {
	return j.s.BeginRequest(ctx, executions.RequestDoc{ID: id, WorkflowID: workflowID, Owner: owner, Holder: "test", At: executions.Stamp(time.Now())})
}

func (j *journal) Finish(ctx context.Context, id string) error {
	if j.beforeDone != nil {
		j.beforeDone(id)
	}
	if err := j.s.FinishRequest(ctx, id); err != nil {
		return err
	}
	if j.lostAnswer {
		return errors.New("test: the store's answer was lost")
	}
	return nil
}

func (j *journal) Undo(ctx context.Context, id string) error { return j.s.UndoRequest(ctx, id) }

// TestBookingIsClaimableOnceCommitted: between a booking request's writes
// and its commit, its executions are not due, cannot be claimed and are
// not announced; after it, they are due and each is announced once.
// A request that committed though Finish reported a failure is booked.
func TestBookingIsClaimableOnceCommitted(t *testing.T) {
	for _, b := range []struct {
		name string
		open func(testing.TB) store.Store
	}{{"sqlite", testenv.SQLiteStore}, {"mongo", testenv.MongoStore}} {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			nc := testenv.NATS(t)
			states, err := nc.SubscribeSync(event.ExecutionStates)
			if err != nil {
				t.Fatal(err)
			}
			execs, err := executions.Open(ctx, b.open(t), executions.WithEvents(broker.NewPublisher(nc, "test")))
			if err != nil {
				t.Fatal(err)
			}
			j := &journal{s: execs}
			svc := booking.NewService(booking.Config{Workflows: world{}, Catalog: world{}, Executions: execs, Lock: freeLock{},
				Journal: j, PeerID: peer, DefaultDuration: time.Minute, Now: time.Now, Log: slog.New(slog.DiscardHandler)})
			start := time.Now().Add(time.Minute).UTC().Truncate(time.Second)
			end := start.Add(4 * time.Second)
			req := execution.Request{Mode: execution.Planned, Cron: "* * * * * *", Start: start, End: &end}

			far := start.Add(time.Hour)
			j.beforeDone = func(id string) {
				staged, _, err := execs.Find(ctx, executions.Query{RequestID: id})
				if err != nil || len(staged) != 5 {
					t.Fatalf("staged before the commit: %d %v", len(staged), err)
				}
				if due, err := execs.Due(ctx, far, 100); err != nil || len(due) != 0 {
					t.Errorf("%d executions due before their request committed (%v)", len(due), err)
				}
				if _, ok, _ := execs.NextStart(ctx); ok {
					t.Error("a next start before the request committed")
				}
				if _, err := execs.Claim(ctx, staged[0].ID, "d/w", far); !errors.Is(err, executions.ErrStateChanged) {
					t.Errorf("claim before the request committed: %v", err)
				}
				if err := nc.Flush(); err != nil {
					t.Fatal(err)
				}
				if m, err := states.NextMsg(100 * time.Millisecond); err == nil {
					t.Errorf("announced before the request committed: %s", m.Data)
				}
			}
			plan, err := svc.Book(ctx, alice, "wf", req)
			if err != nil || len(plan.Executions) != 5 {
				t.Fatalf("book: %d executions, %v", len(plan.Executions), err)
			}
			j.beforeDone = nil
			if due, err := execs.Due(ctx, far, 100); err != nil || len(due) != 5 {
				t.Fatalf("%d executions due after the commit (%v)", len(due), err)
			}
			announced := map[string]int{}
			for range 5 {
				m, err := states.NextMsg(5 * time.Second)
				if err != nil {
					t.Fatal(err)
				}
				announced[m.Subject]++
			}
			for _, e := range plan.Executions {
				if announced[event.ExecutionState(e.ID)] != 1 {
					t.Errorf("execution %s announced %d times", e.ID, announced[event.ExecutionState(e.ID)])
				}
			}

			// Finish committed, but its answer was lost: booked all the same.
			j.lostAnswer = true
			req.Start, req.End = far, ptr(far.Add(time.Second))
			plan, err = svc.Book(ctx, alice, "wf", req)
			if err != nil || len(plan.Executions) != 2 {
				t.Fatalf("book with Finish's answer lost: %+v %v", plan.Executions, err)
			}
			if got, err := execs.Get(ctx, plan.Executions[0].ID); err != nil || got.State != execution.Scheduled {
				t.Fatalf("execution booked with Finish's answer lost: %+v %v", got, err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
