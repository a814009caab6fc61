package password

import (
	"strings"
	"testing"
)

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct-horse-battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q", h)
	}
	for pw, want := range map[string]bool{"correct-horse-battery": true, "correct-horse-batterY": false, "": false} {
		if got, err := Verify(h, pw); err != nil || got != want {
			t.Errorf("Verify(%q) = %v, %v; want %v", pw, got, err, want)
		}
	}
	if h2, _ := Hash("correct-horse-battery"); h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=0,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=8,t=1,p=1$!!$a2V5"} {
		if _, err := Verify(bad, "x"); err == nil {
			t.Errorf("Verify accepted malformed hash %q", bad)
		}
	}
}

func TestGenerateAndDigest(t *testing.T) {
	pw, err := Generate(24)
	if err != nil {
		t.Fatal(err)
	}
	if len(pw) != 24 || strings.Trim(pw, alphabet) != "" {
		t.Errorf("generated %q", pw)
	}
	tok, err := Token("ocs_")
	if err != nil || !strings.HasPrefix(tok, "ocs_") || len(tok) != 4+43 {
		t.Errorf("token %q %v", tok, err)
	}
	if d := Digest(tok); !DigestEqual(d, tok) || DigestEqual(d, tok+"x") {
		t.Error("DigestEqual")
	}
}
