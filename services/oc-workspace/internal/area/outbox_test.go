package area_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/opencloud/opencloud/libs/authn/authntest"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"
	wire "github.com/opencloud/opencloud/libs/workspace"

	"github.com/opencloud/opencloud/services/oc-workspace/api"
	"github.com/opencloud/opencloud/services/oc-workspace/internal/area"
	wsstore "github.com/opencloud/opencloud/services/oc-workspace/internal/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// flakyLog loses appends while down, as a process stopping between an
// area's replace and its op's append would.
type flakyLog struct {
	*wsstore.Ops
	down atomic.Bool
}

func (f *flakyLog) Append(ctx context.Context, op wire.Op) error {
	if f.down.Load() {
		return errors.New("log unreachable")
	}
	return f.Ops.Append(ctx, op)
}

// The op log is lossless without transactions: an op whose append was lost
// is appended before the area's next change, or when its history is read.
func TestLostOpsAreRepaired(t *testing.T) {
	for _, b := range []struct {
		name string
		open func(testing.TB) store.Store
	}{{"sqlite", testenv.SQLiteStore}, {"mongo", testenv.MongoStore}} {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			_, areas, ops, err := wsstore.Open(ctx, b.open(t))
			if err != nil {
				t.Fatal(err)
			}
			log := &flakyLog{Ops: ops}
			svc := area.NewService(area.Deps{Repo: areas, Ops: log, PeerID: "local", Logger: testenv.Logger(t)})
			alice := authntest.User("alice")
			log.down.Store(true)
			a, err := svc.Create(ctx, alice, wire.AreaInput{Name: "A"})
			if err != nil {
				t.Fatalf("create with the log down: %v", err)
			}
			if n, _ := ops.Count(ctx, a.ID); n != 0 {
				t.Fatalf("%d ops logged with the log down", n)
			}
			log.down.Store(false)
			h, err := svc.History(ctx, alice, a.ID, 20, 0)
			if err != nil || h.Total != 1 || h.Items[0].Type != wire.OpCreated {
				t.Fatalf("history after the loss = %+v, %v", h, err)
			}

			log.down.Store(true)
			if _, err := svc.AddPeer(ctx, alice, a.ID, "partner-b"); err == nil {
				t.Fatal("a change while the previous op is not logged must wait for the log")
			}
			log.down.Store(false)
			if _, err := svc.AddPeer(ctx, alice, a.ID, "partner-b"); err != nil {
				t.Fatal(err)
			}
			// The append after the replace is lost: the change commits, its
			// op stays in the area only; the next change logs it first.
			lossy := area.NewService(area.Deps{Repo: areas, Ops: &afterReplace{Ops: ops}, PeerID: "local", Logger: testenv.Logger(t)})
			if _, err := lossy.AddMember(ctx, alice, a.ID, api.MemberInput{Subject: "bob"}); err != nil {
				t.Fatal(err)
			}
			if n, _ := ops.Count(ctx, a.ID); n != 2 {
				t.Fatalf("%d ops logged, want 2 (the member's op lost)", n)
			}
			if _, err := svc.RemovePeer(ctx, alice, a.ID, "partner-b"); err != nil {
				t.Fatal(err)
			}
			h, err = svc.History(ctx, alice, a.ID, 20, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := []wire.OpType{wire.OpPeerRemoved, wire.OpMemberAdded, wire.OpPeerAdded, wire.OpCreated}
			if len(h.Items) != len(want) {
				t.Fatalf("history = %+v", h.Items)
			}
			for i, op := range h.Items {
				if op.Type != want[i] || op.Seq != int64(len(want)-i) {
					t.Errorf("op %d = %s seq %d, want %s seq %d", i, op.Type, op.Seq, want[i], len(want)-i)
				}
			}
		})
	}
}

// afterReplace lets the pre-change repair through (the previous op is
// logged already) and loses the append of the change itself.
type afterReplace struct {
	*wsstore.Ops
	calls atomic.Int32
}

func (a *afterReplace) Append(ctx context.Context, op wire.Op) error {
	if a.calls.Add(1) == 1 {
		return a.Ops.Append(ctx, op)
	}
	return errors.New("lost")
}
