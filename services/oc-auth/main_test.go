package main

import (
	"context"
	"strings"
	"testing"
)

// A bad configuration stops the start with a message naming the variables.
func TestRunRejectsBadConfig(t *testing.T) {
	env := map[string]string{"OC_STORE": "oracle", "OC_AUTH_ACCESS_TTL": "soon"}
	err := run(context.Background(), func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("started with a bad configuration")
	}
	for _, want := range []string{"OC_AUTH_ACCESS_TTL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
