package peerid

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newDoc(t testing.TB, k *PrivateKey) (*SelfDoc, []byte) {
	t.Helper()
	d := NewSelfDoc(k, "Peer A", "https://a.example:8443", []string{"catalog", "compute"}, t0)
	raw, err := d.Sign(k, t0)
	if err != nil {
		t.Fatal(err)
	}
	return d, raw
}

// edit changes the JSON of a signed document without signing it again.
func edit(t *testing.T, raw []byte, change func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// resign signs a document's JSON with key as Sign does, without checking
// what it says, to make documents that Sign would refuse to make.
func resign(t *testing.T, raw []byte, key *PrivateKey, change func(m map[string]any)) []byte {
	t.Helper()
	unsigned := edit(t, raw, func(m map[string]any) {
		delete(m, "signature")
		change(m)
	})
	canon, err := canonicalize(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	sig := key.Sign(append([]byte(selfContext), canon...))
	return edit(t, unsigned, func(m map[string]any) {
		m["signature"] = map[string]any{"key_id": key.KeyID(), "value": b64.EncodeToString(sig)}
	})
}

func TestSelfDocRoundTrip(t *testing.T) {
	k := newKey(t)
	_, raw := newDoc(t, k)
	d, err := VerifySelfDoc(raw)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != k.PeerID() || d.Name != "Peer A" || d.URL != "https://a.example:8443" ||
		!slices.Equal(d.Offers, []string{"catalog", "compute"}) || !d.IssuedAt.Equal(t0) ||
		len(d.Keys) != 1 || d.Keys[0].ID != k.KeyID() || !d.Keys[0].NotBefore.Equal(t0) || !d.Keys[0].NotAfter.IsZero() {
		t.Fatalf("document read back: %+v", d)
	}
	for _, field := range []string{`"id":`, `"name":`, `"url":`, `"keys":`, `"alg":"Ed25519"`, `"public_key":`, `"not_before":"2026-03-01T12:00:00Z"`, `"offers":`, `"issued_at":`, `"signature":{"key_id":`} {
		if !strings.Contains(string(raw), field) {
			t.Errorf("the JSON lacks %s: %s", field, raw)
		}
	}
}

func TestSelfDocRefusals(t *testing.T) {
	k, other := newKey(t), newKey(t)
	_, raw := newDoc(t, k)
	cases := []struct {
		name string
		doc  []byte
		want error
	}{
		{"name changed", edit(t, raw, func(m map[string]any) { m["name"] = "Peer B" }), ErrBadSignature},
		{"url changed", edit(t, raw, func(m map[string]any) { m["url"] = "https://evil.example" }), ErrBadSignature},
		{"offers changed", edit(t, raw, func(m map[string]any) { m["offers"] = []string{"catalog"} }), ErrBadSignature},
		{"member added", edit(t, raw, func(m map[string]any) { m["admin"] = true }), ErrBadSignature},
		{"validity changed", edit(t, raw, func(m map[string]any) {
			m["keys"].([]any)[0].(map[string]any)["not_after"] = "2030-01-01T00:00:00Z"
		}), ErrBadSignature},
		{"unsigned", edit(t, raw, func(m map[string]any) { delete(m, "signature") }), ErrBadSignature},
		{"signature in other case", edit(t, raw, func(m map[string]any) { m["Signature"] = m["signature"]; delete(m, "signature") }), ErrBadSignature},
		{"signed by a key not in it", resign(t, raw, other, func(map[string]any) {}), ErrBadSignature},
		{"signature of another document", edit(t, raw, func(m map[string]any) {
			_, rawB := newDoc(t, other)
			var b map[string]any
			_ = json.Unmarshal(rawB, &b)
			m["signature"] = b["signature"]
		}), ErrBadSignature},
		{"id of another key", resign(t, raw, k, func(m map[string]any) { m["id"] = string(other.PeerID()) }), ErrIDMismatch},
		{"id not an id", resign(t, raw, k, func(m map[string]any) { m["id"] = "local" }), ErrInvalidDoc},
		{"key id not of the key", resign(t, raw, k, func(m map[string]any) {
			m["keys"].([]any)[0].(map[string]any)["id"] = other.KeyID()
		}), ErrInvalidDoc},
		{"another algorithm", resign(t, raw, k, func(m map[string]any) {
			m["keys"].([]any)[0].(map[string]any)["alg"] = "ES256"
		}), ErrInvalidDoc},
		{"no key", resign(t, raw, k, func(m map[string]any) { m["keys"] = []any{} }), ErrInvalidDoc},
		{"url not http", resign(t, raw, k, func(m map[string]any) { m["url"] = "ftp://a.example" }), ErrInvalidDoc},
		{"empty name", resign(t, raw, k, func(m map[string]any) { m["name"] = " " }), ErrInvalidDoc},
		{"duplicate member", []byte(strings.Replace(string(raw), `"name":"Peer A"`, `"name":"Peer A","name":"Peer B"`, 1)), ErrInvalidDoc},
		{"not JSON", []byte("<html>"), ErrInvalidDoc},
		{"too large", []byte(`{"name":"` + strings.Repeat("a", MaxDocSize) + `"}`), ErrInvalidDoc},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := VerifySelfDoc(c.doc); !errors.Is(err, c.want) {
				t.Fatalf("VerifySelfDoc = %v, want %v", err, c.want)
			}
		})
	}
}

func TestUnknownMembersAreSigned(t *testing.T) {
	k := newKey(t)
	_, raw := newDoc(t, k)
	withExtra := resign(t, raw, k, func(m map[string]any) { m["region"] = "eu-west" })
	if _, err := VerifySelfDoc(withExtra); err != nil {
		t.Fatalf("a document with a member this version does not know: %v", err)
	}
	changed := edit(t, withExtra, func(m map[string]any) { m["region"] = "us-east" })
	if _, err := VerifySelfDoc(changed); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("the unknown member changed: %v, want ErrBadSignature", err)
	}
}

func TestSignRefusesAnotherKey(t *testing.T) {
	k, next := newKey(t), newKey(t)
	d, _ := newDoc(t, k)
	if _, err := d.Sign(next, t0); err == nil {
		t.Fatal("signed with a key that is not the document's current key")
	}
	if err := d.Rotate(k, next, t0.Add(time.Hour), t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Sign(k, t0.Add(time.Hour)); err == nil {
		t.Fatal("signed with the retired key after a rotation")
	}
	if err := d.Rotate(k, newKey(t), t0.Add(time.Hour), t0.Add(2*time.Hour)); err == nil {
		t.Fatal("rotated from a key that is no longer current")
	}
}

// rotated returns a document of k rotated to next at t0+1h, k retired at
// t0+25h, signed by next.
func rotated(t testing.TB, k, next *PrivateKey) []byte {
	t.Helper()
	d, _ := newDoc(t, k)
	if err := d.Rotate(k, next, t0.Add(time.Hour), t0.Add(25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	raw, err := d.Sign(next, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestRotation(t *testing.T) {
	k, next, thief := newKey(t), newKey(t), newKey(t)
	raw := rotated(t, k, next)
	d, err := VerifySelfDoc(raw)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != k.PeerID() || len(d.Keys) != 2 || d.Current().ID != next.KeyID() || !d.Keys[0].NotAfter.Equal(t0.Add(25*time.Hour)) {
		t.Fatalf("rotated document: %+v", d)
	}

	t.Run("endorsement by another key", func(t *testing.T) {
		forged := resign(t, raw, next, func(m map[string]any) {
			entry := m["keys"].([]any)[1].(map[string]any)
			tree, _ := toTree(toWireKey(Key{ID: next.KeyID(), PublicKey: next.Public(), NotBefore: t0.Add(time.Hour)}))
			msg, _ := endorsementMessage(k.PeerID(), tree)
			entry["endorsement"] = b64.EncodeToString(thief.Sign(msg))
		})
		if _, err := VerifySelfDoc(forged); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("VerifySelfDoc = %v, want ErrBadSignature", err)
		}
	})
	t.Run("key swapped after endorsement", func(t *testing.T) {
		swapped := resign(t, raw, thief, func(m map[string]any) {
			entry := m["keys"].([]any)[1].(map[string]any)
			entry["id"] = thief.KeyID()
			entry["public_key"] = b64.EncodeToString(thief.Public())
		})
		if _, err := VerifySelfDoc(swapped); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("VerifySelfDoc = %v, want ErrBadSignature", err)
		}
	})
	t.Run("endorsement removed", func(t *testing.T) {
		bare := resign(t, raw, next, func(m map[string]any) {
			delete(m["keys"].([]any)[1].(map[string]any), "endorsement")
		})
		if _, err := VerifySelfDoc(bare); !errors.Is(err, ErrInvalidDoc) {
			t.Fatalf("VerifySelfDoc = %v, want ErrInvalidDoc", err)
		}
	})
	t.Run("signed by the retired key", func(t *testing.T) {
		byOld := resign(t, raw, k, func(map[string]any) {})
		_, err := VerifySelfDoc(byOld)
		if !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "not by the current key "+next.KeyID()) {
			t.Fatalf("VerifySelfDoc = %v, want ErrBadSignature naming the current key", err)
		}
	})
	t.Run("retirement moved without the current key", func(t *testing.T) {
		moved := edit(t, raw, func(m map[string]any) {
			m["keys"].([]any)[0].(map[string]any)["not_after"] = "2030-01-01T00:00:00Z"
		})
		if _, err := VerifySelfDoc(moved); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("VerifySelfDoc = %v, want ErrBadSignature", err)
		}
	})
}
