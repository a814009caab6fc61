package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	key := newKey(t)
	b, err := New(key, "test")
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("a secret worth keeping")
	s1, err := b.Seal(plain, []byte("record/1"))
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := b.Seal(plain, []byte("record/1"))
	if bytes.Equal(s1, s2) || bytes.Contains(s1, plain) {
		t.Fatal("sealing is deterministic or shows the value")
	}
	got, err := b.Open(s1, []byte("record/1"))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %q %v", got, err)
	}

	other, _ := New(newKey(t), "test")
	relabelled, _ := New(key, "another use")
	damaged := bytes.Clone(s1)
	damaged[len(damaged)-1] ^= 1
	for name, open := range map[string]func() ([]byte, error){
		"another key":    func() ([]byte, error) { return other.Open(s1, []byte("record/1")) },
		"another record": func() ([]byte, error) { return b.Open(s1, []byte("record/2")) },
		"damaged":        func() ([]byte, error) { return b.Open(damaged, []byte("record/1")) },
		"truncated":      func() ([]byte, error) { return b.Open(s1[:10], []byte("record/1")) },
		"empty":          func() ([]byte, error) { return b.Open(nil, []byte("record/1")) },
	} {
		if _, err := open(); !errors.Is(err, ErrUnreadable) {
			t.Errorf("%s: %v, want ErrUnreadable", name, err)
		}
	}
	if b.KeyID() == other.KeyID() || b.KeyID() == relabelled.KeyID() || len(b.KeyID()) != 16 {
		t.Errorf("key ids %s %s %s", b.KeyID(), other.KeyID(), relabelled.KeyID())
	}
	if _, err := New(key[:16], "test"); err == nil {
		t.Error("a 16-byte key was accepted")
	}
}

func TestParseKey(t *testing.T) {
	key := newKey(t)
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key),
		" " + base64.StdEncoding.EncodeToString(key) + "\n",
	} {
		got, err := ParseKey(s)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("ParseKey(%q): %v", s, err)
		}
	}
	for s, want := range map[string]string{
		"not base64 at all!":                        "not base64",
		base64.StdEncoding.EncodeToString(key[:16]): "decodes to 16 bytes",
	} {
		_, err := ParseKey(s)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), s) {
			t.Errorf("ParseKey(%q): %v, want %q without the value", s, err, want)
		}
	}
}
