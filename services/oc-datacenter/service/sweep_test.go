package service_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/testenv"

	"github.com/opencloud/opencloud/services/oc-datacenter/service"
)

// The sweep learns which executions are over from oc-scheduler alone: when
// oc-scheduler cannot answer for them — no service identity, an identity
// that does not see every execution, or no oc-scheduler behind the
// gateway — it deletes nothing, even a namespace whose execution it would
// otherwise count as unknown and long over.
func TestSweepDeletesNothingWithoutTheScheduler(t *testing.T) {
	e := withCluster(t, testenv.SQLiteStore(t))
	ctx := context.Background()
	id := e.newExecution()
	if _, err := e.as(root).Prepare(ctx, id, uuid.NewString()); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * retention)
	for _, tc := range []struct {
		name   string
		change func(d *service.Deps)
	}{
		{"no service identity", func(d *service.Deps) { d.ServiceToken = nil }},
		{"a user's identity", func(d *service.Deps) { d.ServiceToken = apiclient.StaticToken(e.token(alice)) }},
		{"no oc-scheduler behind the gateway", func(d *service.Deps) { d.GatewayURL = testenv.NewGateway(t).URL }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := e.base
			tc.change(&d)
			dc, err := service.New(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			res, err := dc.Sweep(ctx, later)
			if !errors.Is(err, service.ErrNoScheduler) || len(res.Deleted) != 0 {
				t.Errorf("Sweep = %+v, %v; want nothing deleted and ErrNoScheduler", res, err)
			}
			if !e.alive(execution.Namespace(id)) {
				t.Fatal("the namespace was deleted")
			}
		})
	}
	// With oc-scheduler answering, the same sweep deletes it.
	if _, err := e.dc.Sweep(ctx, later); err != nil {
		t.Fatal(err)
	}
	if e.alive(execution.Namespace(id)) {
		t.Error("with oc-scheduler answering, the namespace of an unknown execution past the retention was kept")
	}
}
