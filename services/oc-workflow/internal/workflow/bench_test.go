package workflow

import (
	"fmt"
	"testing"

	"github.com/opencloud/opencloud/libs/resource"
	wf "github.com/opencloud/opencloud/libs/workflow"

	"github.com/opencloud/opencloud/services/oc-workflow/internal/graphgen"
)

func distinctRefs(k resource.Kind, i int) resource.Ref {
	return resource.Ref{Peer: peer, ID: fmt.Sprintf("%s-%04d", k, i)}
}

func TestRealisticIsValid(t *testing.T) {
	for _, n := range []int{10, 1000, wf.MaxNodes} {
		in := graphgen.Realistic(n, distinctRefs)
		if v := Validate(&in, allFound(&in)); !v.Valid {
			t.Fatalf("%d nodes: %+v", n, v.Problems[0])
		}
	}
}

// BenchmarkValidate: validation of a realistic graph with its resources
// already resolved (the pure domain part).
func BenchmarkValidate(b *testing.B) {
	for _, n := range []int{1000, wf.MaxNodes} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			in := graphgen.Realistic(n, distinctRefs)
			facts := allFound(&in)
			b.ReportAllocs()
			for b.Loop() {
				if v := Validate(&in, facts); !v.Valid {
					b.Fatal(v.Problems[0])
				}
			}
		})
	}
}
