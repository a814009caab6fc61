package peercall

import (
	"net/http"
	"testing"
)

// BenchmarkVerify is the cost of verifying one signed POST with a 1 KiB
// body: parsing, key lookup, Ed25519, digest and replay cache.
func BenchmarkVerify(b *testing.B) {
	w := newWorld(b)
	body := make([]byte, 1<<10)
	v, err := NewVerifier(Config{Self: w.b, Keys: w.dir, Now: w.calleeNow.Now, Replay: NewReplayCache(b.N + 1)})
	if err != nil {
		b.Fatal(err)
	}
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		reqs[i] = w.signed(b, w.signer, http.MethodPost, target, string(body))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for _, r := range reqs {
		if _, err := v.Verify(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSign is the cost of signing one call, for comparison.
func BenchmarkSign(b *testing.B) {
	w := newWorld(b)
	body := make([]byte, 1<<10)
	r := request(http.MethodPost, target, "")
	b.ReportAllocs()
	for b.Loop() {
		if err := w.signer.Sign(r, w.b, body); err != nil {
			b.Fatal(err)
		}
	}
}
