package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
)

func TestDecodeKey(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789abcdef")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		key, err := decodeKey(enc.EncodeToString(raw) + "\n")
		if err != nil || string(key) != string(raw) {
			t.Errorf("decode %q: %v", enc.EncodeToString(raw), err)
		}
	}
	for _, bad := range []string{"not base64 !", base64.StdEncoding.EncodeToString(raw[:16]), base64.StdEncoding.EncodeToString(append(raw, 'x'))} {
		if _, err := decodeKey(bad); err == nil || !strings.Contains(err.Error(), "OC_DATACENTER_CREDENTIALS_KEY") {
			t.Errorf("decode %q: %v, want an error naming the variable", bad, err)
		}
	}
}

// A bad key stops the start, naming the variable and not showing the value.
func TestBadCredentialsKeyStopsTheStart(t *testing.T) {
	const bad = "c2hvcnQga2V5"
	env := map[string]string{"OC_DATACENTER_CREDENTIALS_KEY": bad}
	err := run(context.Background(), func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "OC_DATACENTER_CREDENTIALS_KEY") || strings.Contains(err.Error(), bad) {
		t.Errorf("run: %v", err)
	}
}
