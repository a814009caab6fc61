package main

import (
	"context"
	"strings"
	"testing"
)

// The sealing key is required and checked, and the message never shows it.
func TestRunChecksKeysKey(t *testing.T) {
	for _, c := range []struct {
		key  string
		want string
	}{
		{"", "OC_PEER_KEYS_KEY is required"},
		{"c2hvcnQta2V5", "OC_PEER_KEYS_KEY: decodes to 9 bytes, want 32"},
		{"not base64!", "OC_PEER_KEYS_KEY: not base64"},
	} {
		env := map[string]string{"OC_PEER_KEYS_KEY": c.key}
		err := run(context.Background(), func(k string) string { return env[k] })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("OC_PEER_KEYS_KEY=%q: %v, want %q", c.key, err, c.want)
			continue
		}
		if c.key != "" && strings.Contains(err.Error(), c.key) {
			t.Errorf("the error shows the key: %v", err)
		}
	}
}
