package peerid

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

// seedKey returns the key of the seed 0x00, 0x01, ... 0x1f: the test
// vector of the package documentation.
func seedKey(t testing.TB) *PrivateKey {
	t.Helper()
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(i)
	}
	k, err := NewKeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newKey(t testing.TB) *PrivateKey {
	t.Helper()
	k, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestTestVector(t *testing.T) {
	k := seedKey(t)
	if got, want := k.PeerID(), ID("aejcavshlktviy2hjqbilx25x4v4vnz5uzitlcbz5g3xjans5kyqo4em"); got != want {
		t.Errorf("peer id %s, want %s", got, want)
	}
	if got, want := k.KeyID(), "kzdvvj2umnduyauf"; got != want {
		t.Errorf("key id %s, want %s", got, want)
	}
	if got, want := k.Fingerprint(), "5647 5AA7 5463 474C 0285 DF5D BF2B CAB7 3DA6 5135 8839 E9B7 7481 B2EA B107 708C"; got != want {
		t.Errorf("fingerprint %s, want %s", got, want)
	}
}

// encodeID writes 35 arbitrary bytes the way ids are written.
func encodeID(b []byte) string { return encoding.EncodeToString(b) }

func TestParse(t *testing.T) {
	valid := string(seedKey(t).PeerID())
	sum := sha256.Sum256([]byte("x"))
	withPrefix := func(p ...byte) string { return encodeID(append(p, sum[:]...)) }
	cases := []struct {
		name, in string
	}{
		{"empty", ""},
		{"upper case", strings.ToUpper(valid)},
		{"one upper-case letter", "A" + valid[1:]},
		{"too short", valid[:IDLength-1]},
		{"too long", valid + "a"},
		{"padding", valid[:IDLength-1] + "="},
		{"digit outside base32", valid[:10] + "1" + valid[11:]},
		{"space", valid[:10] + " " + valid[11:]},
		{"new line", valid[:10] + "\n" + valid[11:]},
		{"version 0", withPrefix(0x00, mhSHA256, mhSHA256Len)},
		{"version 2", withPrefix(0x02, mhSHA256, mhSHA256Len)},
		{"another digest", withPrefix(idVersion1, 0x13, mhSHA256Len)},
		{"another digest length", withPrefix(idVersion1, mhSHA256, 0x40)},
		{"with a prefix", "oc:" + valid[3:]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Parse(c.in); !errors.Is(err, ErrInvalidID) {
				t.Fatalf("Parse(%q) = %v, want ErrInvalidID", c.in, err)
			}
			if Valid(c.in) {
				t.Fatalf("Valid(%q) is true", c.in)
			}
		})
	}
	id, err := Parse(valid)
	if err != nil || string(id) != valid {
		t.Fatalf("Parse(%q) = %q, %v", valid, id, err)
	}
}

func TestIDsAreDistinctAndSelfCertifying(t *testing.T) {
	a, b := newKey(t), newKey(t)
	if a.PeerID() == b.PeerID() || a.KeyID() == b.KeyID() || a.Fingerprint() == b.Fingerprint() {
		t.Fatal("two keys share an id, key id or fingerprint")
	}
	for _, k := range []*PrivateKey{a, b} {
		if !Valid(string(k.PeerID())) || !ValidKeyID(k.KeyID()) {
			t.Fatalf("generated id %s or key id %s does not parse", k.PeerID(), k.KeyID())
		}
	}
	if !a.PeerID().Matches(a.Public()) || a.PeerID().Matches(b.Public()) || a.PeerID().Matches(nil) {
		t.Fatal("Matches does not tell the key the id was derived from")
	}
	if !strings.HasPrefix(string(a.PeerID()), "aejca") && !strings.HasPrefix(string(a.PeerID()), "aejcb") {
		t.Fatalf("version 1 ids start with aejca or aejcb: %s", a.PeerID())
	}
}

func TestPrivateKeyMarshal(t *testing.T) {
	k := newKey(t)
	b, err := k.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 34 || b[0] != 0x01 || b[1] != 0xed {
		t.Fatalf("binary form %x", b)
	}
	var back PrivateKey
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	msg := []byte("hello")
	if back.KeyID() != k.KeyID() || !bytes.Equal(back.Sign(msg), k.Sign(msg)) {
		t.Fatal("the key read back signs differently")
	}
	for name, in := range map[string][]byte{
		"empty":       nil,
		"short":       b[:33],
		"long":        append(bytes.Clone(b), 0),
		"version 2":   append([]byte{0x02, 0xed}, b[2:]...),
		"another alg": append([]byte{0x01, 0x00}, b[2:]...),
	} {
		if _, err := ParsePrivateKey(in); !errors.Is(err, ErrInvalidPrivateKey) {
			t.Errorf("%s: ParsePrivateKey = %v, want ErrInvalidPrivateKey", name, err)
		}
	}
}
