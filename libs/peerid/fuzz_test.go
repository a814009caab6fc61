package peerid

import (
	"testing"
)

// FuzzParsePeerID: Parse never panics, and what it accepts is written one
// way only and names the same bytes when read again.
func FuzzParsePeerID(f *testing.F) {
	f.Add(string(seedKey(f).PeerID()))
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			if Valid(s) {
				t.Fatalf("Valid(%q) but Parse refused it: %v", s, err)
			}
			return
		}
		if string(id) != s || len(s) != IDLength || !Valid(s) {
			t.Fatalf("Parse(%q) = %q", s, id)
		}
		b, err := encoding.DecodeString(s)
		if err != nil || encoding.EncodeToString(b) != s {
			t.Fatalf("%q is not the one way of writing its bytes", s)
		}
		if b[0] != idVersion1 || b[1] != mhSHA256 || b[2] != mhSHA256Len {
			t.Fatalf("Parse accepted the prefix %x", b[:3])
		}
	})
}

// FuzzVerifySelfDoc: any bytes are refused or verify; none panic, and a
// document that verifies is signed by the key it names.
func FuzzVerifySelfDoc(f *testing.F) {
	k := seedKey(f)
	d := NewSelfDoc(k, "Peer A", "https://a.example", []string{"catalog"}, t0)
	raw, err := d.Sign(k, t0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`{"id":"x","keys":[{}],"signature":{}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := VerifySelfDoc(raw)
		if err != nil {
			return
		}
		if d.ID != k.PeerID() || d.Current().ID != k.KeyID() {
			t.Fatalf("a document not signed by the test key verified: %s", raw)
		}
	})
}
