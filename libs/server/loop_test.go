package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opencloud/opencloud/libs/server"
)

func TestLoopTellsDyingFromStopping(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name   string
		run    func(ctx context.Context) error
		cancel bool
		died   bool
	}{
		{"returns its context's error when stopped", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, true, false},
		{"wraps its context's error when stopped", func(ctx context.Context) error { <-ctx.Done(); return fmt.Errorf("consume: %w", ctx.Err()) }, true, false},
		{"has nothing to do", func(context.Context) error { return nil }, false, false},
		{"fails", func(context.Context) error { return boom }, false, true},
		{"fails while stopping", func(ctx context.Context) error { <-ctx.Done(); return boom }, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			l := server.StartLoop(ctx, "svc", tc.run)
			if tc.cancel {
				cancel()
			}
			<-l.Done()
			err := l.Check().Check(context.Background())
			if died := err != nil; died != tc.died || (died && (!errors.Is(err, boom) || !strings.Contains(err.Error(), "svc"))) {
				t.Errorf("check = %v, want died %v naming svc", err, tc.died)
			}
		})
	}
}

func TestWithChecksAddsToReadyz(t *testing.T) {
	e, _ := server.New(server.Options{Name: "test", Prefix: "/test",
		Checks: []server.Check{{Name: "store", Check: func(context.Context) error { return nil }}}})
	failing := server.Check{Name: server.LoopCheck, Check: func(context.Context) error { return errors.New("loop died") }}
	for _, tc := range []struct {
		h    http.Handler
		want int
	}{{e, http.StatusOK}, {server.WithChecks(e), http.StatusOK}, {server.WithChecks(e, failing), http.StatusServiceUnavailable}} {
		rec := httptest.NewRecorder()
		tc.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/test/readyz", nil))
		if rec.Code != tc.want || !strings.Contains(rec.Body.String(), `"store":"ok"`) ||
			(tc.want != http.StatusOK) != strings.Contains(rec.Body.String(), `"background":"loop died"`) {
			t.Errorf("readyz = %d %s, want %d", rec.Code, rec.Body, tc.want)
		}
	}
}
