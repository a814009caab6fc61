package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/testenv"

	"github.com/opencloud/opencloud/services/oc-workflow/internal/graphgen"
)

// BenchmarkValidateHTTP: POST /workflow/workflows/validate of a realistic
// 1,000-node graph over HTTP through the gateway, each node on its own
// catalog resource, so that every call looks 1,000 resources up in the
// catalog (SQLite, the all-in-one store).
func BenchmarkValidateHTTP(b *testing.B) {
	e := start(b, testenv.SQLiteStore(b))
	ctx := context.Background()
	ids := map[resource.Kind][]resource.Ref{}
	in := graphgen.Realistic(1000, func(k resource.Kind, i int) resource.Ref {
		for len(ids[k]) <= i {
			ids[k] = append(ids[k], e.newResource(alice, k, fmt.Sprintf("%s %d", k, len(ids[k])), resource.Public, true))
		}
		return ids[k][i]
	})
	c := e.as(alice)
	b.ReportAllocs()
	var total time.Duration
	for b.Loop() {
		t0 := time.Now()
		v, err := c.Validate(ctx, in, "")
		if err != nil || !v.Valid {
			b.Fatalf("%v %+v", err, v.Problems[:min(1, len(v.Problems))])
		}
		total += time.Since(t0)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/validation")
}
