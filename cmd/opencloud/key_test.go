package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeyFile: made once (32 bytes, owner-only), the same at the
// next start; a damaged file stops the start with what to do.
func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "datacenter.key")
	first, err := keyFile(path, "the S3 credentials kept are then lost")
	if err != nil || len(first) != 32 {
		t.Fatalf("%d bytes, %v", len(first), err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v %v", fi.Mode(), err)
	}
	again, err := keyFile(path, "the S3 credentials kept are then lost")
	if err != nil || !bytes.Equal(first, again) {
		t.Fatalf("a second start has another key: %v", err)
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := keyFile(path, "the S3 credentials kept are then lost"); err == nil || !strings.Contains(err.Error(), "expected 32") {
		t.Fatalf("a damaged key: %v", err)
	}
}
