package peercall

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/peerid"
)

var updateSeeds = flag.Bool("update-fuzz-seeds", false, "write testdata/fuzz/FuzzVerify again")

// fuzzKey is a fixed key, so that the seed corpus holds real signatures.
func fuzzKey(t testing.TB, b byte) *peerid.PrivateKey {
	t.Helper()
	k, err := peerid.NewKeyFromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const fuzzTarget = "https://b.example/areas/a1/ops?since=7"

// fuzzSeeds are genuine calls to fuzzTarget, signed at t0 by the fixed
// key of peer A; each Authorization header is followed by its body.
func fuzzSeeds(t testing.TB) [][2]string {
	t.Helper()
	a, b := fuzzKey(t, 1), fuzzKey(t, 2)
	var nonce byte
	s := &Signer{Peer: a.PeerID(), Key: a, Now: func() time.Time { return t0 }, Rand: readerFunc(func(p []byte) (int, error) {
		nonce++
		for i := range p {
			p[i] = nonce
		}
		return len(p), nil
	})}
	var seeds [][2]string
	for _, c := range []struct{ method, body string }{
		{http.MethodPost, `{"op":"set","field":"name","value":"Area 1"}`},
		{http.MethodGet, ""},
	} {
		r := request(c.method, fuzzTarget, "")
		if err := s.Sign(r, b.PeerID(), []byte(c.body)); err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, [2]string{r.Header.Get("Authorization"), c.body})
	}
	return seeds
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestFuzzSeedsAreCurrent(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	for i, s := range fuzzSeeds(t) {
		want := fmt.Sprintf("go test fuzz v1\nstring(%s)\n[]byte(%s)\n", strconv.Quote(s[0]), strconv.Quote(s[1]))
		path := filepath.Join(dir, fmt.Sprintf("signed-%d", i))
		if *updateSeeds {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Fatalf("%s is not the current signed seed (%v): run go test -run TestFuzzSeedsAreCurrent -update-fuzz-seeds", path, err)
		}
	}
}

// fuzzVerifier returns B's verifier, with A pinned, whose clock stands one
// second after the seed calls were signed, and which has already received
// the seed calls: any later acceptance is a forgery or a replay.
func fuzzVerifier(f *testing.F) *Verifier {
	a, b := fuzzKey(f, 1), fuzzKey(f, 2)
	doc := peerid.NewSelfDoc(a, "Peer A", "https://a.example", nil, t0.Add(-time.Hour))
	raw, err := doc.Sign(a, t0.Add(-time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	ks, err := peerid.NewKeySet(raw)
	if err != nil {
		f.Fatal(err)
	}
	dir := NewDirectory()
	dir.Pin(ks)
	v, err := NewVerifier(Config{Self: b.PeerID(), Keys: dir, Now: func() time.Time { return t0.Add(time.Second) }, MaxBody: 1 << 12})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range fuzzSeeds(f) {
		if _, err := receive(v, s[0], []byte(s[1])); err != nil {
			f.Fatalf("a genuine seed call is refused: %v", err)
		}
	}
	return v
}

// receive has v verify a call to fuzzTarget: a POST with body, a GET
// without.
func receive(v *Verifier, auth string, body []byte) (*Caller, error) {
	r := request(http.MethodGet, fuzzTarget, "")
	if len(body) > 0 {
		r = request(http.MethodPost, fuzzTarget, string(body))
	}
	r.Header.Set("Authorization", auth)
	return v.Verify(r)
}

func mustRefuse(t *testing.T, c *Caller, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted a call of %s", c.Peer)
	}
	if _, ok := RefusalOf(err); !ok {
		t.Fatalf("not a refusal: %v", err)
	}
}

// FuzzVerify: no Authorization header and body make Verify panic, and none
// is accepted.
func FuzzVerify(f *testing.F) {
	v := fuzzVerifier(f)
	for _, s := range fuzzSeeds(f) {
		f.Add(s[0], []byte(s[1]))
	}
	f.Add("", []byte(nil))
	f.Add("OCPeer a.b.c", []byte("x"))
	f.Add("ocpeer "+strings.Repeat("e", MaxTokenSize+1), []byte(nil))
	f.Fuzz(func(t *testing.T, auth string, body []byte) {
		c, err := receive(v, auth, body)
		mustRefuse(t, c, err)
	})
}

// FuzzVerifyParts fuzzes the decoded parts of a token (header JSON,
// payload JSON, signature bytes) and the body, so that the fuzzer reaches
// the claim checks without having to find base64 first.
func FuzzVerifyParts(f *testing.F) {
	v := fuzzVerifier(f)
	for _, s := range fuzzSeeds(f) {
		parts := strings.Split(strings.TrimPrefix(s[0], Scheme+" "), ".")
		h, _ := b64.DecodeString(parts[0])
		p, _ := b64.DecodeString(parts[1])
		sig, _ := b64.DecodeString(parts[2])
		f.Add(h, p, sig, []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, h, p, sig, body []byte) {
		auth := Scheme + " " + b64.EncodeToString(h) + "." + b64.EncodeToString(p) + "." + b64.EncodeToString(sig)
		c, err := receive(v, auth, body)
		mustRefuse(t, c, err)
	})
}
