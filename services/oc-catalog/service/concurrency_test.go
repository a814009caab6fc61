package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"testing"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/resource"
)

// currentVersion reads the current_version of a 409's details.
func currentVersion(t *testing.T, err error) int64 {
	t.Helper()
	var ae *apierror.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict || ae.Code != "version_conflict" {
		t.Fatalf("err = %v, want a 409 version_conflict", err)
	}
	raw, _ := json.Marshal(ae.Details)
	var d struct {
		CurrentVersion int64 `json:"current_version"`
	}
	if err := json.Unmarshal(raw, &d); err != nil || d.CurrentVersion == 0 {
		t.Fatalf("details %s have no current_version", raw)
	}
	return d.CurrentVersion
}

func TestOptimisticConcurrency(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.as(alice)
		v1 := e.create(alice, sample(resource.KindData, "Original"))

		// Two editors read version 1; the first to write wins.
		first := v1.Input()
		first.Name = "First edit"
		v2, err := c.Update(ctx, v1.ID, v1.Version, first)
		if err != nil || v2.Version != 2 {
			t.Fatalf("first update: %+v, %v", v2, err)
		}
		second := v1.Input()
		second.Name = "Second edit"
		_, err = c.Update(ctx, v1.ID, v1.Version, second)
		if cur := currentVersion(t, err); cur != 2 {
			t.Errorf("current_version = %d, want 2", cur)
		}
		if got := e.stored(v1.ID); !reflect.DeepEqual(got, v2) {
			t.Errorf("after a stale update the stored resource is %+v, want the first edit %+v", got, v2)
		}

		// The same rule when the version is in the body instead of If-Match.
		second.Version = 1
		if _, err := c.Update(ctx, v1.ID, 0, second); currentVersion(t, err) != 2 {
			t.Error("stale body version not refused")
		}
		second.Version = 2
		v3, err := c.Update(ctx, v1.ID, 0, second)
		if err != nil || v3.Version != 3 || v3.Name != "Second edit" {
			t.Fatalf("update with the body version: %+v, %v", v3, err)
		}

		tok := e.iss.Token(alice)
		path := "/catalog/resources/" + v1.ID
		body, _ := json.Marshal(v3.Input())
		noVersion := v3.Input()
		noVersion.Version = 0
		bodyNoVersion, _ := json.Marshal(noVersion)
		for _, tt := range []struct {
			name   string
			method string
			body   []byte
			header []string
			status int
			code   string
			field  string
		}{
			{"PUT without any version", http.MethodPut, bodyNoVersion, nil, http.StatusPreconditionRequired, "precondition_required", ""},
			{"If-Match and body disagree", http.MethodPut, body, []string{"If-Match", `"2"`}, http.StatusBadRequest, "invalid_request", "version"},
			{"malformed If-Match", http.MethodPut, bodyNoVersion, []string{"If-Match", `W/"3"`}, http.StatusBadRequest, "invalid_request", "If-Match"},
			{"If-Match star", http.MethodPut, bodyNoVersion, []string{"If-Match", `*`}, http.StatusBadRequest, "invalid_request", "If-Match"},
			{"stale PATCH", http.MethodPatch, []byte(`{"name":"late"}`), []string{"If-Match", `"1"`}, http.StatusConflict, "version_conflict", ""},
			{"stale PATCH body version", http.MethodPatch, []byte(`{"name":"late","version":2}`), nil, http.StatusConflict, "version_conflict", ""},
			{"stale DELETE", http.MethodDelete, nil, []string{"If-Match", `"2"`}, http.StatusConflict, "version_conflict", ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				resp := e.do(tt.method, path, tok, string(tt.body), tt.header...)
				ae := resp.envelope(t)
				if resp.Status != tt.status || ae.Code != tt.code {
					t.Errorf("%d %s, want %d %s", resp.Status, resp.Body, tt.status, tt.code)
				}
				if tt.field != "" {
					if fs := ae.Details.([]apierror.FieldError); len(fs) != 1 || fs[0].Field != tt.field {
						t.Errorf("details %v, want field %s", ae.Details, tt.field)
					}
				}
				if got := e.stored(v1.ID); !reflect.DeepEqual(got, v3) {
					t.Errorf("stored changed to %+v", got)
				}
			})
		}

		// An ETag read from GET is what If-Match takes.
		get := e.do(http.MethodGet, path, tok, "")
		resp := e.do(http.MethodPatch, path, tok, `{"name":"Via ETag"}`, "If-Match", get.Header.Get("ETag"),
			"Content-Type", "application/merge-patch+json")
		if resp.Status != http.StatusOK || resp.Header.Get("ETag") != `"4"` {
			t.Errorf("PATCH with the GET ETag: %d %s", resp.Status, resp.Body)
		}
		if err := c.Delete(ctx, v1.ID, 4); err != nil {
			t.Errorf("DELETE with the current version: %v", err)
		}
	})
}

// TestConcurrentUpdates: of many writers holding the same version, exactly
// one wins and the others get a 409; no write is lost or doubled.
func TestConcurrentUpdates(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.create(alice, sample(resource.KindWorkflow, "Contended"))
		const writers = 8
		var wg sync.WaitGroup
		results := make([]error, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				in := r.Input()
				in.Name = fmt.Sprintf("writer %d", i)
				_, results[i] = e.as(alice).Update(ctx, r.ID, r.Version, in)
			}()
		}
		wg.Wait()
		var won []int
		for i, err := range results {
			switch status(err) {
			case 0:
				won = append(won, i)
			case http.StatusConflict:
			default:
				t.Errorf("writer %d: %v", i, err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("%d writers won, want exactly 1", len(won))
		}
		if got := e.stored(r.ID); got.Version != 2 || got.Name != fmt.Sprintf("writer %d", won[0]) {
			t.Errorf("stored %q v%d, want the winner's write as version 2", got.Name, got.Version)
		}

		// Merge patches without a version are applied one after another: none is lost.
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i] = e.as(alice).Patch(ctx, r.ID, 0, map[string]any{"description": fmt.Sprint(i)})
			}()
		}
		wg.Wait()
		applied := int64(0)
		for i, err := range results {
			switch status(err) {
			case 0:
				applied++
			case http.StatusConflict: // gave up after retries under contention
			default:
				t.Errorf("patch %d: %v", i, err)
			}
		}
		if got := e.stored(r.ID); applied == 0 || got.Version != 2+applied {
			t.Errorf("%d patches applied, stored version %d: want %d", applied, got.Version, 2+applied)
		}
	})
}
