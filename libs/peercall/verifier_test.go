package peercall

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/peerid"
)

const target = "http://b.example:8080/catalog/search?q=sat&page=2"

func TestAccepted(t *testing.T) {
	w := newWorld(t)
	r := request(http.MethodPost, target, "")
	ctx := OnBehalfOf(context.Background(), User{Subject: "alice", Groups: []string{"geo", "ops"}})
	r = r.WithContext(ctx)
	if err := w.signer.Sign(r, w.b, []byte(`{"q":"sat"}`)); err != nil {
		t.Fatal(err)
	}
	if !IsPeerCall(r) {
		t.Fatal("IsPeerCall is false for a signed call")
	}
	w.calleeNow.t = t0.Add(10 * time.Second)
	c, err := w.verifier.Verify(r)
	if err != nil {
		t.Fatal(err)
	}
	if c.Peer != w.a || c.KeyID != w.keyA.KeyID() || c.User == nil || c.User.Subject != "alice" ||
		strings.Join(c.User.Groups, ",") != "geo,ops" || !c.IssuedAt.Equal(t0) || !c.ExpiresAt.Equal(t0.Add(DefaultLifetime)) {
		t.Fatalf("caller %+v user %+v", c, c.User)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil || string(body) != `{"q":"sat"}` {
		t.Fatalf("the handler reads the body %q, %v", body, err)
	}
}

func TestRefusals(t *testing.T) {
	type tc struct {
		name string
		// call returns the request B receives; it may change the world.
		call func(t *testing.T, w *world) *http.Request
		want *Refusal
	}
	cases := []tc{
		{"unsigned", func(t *testing.T, w *world) *http.Request {
			return request(http.MethodGet, target, "")
		}, ErrUnsigned},
		{"a bearer token", func(t *testing.T, w *world) *http.Request {
			r := request(http.MethodGet, target, "")
			r.Header.Set("Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
			if IsPeerCall(r) {
				t.Error("IsPeerCall is true for a bearer token")
			}
			return r
		}, ErrUnsigned},
		{"forged signature", func(t *testing.T, w *world) *http.Request {
			// Signed by another key under the id of A's key.
			thief := &Signer{Peer: w.a, Key: newKey(t), Now: w.callerNow.Now}
			r := w.signed(t, thief, http.MethodGet, target, "")
			h, p, sig := tokenParts(t, r)
			h["kid"] = w.keyA.KeyID()
			setToken(t, r, h, p, sig)
			return r
		}, ErrBadSignature},
		{"claims changed after signing", func(t *testing.T, w *world) *http.Request {
			r := w.signed(t, w.signer, http.MethodGet, target, "")
			h, p, sig := tokenParts(t, r)
			p["sub"], p["groups"] = "root", []string{"admin"}
			setToken(t, r, h, p, sig)
			return r
		}, ErrBadSignature},
		{"replayed", func(t *testing.T, w *world) *http.Request {
			r := w.signed(t, w.signer, http.MethodGet, target, "")
			if _, err := w.verifier.Verify(r); err != nil {
				t.Fatalf("first call: %v", err)
			}
			return resent(r, http.MethodGet, target, "")
		}, ErrReplayed},
		{"expired", func(t *testing.T, w *world) *http.Request {
			r := w.signed(t, w.signer, http.MethodGet, target, "")
			w.calleeNow.t = t0.Add(DefaultLifetime + DefaultSkew + time.Second)
			return r
		}, ErrExpired},
		{"expiry too long", func(t *testing.T, w *world) *http.Request {
			r := w.signed(t, w.signer, http.MethodGet, target, "")
			_, p, _ := tokenParts(t, r)
			p["exp"] = t0.Unix() + 61
			tok, err := encodeToken(w.keyA, claimsOf(t, p))
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Authorization", Scheme+" "+tok)
			return r
		}, ErrTooLong},
		{"issued in the future", func(t *testing.T, w *world) *http.Request {
			w.callerNow.t = t0.Add(DefaultSkew + 5*time.Second)
			return w.signed(t, w.signer, http.MethodGet, target, "")
		}, ErrNotYetValid},
		{"addressed to another peer", func(t *testing.T, w *world) *http.Request {
			r := request(http.MethodGet, target, "")
			if err := w.signer.Sign(r, newKey(t).PeerID(), nil); err != nil {
				t.Fatal(err)
			}
			return r
		}, ErrWrongAudience},
		{"another method", func(t *testing.T, w *world) *http.Request {
			r := w.signed(t, w.signer, http.MethodGet, target, "")
			r.Method = http.MethodDelete
			return r
		}, ErrWrongMethod},
		{"another path", func(t *testing.T, w *world) *http.Request {
			r := w.signed(t, w.signer, http.MethodGet, target, "")
			return resent(r, http.MethodGet, "http://b.example:8080/admin/search?q=sat&page=2", "")
		}, ErrWrongURL},
		{"another query", func(t *testing.T, w *world) *http.Request {
			r := w.signed(t, w.signer, http.MethodGet, target, "")
			return resent(r, http.MethodGet, "http://b.example:8080/catalog/search?q=sat&page=3", "")
		}, ErrWrongURL},
		{"another host", func(t *testing.T, w *world) *http.Request {
			r := w.signed(t, w.signer, http.MethodGet, target, "")
			r.Host = "c.example:8080"
			return r
		}, ErrWrongURL},
		{"another scheme", func(t *testing.T, w *world) *http.Request {
			r := w.signed(t, w.signer, http.MethodGet, target, "")
			return resent(r, http.MethodGet, "https://b.example:8080/catalog/search?q=sat&page=2", "")
		}, ErrWrongURL},
		{"body changed", func(t *testing.T, w *world) *http.Request {
			r := w.signed(t, w.signer, http.MethodPost, target, `{"amount":10}`)
			return resent(r, http.MethodPost, target, `{"amount":1000}`)
		}, ErrDigestMismatch},
		{"body removed", func(t *testing.T, w *world) *http.Request {
			r := w.signed(t, w.signer, http.MethodPost, target, `{"amount":10}`)
			return resent(r, http.MethodPost, target, "")
		}, ErrDigestMismatch},
		{"body too large", func(t *testing.T, w *world) *http.Request {
			return w.signed(t, w.signer, http.MethodPost, target, strings.Repeat("x", 2<<10))
		}, ErrBodyTooLarge},
		{"body too large, sent without a length", func(t *testing.T, w *world) *http.Request {
			r := w.signed(t, w.signer, http.MethodPost, target, strings.Repeat("x", 2<<10))
			chunked := resent(r, http.MethodPost, target, strings.Repeat("x", 2<<10))
			chunked.ContentLength = -1
			return chunked
		}, ErrBodyTooLarge},
		{"unknown peer", func(t *testing.T, w *world) *http.Request {
			stranger := newKey(t)
			s := &Signer{Peer: stranger.PeerID(), Key: stranger, Now: w.callerNow.Now}
			return w.signed(t, s, http.MethodGet, target, "")
		}, ErrUnknownPeer},
		{"peer forgotten", func(t *testing.T, w *world) *http.Request {
			w.dir.Forget(w.a)
			return w.signed(t, w.signer, http.MethodGet, target, "")
		}, ErrUnknownPeer},
		{"blocked peer", func(t *testing.T, w *world) *http.Request {
			w.dir.Block(w.a)
			return w.signed(t, w.signer, http.MethodGet, target, "")
		}, ErrBlocked},
		{"key not in the pinned document", func(t *testing.T, w *world) *http.Request {
			s := &Signer{Peer: w.a, Key: newKey(t), Now: w.callerNow.Now}
			return w.signed(t, s, http.MethodGet, target, "")
		}, ErrUnknownKey},
		{"retired key after its validity", func(t *testing.T, w *world) *http.Request {
			w.rotate(t)
			w.callerNow.t, w.calleeNow.t = t0.Add(retireAfter), t0.Add(retireAfter)
			return w.signed(t, w.signer, http.MethodGet, target, "")
		}, ErrKeyExpired},
		{"new key before its start", func(t *testing.T, w *world) *http.Request {
			next := w.rotate(t)
			w.calleeNow.t = t0.Add(-DefaultSkew - time.Second)
			w.callerNow.t = w.calleeNow.t
			return w.signed(t, &Signer{Peer: w.a, Key: next, Now: w.callerNow.Now}, http.MethodGet, target, "")
		}, ErrKeyNotYetValid},
		{"garbage", func(t *testing.T, w *world) *http.Request {
			r := request(http.MethodGet, target, "")
			r.Header.Set("Authorization", "OCPeer not-a-token")
			return r
		}, ErrMalformed},
		{"alg none", func(t *testing.T, w *world) *http.Request {
			r := w.signed(t, w.signer, http.MethodGet, target, "")
			h, p, _ := tokenParts(t, r)
			h["alg"] = "none"
			setToken(t, r, h, p, "")
			return r
		}, ErrMalformed},
		{"another alg, signed", func(t *testing.T, w *world) *http.Request {
			r := w.signed(t, w.signer, http.MethodGet, target, "")
			h, p, _ := tokenParts(t, r)
			h["alg"] = "Ed448"
			resignToken(t, r, w.keyA, h, p)
			return r
		}, ErrMalformed},
		{"another typ", func(t *testing.T, w *world) *http.Request {
			r := w.signed(t, w.signer, http.MethodGet, target, "")
			h, p, sig := tokenParts(t, r)
			h["typ"] = "dpop+jwt"
			setToken(t, r, h, p, sig)
			return r
		}, ErrMalformed},
		{"critical header", func(t *testing.T, w *world) *http.Request {
			r := w.signed(t, w.signer, http.MethodGet, target, "")
			h, p, sig := tokenParts(t, r)
			h["crit"] = []string{"b64"}
			setToken(t, r, h, p, sig)
			return r
		}, ErrMalformed},
		{"two Authorization headers", func(t *testing.T, w *world) *http.Request {
			r := w.signed(t, w.signer, http.MethodGet, target, "")
			r.Header.Add("Authorization", "Bearer x")
			return r
		}, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			r := c.call(t, w)
			_, err := w.verifier.Verify(r)
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %s", err, c.want.Code)
			}
			ref, ok := RefusalOf(err)
			if !ok || ref.Status != c.want.Status || !strings.HasPrefix(err.Error(), c.want.Reason) {
				t.Fatalf("refusal %+v from %v", ref, err)
			}
		})
	}
}

const retireAfter = 2 * time.Hour

// rotate rotates A to a new key at t0 (A's old key accepted until
// t0+retireAfter), pins the new document at B and makes A's signer keep the
// old key; it returns the new key.
func (w *world) rotate(t *testing.T) *peerid.PrivateKey {
	t.Helper()
	next := newKey(t)
	if err := w.docA.Rotate(w.keyA, next, t0, t0.Add(retireAfter)); err != nil {
		t.Fatal(err)
	}
	w.pin(t, next, t0)
	return next
}

func TestRetiredKeyWithinItsValidity(t *testing.T) {
	w := newWorld(t)
	next := w.rotate(t)
	for _, at := range []time.Duration{time.Minute, retireAfter - time.Second} {
		w.callerNow.t, w.calleeNow.t = t0.Add(at), t0.Add(at)
		if _, err := w.verifier.Verify(w.signed(t, w.signer, http.MethodGet, target, "")); err != nil {
			t.Fatalf("old key %s after the rotation: %v", at, err)
		}
		newer := &Signer{Peer: w.a, Key: next, Now: w.callerNow.Now}
		if _, err := w.verifier.Verify(w.signed(t, newer, http.MethodGet, target, "")); err != nil {
			t.Fatalf("new key %s after the rotation: %v", at, err)
		}
	}
}

func TestSignerRefusesLongLifetimes(t *testing.T) {
	w := newWorld(t)
	for _, d := range []time.Duration{MaxLifetime + time.Second, time.Hour, time.Millisecond, -time.Second} {
		s := &Signer{Peer: w.a, Key: w.keyA, Lifetime: d}
		if err := s.Sign(request(http.MethodGet, target, ""), w.b, nil); err == nil {
			t.Errorf("signed a call valid for %s", d)
		}
	}
	if err := w.signer.Sign(httptest.NewRequest(http.MethodGet, "/relative", nil), w.b, nil); err == nil {
		t.Error("signed a call to a URL without scheme and host")
	}
	s := &Signer{Peer: w.a, Key: w.keyA, Lifetime: MaxLifetime, Now: w.callerNow.Now}
	if _, err := w.verifier.Verify(w.signed(t, s, http.MethodGet, target, "")); err != nil {
		t.Fatalf("a call valid for exactly %s: %v", MaxLifetime, err)
	}
}

func TestPublicURL(t *testing.T) {
	w := newWorld(t)
	v, err := NewVerifier(Config{Self: w.b, Keys: w.dir, Now: w.calleeNow.Now, PublicURL: "https://B.example"})
	if err != nil {
		t.Fatal(err)
	}
	// Signed for the public URL, received over plain HTTP from a proxy.
	r := w.signed(t, w.signer, http.MethodGet, "https://b.example:443/x?y=1", "")
	if _, err := v.Verify(resent(r, http.MethodGet, "http://127.0.0.1:8080/x?y=1", "")); err != nil {
		t.Fatalf("behind a proxy: %v", err)
	}
	// Signed for the address a caller reaches the peer at inside its
	// network, received there: accepted too.
	r = w.signed(t, w.signer, http.MethodGet, "http://10.0.0.7:8000/x", "")
	if _, err := v.Verify(resent(r, http.MethodGet, "http://10.0.0.7:8000/x", "")); err != nil {
		t.Fatalf("at the address received: %v", err)
	}
	// Signed for one address, received at another: refused.
	r = w.signed(t, w.signer, http.MethodGet, "http://10.0.0.7:8000/x", "")
	if _, err := v.Verify(resent(r, http.MethodGet, "http://10.0.0.8:8000/x", "")); !errors.Is(err, ErrWrongURL) {
		t.Fatalf("signed for another address: %v", err)
	}
	for _, bad := range []string{"ftp://b.example", "https://b.example/prefix", "b.example", "https://b.example?x=1"} {
		if _, err := NewVerifier(Config{Self: w.b, Keys: w.dir, PublicURL: bad}); err == nil {
			t.Errorf("public URL %q accepted", bad)
		}
	}
}

// claimsOf turns a decoded payload back into claims.
func claimsOf(t *testing.T, p map[string]any) claims {
	t.Helper()
	num := func(k string) int64 {
		switch v := p[k].(type) {
		case int64:
			return v
		case interface{ Int64() (int64, error) }:
			n, err := v.Int64()
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		t.Fatalf("%s is %T", k, p[k])
		return 0
	}
	return claims{
		Iss: p["iss"].(string), Aud: p["aud"].(string), Iat: num("iat"), Exp: num("exp"),
		Jti: p["jti"].(string), Htm: p["htm"].(string), Htu: p["htu"].(string), BodySHA256: p["body_sha256"].(string),
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestDeclaredLargeBodyIsNotRead(t *testing.T) {
	w := newWorld(t)
	big := strings.Repeat("x", 1<<20)
	r := w.signed(t, w.signer, http.MethodPost, target, big)
	body := &countingReader{r: strings.NewReader(big)}
	r.Body, r.ContentLength = io.NopCloser(body), int64(len(big))
	if _, err := w.verifier.Verify(r); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("Verify = %v, want ErrBodyTooLarge", err)
	}
	if body.n != 0 {
		t.Fatalf("read %d bytes of a body declared larger than the limit", body.n)
	}
}
