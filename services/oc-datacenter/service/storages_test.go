package service_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencloud/opencloud/libs/execution"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"

	"github.com/opencloud/opencloud/services/oc-datacenter/datacenter"
	"github.com/opencloud/opencloud/services/oc-datacenter/internal/provision"
)

// checkSecret asserts the S3 Secret of storage ref in execution id's
// namespace holds exactly these credentials, labelled like the rest.
func (e *env) checkSecret(id, wf string, ref resource.Ref, access, secret string) {
	e.t.Helper()
	s, err := e.kube.CoreV1().Secrets(execution.Namespace(id)).Get(context.Background(), execution.S3SecretName(ref), metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("secret of %s: %v", ref, err)
	}
	if s.Type != "Opaque" || len(s.Data) != 2 || string(s.Data[execution.S3AccessKey]) != access || string(s.Data[execution.S3SecretKey]) != secret {
		e.t.Errorf("secret of %s: type %s, %d keys, access %q", ref, s.Type, len(s.Data), s.Data[execution.S3AccessKey])
	}
	for k, v := range map[string]string{execution.LabelExecution: id, execution.LabelWorkflow: wf, execution.LabelManaged: "opencloud"} {
		if s.Labels[k] != v {
			e.t.Errorf("secret of %s: label %s=%q, want %q", ref, k, s.Labels[k], v)
		}
	}
	if s.Annotations[provision.AnnotationStorage] != ref.String() {
		e.t.Errorf("secret of %s: annotations %v", ref, s.Annotations)
	}
}

// secretCount is how many S3 Secrets OpenCloud made in execution id's namespace.
func (e *env) secretCount(id string) int {
	e.t.Helper()
	list, err := e.kube.CoreV1().Secrets(execution.Namespace(id)).List(context.Background(),
		metav1.ListOptions{LabelSelector: execution.LabelManaged + "=opencloud"})
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, s := range list.Items {
		if s.Annotations[provision.AnnotationStorage] != "" {
			n++
		}
	}
	return n
}

// Prepare puts each storage's credentials in the namespace as the Secret
// oc-monitord refers to; again, nothing changes; what drifted is put back;
// new credentials reach the Secret; release takes the Secrets away.
func TestPrepareStorages(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := withCluster(t, st)
		ctx := context.Background()
		a, b := e.storage("a"), e.storage("b")
		e.setCredentials(a, "AK-A", "secret-a/+=")
		e.setCredentials(b, "AK-B", "secret-b")
		refA, refB := resource.Ref{Peer: peerID, ID: a.ID}, resource.Ref{Peer: peerID, ID: b.ID}
		id, wf := e.newExecution(), uuid.NewString()
		// A peer "" is this peer; a storage named twice is one Secret.
		req := datacenter.PrepareRequest{WorkflowID: wf, Storages: []resource.Ref{{ID: a.ID}, refB, refA}}

		body, _ := json.Marshal(req)
		r := e.do(http.MethodPost, "/datacenter/executions/"+id+"/prepare", e.token(root), string(body))
		if r.Status != http.StatusOK || strings.Contains(string(r.Body), "secret-a") || strings.Contains(string(r.Body), "secret-b") {
			t.Fatalf("prepare: %d %s", r.Status, r.Body)
		}
		var p datacenter.Prepared
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		want := []datacenter.Object{
			{Kind: "Secret", Name: execution.S3SecretName(refA), Namespace: execution.Namespace(id), Action: datacenter.Created},
			{Kind: "Secret", Name: execution.S3SecretName(refB), Namespace: execution.Namespace(id), Action: datacenter.Created},
		}
		if len(p.Objects) != fixedObjects+2 || !slices.Equal(actions(p)[:fixedObjects], all(datacenter.Created)) || !slices.Equal(p.Objects[fixedObjects:], want) {
			t.Fatalf("objects %+v", p.Objects)
		}
		e.checkSecret(id, wf, refA, "AK-A", "secret-a/+=")
		e.checkSecret(id, wf, refB, "AK-B", "secret-b")
		e.checkObjects(id, wf, execution.S3SecretName(refA), execution.S3SecretName(refB))

		again, err := e.as(root).PrepareWith(ctx, id, req)
		if err != nil {
			t.Fatal(err)
		}
		if acts := actions(again); len(acts) != fixedObjects+2 || slices.ContainsFunc(acts, func(a datacenter.Action) bool { return a != datacenter.Unchanged }) {
			t.Errorf("second prepare: %v, want all unchanged", acts)
		}

		// Somebody edits a's Secret (value, extra key, label); b's credentials are replaced.
		secrets := e.kube.CoreV1().Secrets(execution.Namespace(id))
		s, err := secrets.Get(ctx, execution.S3SecretName(refA), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.Data[execution.S3SecretKey] = []byte("tampered")
		s.Data["extra"] = []byte("x")
		delete(s.Labels, execution.LabelWorkflow)
		if _, err := secrets.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		e.setCredentials(b, "AK-B2", "secret-b2")
		fixed, err := e.as(root).PrepareWith(ctx, id, req)
		if err != nil {
			t.Fatal(err)
		}
		wantActs := append(all(datacenter.Unchanged), datacenter.Updated, datacenter.Updated)
		if !slices.Equal(actions(fixed), wantActs) {
			t.Errorf("prepare after drift: %v, want %v", actions(fixed), wantActs)
		}
		e.checkSecret(id, wf, refA, "AK-A", "secret-a/+=")
		e.checkSecret(id, wf, refB, "AK-B2", "secret-b2")

		// Released: the namespace goes, and its Secrets with it.
		if err := e.as(root).Release(ctx, id); err != nil {
			t.Fatal(err)
		}
		e.namespaceGone(execution.Namespace(id), true)
		for _, ref := range []resource.Ref{refA, refB} {
			if _, err := secrets.Get(ctx, execution.S3SecretName(ref), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("secret of %s after release: %v", ref, err)
			}
		}
	})
}

// A storage of another peer, or one without credentials, refuses the
// whole prepare before anything is made, naming every storage refused.
func TestPrepareStoragesRefused(t *testing.T) {
	e := withCluster(t, testenv.SQLiteStore(t))
	ctx := context.Background()
	a, bare := e.storage("a"), e.storage("no credentials")
	e.setCredentials(a, "AK-A", "secret-a")
	refA := resource.Ref{Peer: peerID, ID: a.ID}
	remote := resource.Ref{Peer: "peer-b", ID: uuid.NewString()}

	for _, tc := range []struct {
		name     string
		storages []resource.Ref
		code     string
		says     []string
		refused  int
	}{
		{"remote", []resource.Ref{refA, remote}, "remote_storage",
			[]string{"storage " + remote.String() + " belongs to peer peer-b: its credentials are issued by that peer, which needs federation (not configured)"}, 1},
		{"missing", []resource.Ref{refA, {ID: bare.ID}}, "storage_credentials_missing",
			[]string{peerID + "/" + bare.ID, "PUT /datacenter/storages/" + bare.ID + "/credentials"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := e.newExecution()
			body, _ := json.Marshal(datacenter.PrepareRequest{WorkflowID: uuid.NewString(), Storages: tc.storages})
			r := e.do(http.MethodPost, "/datacenter/executions/"+id+"/prepare", e.token(root), string(body))
			env := envelope(t, r)
			if r.Status != http.StatusConflict || env.Code != tc.code {
				t.Fatalf("%d %s, want 409 %s", r.Status, r.Body, tc.code)
			}
			for _, s := range tc.says {
				if !strings.Contains(env.Message, s) {
					t.Errorf("message %q does not say %q", env.Message, s)
				}
			}
			var refused struct {
				Error struct {
					Details []struct{ Storage, Code, Problem string } `json:"details"`
				} `json:"error"`
			}
			if err := json.Unmarshal(r.Body, &refused); err != nil {
				t.Fatal(err)
			}
			if d := refused.Error.Details; len(d) != tc.refused || d[0].Code != tc.code || !strings.HasSuffix(d[0].Storage, "/"+tc.storages[1].ID) {
				t.Errorf("details %+v, want %d storages refused", d, tc.refused)
			}
			if _, err := e.kube.CoreV1().Namespaces().Get(ctx, execution.Namespace(id), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("a refused prepare made the namespace: %v", err)
			}
		})
	}

	// Once the storage has credentials, the same execution prepares.
	id := e.newExecution()
	req := datacenter.PrepareRequest{WorkflowID: uuid.NewString(), Storages: []resource.Ref{refA, {ID: bare.ID}}}
	if _, err := e.as(root).PrepareWith(ctx, id, req); apiErr(t, err).Code != "storage_credentials_missing" {
		t.Fatalf("prepare: %v", err)
	}
	e.setCredentials(bare, "AK", "SK")
	if _, err := e.as(root).PrepareWith(ctx, id, req); err != nil {
		t.Fatal(err)
	}
	if n := e.secretCount(id); n != 2 {
		t.Errorf("%d secrets, want 2", n)
	}

	// Without a credentials key: storages cannot be served, the rest can.
	nokey := withCluster(t, testenv.SQLiteStore(t), noCredentialsKey)
	id2 := nokey.newExecution()
	_, err := nokey.as(root).PrepareWith(ctx, id2, datacenter.PrepareRequest{WorkflowID: uuid.NewString(), Storages: []resource.Ref{refA}})
	if ae := apiErr(t, err); ae.Status != http.StatusServiceUnavailable || ae.Code != "no_credentials_key" {
		t.Errorf("prepare with storages and no key: %v", err)
	}
	if _, err := nokey.as(root).Prepare(ctx, id2, uuid.NewString()); err != nil {
		t.Errorf("prepare without storages and no key: %v", err)
	}

	// Storages that cannot name a storage are a 400 naming the field.
	for _, tc := range []struct{ body, field string }{
		{`{"workflow_id":"w","storages":[{"peer":"local"}]}`, "storages[0].id"},
		{`{"workflow_id":"w","storages":[{"id":"ok"},{"id":"a/b"}]}`, "storages[1].id"},
		{`{"workflow_id":"w","storages":[{"id":"ok","size":1}]}`, "storages[0].size"},
	} {
		r := e.do(http.MethodPost, "/datacenter/executions/"+uuid.NewString()+"/prepare", e.token(root), tc.body)
		if env := envelope(t, r); r.Status != http.StatusBadRequest || !strings.Contains(env.Message, tc.field) {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.body, r.Status, r.Body, tc.field)
		}
	}
}
