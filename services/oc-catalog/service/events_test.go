package service_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/libs/resource"
)

func TestEvents(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ch := make(chan *nats.Msg, 16)
		sub, err := e.NATS.ChanSubscribe("oc.resource.>", ch)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Unsubscribe() }()
		if err := e.NATS.Flush(); err != nil {
			t.Fatal(err)
		}

		expect := func(typ string, want resource.Resource, requestID string) {
			t.Helper()
			m := waitFor(t, ch)
			var env event.Envelope
			if err := json.Unmarshal(m.Data, &env); err != nil {
				t.Fatalf("event is not an envelope: %s", m.Data)
			}
			if m.Subject != typ || env.Type != typ || env.Source != "catalog" || env.Subject != want.ID ||
				env.Actor != "alice" || env.ID == "" || time.Since(env.Time) > time.Minute {
				t.Errorf("event on %s = %+v, want type %s about %s by alice", m.Subject, env, typ, want.ID)
			}
			if requestID != "" && env.RequestID != requestID {
				t.Errorf("request_id = %q, want %q", env.RequestID, requestID)
			}
			var got resource.Resource
			if err := json.Unmarshal(env.Data, &got); err != nil || got.ID != want.ID || got.Version != want.Version || got.Name != want.Name {
				t.Errorf("event data = %+v (%v), want the resource at version %d", got, err, want.Version)
			}
		}

		resp := e.do(http.MethodPost, "/catalog/resources", e.iss.Token(alice),
			`{"kind":"workflow","name":"Evented","visibility":"public","workflow":{"workflow_id":"w"}}`, "X-Request-ID", "req-42")
		if resp.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", resp.Status, resp.Body)
		}
		var created resource.Resource
		if err := json.Unmarshal(resp.Body, &created); err != nil {
			t.Fatal(err)
		}
		expect(event.ResourceCreated, created, "req-42")

		updated, err := e.as(alice).Patch(ctx, created.ID, created.Version, map[string]any{"name": "Evented twice"})
		if err != nil {
			t.Fatal(err)
		}
		expect(event.ResourceUpdated, updated, "")

		if err := e.as(alice).Delete(ctx, created.ID, updated.Version); err != nil {
			t.Fatal(err)
		}
		expect(event.ResourceDeleted, updated, "")

		// Refused changes publish nothing.
		_ = e.do(http.MethodPost, "/catalog/resources", e.iss.Token(alice), `{"kind":"nope"}`)
		_ = e.do(http.MethodDelete, "/catalog/resources/"+created.ID, e.iss.Token(alice), "")
		if err := e.NATS.Flush(); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-ch:
			t.Errorf("unexpected event %s: %s", m.Subject, m.Data)
		case <-time.After(200 * time.Millisecond):
		}
	})
}
