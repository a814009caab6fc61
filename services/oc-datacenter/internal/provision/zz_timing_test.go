package provision_test

import (
	"testing"
	"time"
)

func TestZZTiming(t *testing.T) {
	cs := kube(t)
	var total time.Duration
	for range 20 {
		t0 := time.Now()
		prepare(t, cs)
		total += time.Since(t0)
	}
	t.Logf("20 prepares: %s, %s each", total, total/20)
}
