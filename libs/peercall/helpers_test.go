package peercall

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/peerid"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

// world is two peers, A calling B: A's key set pinned in B's directory.
type world struct {
	keyA, keyB *peerid.PrivateKey
	a, b       peerid.ID
	docA       *peerid.SelfDoc
	dir        *Directory
	callerNow  *clock
	calleeNow  *clock
	signer     *Signer
	verifier   *Verifier
}

func newKey(t testing.TB) *peerid.PrivateKey {
	t.Helper()
	k, err := peerid.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{keyA: newKey(t), keyB: newKey(t), dir: NewDirectory(), callerNow: &clock{t0}, calleeNow: &clock{t0}}
	w.a, w.b = w.keyA.PeerID(), w.keyB.PeerID()
	w.docA = peerid.NewSelfDoc(w.keyA, "Peer A", "https://a.example", nil, t0.Add(-time.Hour))
	w.pin(t, w.keyA, t0.Add(-time.Hour))
	w.signer = &Signer{Peer: w.a, Key: w.keyA, Now: w.callerNow.Now}
	v, err := NewVerifier(Config{Self: w.b, Keys: w.dir, Now: w.calleeNow.Now, MaxBody: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	w.verifier = v
	return w
}

// pin signs A's document with key at when and pins it at B.
func (w *world) pin(t testing.TB, key *peerid.PrivateKey, when time.Time) {
	t.Helper()
	raw, err := w.docA.Sign(key, when)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := peerid.NewKeySet(raw)
	if err != nil {
		t.Fatal(err)
	}
	w.dir.Pin(ks)
}

// request returns a request as B's server receives it.
func request(method, target, body string) *http.Request {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, target, nil)
	} else {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
	}
	return r
}

// signed returns a request signed by s for B with body.
func (w *world) signed(t testing.TB, s *Signer, method, target, body string) *http.Request {
	t.Helper()
	r := request(method, target, "")
	if err := s.Sign(r, w.b, []byte(body)); err != nil {
		t.Fatal(err)
	}
	return r
}

// tokenParts splits the token of a signed request.
func tokenParts(t testing.TB, r *http.Request) (header, payload map[string]any, sig string) {
	t.Helper()
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), Scheme+" ")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q", tok)
	}
	for i, m := range []*map[string]any{&header, &payload} {
		b, err := b64.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(m); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload, parts[2]
}

// setToken writes a token of the given parts into r.
func setToken(t testing.TB, r *http.Request, header, payload map[string]any, sig string) {
	t.Helper()
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(payload)
	r.Header.Set("Authorization", Scheme+" "+b64.EncodeToString(h)+"."+b64.EncodeToString(p)+"."+sig)
}

// resignToken writes a token of the given parts into r, signed by key.
func resignToken(t testing.TB, r *http.Request, key *peerid.PrivateKey, header, payload map[string]any) {
	t.Helper()
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(payload)
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	r.Header.Set("Authorization", Scheme+" "+input+"."+b64.EncodeToString(key.Sign([]byte(input))))
}

// resent returns a request carrying r's headers, received as method target
// with body: r's call sent somewhere else, or with something else.
func resent(r *http.Request, method, target, body string) *http.Request {
	again := request(method, target, body)
	again.Header = r.Header.Clone()
	return again
}
