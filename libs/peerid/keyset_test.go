package peerid

import (
	"errors"
	"testing"
	"time"
)

func TestKeySetValidity(t *testing.T) {
	k, next := newKey(t), newKey(t)
	ks, err := NewKeySet(rotated(t, k, next))
	if err != nil {
		t.Fatal(err)
	}
	if ks.Peer() != k.PeerID() || ks.Fingerprint() != next.Fingerprint() {
		t.Fatalf("key set of %s shows fingerprint %s", ks.Peer(), ks.Fingerprint())
	}
	skew := 30 * time.Second
	cases := []struct {
		name string
		key  string
		at   time.Time
		want error
	}{
		{"retired key within its validity", k.KeyID(), t0.Add(25*time.Hour - time.Second), nil},
		{"retired key at its end", k.KeyID(), t0.Add(25 * time.Hour), ErrKeyExpired},
		{"retired key after its validity", k.KeyID(), t0.Add(26 * time.Hour), ErrKeyExpired},
		{"new key", next.KeyID(), t0.Add(2 * time.Hour), nil},
		{"new key within the skew before its start", next.KeyID(), t0.Add(time.Hour - skew), nil},
		{"new key before its start", next.KeyID(), t0.Add(time.Hour - skew - time.Second), ErrKeyNotYetValid},
		{"unknown key", newKey(t).KeyID(), t0.Add(2 * time.Hour), ErrUnknownKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ks.Lookup(c.key, c.at, skew)
			if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
				t.Fatalf("Lookup = %v, want %v", err, c.want)
			}
		})
	}
}

func TestKeySetUpdate(t *testing.T) {
	k, next := newKey(t), newKey(t)
	d, first := newDoc(t, k)
	ks, err := NewKeySet(first)
	if err != nil {
		t.Fatal(err)
	}

	rot := *d
	rot.Keys = append([]Key(nil), d.Keys...)
	if err := rot.Rotate(k, next, t0.Add(time.Hour), t0.Add(25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	second, err := rot.Sign(next, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ks2, err := ks.Update(second)
	if err != nil {
		t.Fatalf("a rotation endorsed by the pinned key: %v", err)
	}
	if _, err := ks2.Key(next.KeyID()); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Key(next.KeyID()); !errors.Is(err, ErrUnknownKey) {
		t.Fatal("Update changed the key set it was called on")
	}

	// Someone holding the first key (stolen, say) makes a history of their own.
	thief := newKey(t)
	fork := *d
	fork.Keys = append([]Key(nil), d.Keys...)
	if err := fork.Rotate(k, thief, t0.Add(2*time.Hour), t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	forked, err := fork.Sign(thief, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	again := *d
	renamed, err := again.Sign(k, t0.Add(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	_, otherPeer := newDoc(t, newKey(t))

	cases := []struct {
		name string
		doc  []byte
		want error
	}{
		{"older document", first, ErrStaleDoc},
		{"history made anew with the first key", forked, ErrChainMismatch},
		{"rotation undone", renamed, ErrStaleDoc},
		{"another peer", otherPeer, ErrPeerMismatch},
		{"forged", []byte(`{}`), ErrInvalidDoc},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ks2.Update(c.doc); !errors.Is(err, c.want) {
				t.Fatalf("Update = %v, want %v", err, c.want)
			}
		})
	}
	// A newer document that drops the rotated key is a different history.
	dropped, err := again.Sign(k, t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks2.Update(dropped); !errors.Is(err, ErrChainMismatch) {
		t.Fatalf("Update with the rotated key dropped = %v, want ErrChainMismatch", err)
	}
}
