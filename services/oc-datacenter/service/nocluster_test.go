package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"

	"github.com/opencloud/opencloud/services/oc-datacenter/datacenter"
	"github.com/opencloud/opencloud/services/oc-datacenter/service"
)

// A peer without a kubeconfig runs: readiness names what is missing, and
// every route needing the cluster answers 503 no_cluster saying what to set.
func TestWithoutCluster(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := start(t, st, "")
		ctx := context.Background()

		r := e.do(http.MethodGet, "/datacenter/readyz", "", "")
		var ready struct {
			Ready  bool              `json:"ready"`
			Checks map[string]string `json:"checks"`
		}
		if err := json.Unmarshal(r.Body, &ready); err != nil {
			t.Fatal(err)
		}
		if r.Status != http.StatusServiceUnavailable || ready.Ready {
			t.Errorf("readyz: %d %s, want 503 not ready", r.Status, r.Body)
		}
		if got := ready.Checks["kubernetes"]; got != service.NoKubeconfig {
			t.Errorf("readyz kubernetes check %q, want %q", got, service.NoKubeconfig)
		}
		if ready.Checks["store"] != "ok" || ready.Checks["nats"] != "ok" {
			t.Errorf("readyz other checks: %v", ready.Checks)
		}
		if r := e.do(http.MethodGet, "/datacenter/healthz", "", ""); r.Status != http.StatusOK {
			t.Errorf("healthz %d", r.Status)
		}

		id := uuid.NewString()
		admin := e.as(root)
		calls := map[string]func() error{
			"prepare": func() error { _, err := admin.Prepare(ctx, id, uuid.NewString()); return err },
			"release": func() error { return admin.Release(ctx, id) },
			"nodes":   func() error { _, err := e.as(alice).Nodes(ctx); return err },
			"publish": func() error { _, err := admin.PublishInventory(ctx, datacenter.PublishRequest{}); return err },
		}
		for name, call := range calls {
			ae := apiErr(t, call())
			if ae.Status != http.StatusServiceUnavailable || ae.Code != "no_cluster" || !strings.Contains(ae.Message, "OC_KUBECONFIG") {
				t.Errorf("%s: %d %s %q, want 503 no_cluster naming OC_KUBECONFIG", name, ae.Status, ae.Code, ae.Message)
			}
		}
		if _, err := e.dc.Sweep(ctx, time.Now()); !errors.Is(err, service.ErrNoCluster) {
			t.Errorf("Sweep without a cluster: %v", err)
		}
		// Run has nothing to do without a cluster and returns at once.
		if err := e.dc.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// Who may call what, checked before the cluster is: no token 401, a user
// writing 403.
func TestAccess(t *testing.T) {
	e := start(t, testenv.SQLiteStore(t), "")
	ctx := context.Background()
	id := uuid.NewString()
	if r := e.do(http.MethodGet, "/datacenter/nodes", "", ""); r.Status != http.StatusUnauthorized {
		t.Errorf("nodes without a token: %d", r.Status)
	}
	user := e.as(alice)
	for name, err := range map[string]error{
		"prepare": func() error { _, err := user.Prepare(ctx, id, uuid.NewString()); return err }(),
		"release": user.Release(ctx, id),
		"publish": func() error { _, err := user.PublishInventory(ctx, datacenter.PublishRequest{}); return err }(),
	} {
		if ae := apiErr(t, err); ae.Status != http.StatusForbidden || !strings.Contains(ae.Message, "admin") {
			t.Errorf("%s as a user: %d %q, want 403 naming the admin role", name, ae.Status, ae.Message)
		}
	}
}

// Bad input is a 400 naming the field and what to send, before the
// cluster is even asked: these run with no cluster at all.
func TestBadInput(t *testing.T) {
	e := start(t, testenv.SQLiteStore(t), "")
	tok := e.token(root)
	wf := uuid.NewString()
	for _, tc := range []struct {
		name, method, path, body, field string
	}{
		{"id not a namespace name", "POST", "/datacenter/executions/Not_A_Name/prepare", `{"workflow_id":"` + wf + `"}`, "id"},
		{"id too long", "POST", "/datacenter/executions/" + strings.Repeat("a", 61) + "/prepare", `{"workflow_id":"` + wf + `"}`, "id"},
		{"no workflow", "POST", "/datacenter/executions/" + uuid.NewString() + "/prepare", `{}`, "workflow_id"},
		{"workflow not a label value", "POST", "/datacenter/executions/" + uuid.NewString() + "/prepare", `{"workflow_id":"a b"}`, "workflow_id"},
		{"unknown field", "POST", "/datacenter/executions/" + uuid.NewString() + "/prepare", `{"workflow_id":"` + wf + `","namespace":"x"}`, "namespace"},
		{"wrong type", "POST", "/datacenter/executions/" + uuid.NewString() + "/prepare", `{"workflow_id":7}`, "workflow_id"},
		{"release bad id", "DELETE", "/datacenter/executions/UPPER", "", "id"},
		{"unknown visibility", "POST", "/datacenter/inventory/publish", `{"visibility":"everyone"}`, "visibility"},
		{"groups without groups visibility", "POST", "/datacenter/inventory/publish", `{"groups":["lab-a"]}`, "groups"},
		{"groups visibility without groups", "POST", "/datacenter/inventory/publish", `{"visibility":"groups"}`, "groups"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tok, tc.body)
			env := envelope(t, r)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("%d %s, want 400", r.Status, r.Body)
			}
			fields, _ := env.Details.([]apierror.FieldError)
			if !strings.Contains(env.Message, tc.field) && !hasField(fields, tc.field) {
				t.Errorf("the error does not name %q: %s", tc.field, r.Body)
			}
		})
	}
	if r := e.do("POST", "/datacenter/executions/"+uuid.NewString()+"/prepare", tok, `{"workflow_id":`); r.Status != http.StatusBadRequest {
		t.Errorf("malformed JSON: %d %s", r.Status, r.Body)
	}
}

func hasField(fields []apierror.FieldError, name string) bool {
	for _, f := range fields {
		if f.Field == name {
			return true
		}
	}
	return false
}

// A kubeconfig that cannot be read stops the start with a message naming
// it; a cluster name the catalog would refuse too.
func TestBadConfiguration(t *testing.T) {
	e := start(t, testenv.SQLiteStore(t), "")
	for name, d := range map[string]service.Deps{
		"missing kubeconfig":    {Kubeconfig: "/nonexistent/kubeconfig"},
		"bad cluster name":      {Cluster: "Not A Name"},
		"negative retention":    {Retention: -time.Hour},
		"short credentials key": {CredentialsKey: []byte("too short")},
	} {
		if _, err := service.New(context.Background(), e.deps(d)); err == nil {
			t.Errorf("%s: New accepted it", name)
		} else if !strings.Contains(err.Error(), "OC_") {
			t.Errorf("%s: %v does not name the variable to fix", name, err)
		}
	}
}
