package service_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/opencloud/opencloud/libs/resource"
)

// A client that lost the answer to a create and sends it again with the same
// Idempotency-Key gets the first resource back, and nothing new is stored.
func TestCreateIsSafeToRetryWithAnIdempotencyKey(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		body, _ := json.Marshal(sample(resource.KindData, "Retried"))
		tok := e.iss.Token(alice)
		first := e.do(http.MethodPost, "/catalog/resources", tok, string(body), "Idempotency-Key", "0b4e7c1e-retry")
		retry := e.do(http.MethodPost, "/catalog/resources", tok, string(body), "Idempotency-Key", "0b4e7c1e-retry")
		if first.Status != http.StatusCreated || retry.Status != http.StatusCreated {
			t.Fatalf("statuses %d, %d: %s", first.Status, retry.Status, retry.Body)
		}
		var a, b resource.Resource
		_ = json.Unmarshal(first.Body, &a)
		_ = json.Unmarshal(retry.Body, &b)
		if a.ID == "" || a.ID != b.ID || retry.Header.Get("Location") != first.Header.Get("Location") ||
			retry.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry created another resource or lost headers: %s vs %s", a.ID, b.ID)
		}
		if n := e.count(); n != 1 {
			t.Fatalf("%d resources stored, want 1", n)
		}
		other, _ := json.Marshal(sample(resource.KindData, "Something else"))
		if r := e.do(http.MethodPost, "/catalog/resources", tok, string(other), "Idempotency-Key", "0b4e7c1e-retry"); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("key reused with another body: %d %s", r.Status, r.Body)
		}
		if r := e.do(http.MethodPost, "/catalog/resources", tok, string(body)); r.Status != http.StatusCreated || e.count() != 2 {
			t.Fatalf("without a key a create runs: %d, %d stored", r.Status, e.count())
		}
	})
}
