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

// The sealing key is required and checked, the trusted proxies are checked,
// and neither message shows the key.
func TestRunChecksKeyAndProxies(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "OC_AUTH_KEYS_KEY is required"},
		{map[string]string{"OC_AUTH_KEYS_KEY": "c2hvcnQta2V5"}, "OC_AUTH_KEYS_KEY: decodes to 9 bytes, want 32"},
		{map[string]string{"OC_AUTH_KEYS_KEY": "not base64!"}, "OC_AUTH_KEYS_KEY: not base64"},
		{map[string]string{"OC_AUTH_KEYS_KEY": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=", "OC_TRUSTED_PROXIES": "172.18.0.0/16,proxy.local"},
			`OC_TRUSTED_PROXIES: "proxy.local" is neither an IP address nor a CIDR range`},
	} {
		err := run(context.Background(), func(k string) string { return c.env[k] })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.env, err, c.want)
			continue
		}
		if k := c.env["OC_AUTH_KEYS_KEY"]; k != "" && strings.Contains(err.Error(), k) {
			t.Errorf("the error shows the key: %v", err)
		}
	}
}
