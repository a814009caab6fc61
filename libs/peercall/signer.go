package peercall

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/opencloud/opencloud/libs/peerid"
)

// DefaultLifetime is how long a call signed by a Signer stays valid when
// its Lifetime is not set.
const DefaultLifetime = 30 * time.Second

// Signer signs this peer's calls to other peers.
type Signer struct {
	// Peer is this peer's id.
	Peer peerid.ID
	// Key is this peer's current key.
	Key *peerid.PrivateKey
	// Lifetime is how long a call stays valid, 1 s to MaxLifetime;
	// DefaultLifetime when zero.
	Lifetime time.Duration
	// Now and Rand default to time.Now and crypto/rand.
	Now  func() time.Time
	Rand io.Reader
}

type userKey struct{}

// OnBehalfOf returns a context whose signed calls carry user: the callee
// then applies its rules to that user of this peer.
func OnBehalfOf(ctx context.Context, user User) context.Context {
	user.Groups = slices.Clone(user.Groups)
	return context.WithValue(ctx, userKey{}, user)
}

func userFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok
}

// Sign signs req for the peer audience, with body as its body: it sets the
// Authorization header and the request body. The user set with OnBehalfOf
// on the request's context, if any, is part of the signed call.
func (s *Signer) Sign(req *http.Request, audience peerid.ID, body []byte) error {
	if s.Key == nil {
		return errors.New("peercall: sign: the signer has no key")
	}
	if !peerid.Valid(string(s.Peer)) || !peerid.Valid(string(audience)) {
		return fmt.Errorf("peercall: sign: %q or %q is not a peer id", s.Peer, audience)
	}
	lifetime := s.Lifetime
	if lifetime == 0 {
		lifetime = DefaultLifetime
	}
	if lifetime < time.Second || lifetime > MaxLifetime {
		return fmt.Errorf("peercall: sign: a lifetime of %s is not within 1s to %s", lifetime, MaxLifetime)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	rnd := s.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	nonce := make([]byte, nonceBytes)
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return fmt.Errorf("peercall: sign: draw a nonce: %w", err)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if (req.URL.Scheme != "http" && req.URL.Scheme != "https") || host == "" {
		return fmt.Errorf("peercall: sign: %q is not an absolute http or https URL", req.URL.Redacted())
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	iat := now().Unix()
	c := claims{
		Iss:        string(s.Peer),
		Aud:        string(audience),
		Iat:        iat,
		Exp:        iat + int64(lifetime/time.Second),
		Jti:        b64.EncodeToString(nonce),
		Htm:        method,
		Htu:        callURL(req.URL.Scheme, host, req.URL.RequestURI()),
		BodySHA256: bodyDigest(body),
	}
	if u, ok := userFrom(req.Context()); ok {
		c.Sub, c.Groups = u.Subject, u.Groups
	}
	tok, err := encodeToken(s.Key, c)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", Scheme+" "+tok)
	setBody(req, body)
	return nil
}

func setBody(req *http.Request, body []byte) {
	req.ContentLength = int64(len(body))
	if len(body) == 0 {
		req.Body, req.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
}

// Transport returns a RoundTripper that signs every request it sends for
// the peer audience, then sends it with base (http.DefaultTransport when
// nil). It reads each request body into memory to sign its digest.
func (s *Signer) Transport(audience peerid.ID, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{signer: s, audience: audience, base: base}
}

type transport struct {
	signer   *Signer
	audience peerid.ID
	base     http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("peercall: read the body to sign: %w", err)
		}
		body = b
	}
	signed := req.Clone(req.Context())
	if err := t.signer.Sign(signed, t.audience, body); err != nil {
		return nil, err
	}
	return t.base.RoundTrip(signed)
}
