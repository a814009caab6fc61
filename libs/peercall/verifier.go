package peercall

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/opencloud/opencloud/libs/peerid"
)

// Defaults of a Verifier.
const (
	DefaultSkew    = 30 * time.Second
	DefaultMaxBody = 8 << 20
)

// ErrBodyUnreadable is returned when the body cannot be read to check its
// digest (the caller went away, say).
var ErrBodyUnreadable = refusal(http.StatusBadRequest, "body_unreadable", "the body could not be read")

// KeyResolver gives the pinned key of a peer. It returns ErrUnknownPeer for
// a peer that is not known, ErrBlocked for a blocked one, and
// peerid.ErrUnknownKey for a key the peer's pinned document lacks; any
// other error is a failure of the resolver, answered 500.
type KeyResolver interface {
	ResolveKey(ctx context.Context, peer peerid.ID, keyID string) (peerid.Key, error)
}

// Config configures a Verifier.
type Config struct {
	// Self is this peer's id: the audience calls must be addressed to.
	Self peerid.ID
	// Keys resolves callers' pinned keys.
	Keys KeyResolver
	// PublicURL, when set, is the scheme and host callers reach this peer
	// at (behind a reverse proxy that ends TLS, say); a call signed for the
	// URL as received (scheme from the connection, the Host header) is
	// accepted as well. The path and query are always the request's.
	PublicURL string
	// Skew is the clock difference allowed between peers; DefaultSkew
	// when zero.
	Skew time.Duration
	// MaxBody is the largest body read to check its digest;
	// DefaultMaxBody when zero.
	MaxBody int64
	// Replay holds used nonces; a cache of DefaultReplayEntries when nil.
	Replay *ReplayCache
	// Now defaults to time.Now.
	Now func() time.Time
	// Logger receives resolver failures seen by Require; slog.Default()
	// when nil.
	Logger *slog.Logger
}

// Verifier checks signed calls addressed to this peer.
type Verifier struct {
	self    peerid.ID
	keys    KeyResolver
	scheme  string
	host    string
	skew    time.Duration
	maxBody int64
	replay  *ReplayCache
	now     func() time.Time
	log     *slog.Logger
}

// NewVerifier checks c and returns its Verifier.
func NewVerifier(c Config) (*Verifier, error) {
	if _, err := peerid.Parse(string(c.Self)); err != nil {
		return nil, fmt.Errorf("peercall: this peer's id: %w", err)
	}
	if c.Keys == nil {
		return nil, errors.New("peercall: a verifier needs a KeyResolver")
	}
	v := &Verifier{self: c.Self, keys: c.Keys, skew: c.Skew, maxBody: c.MaxBody, replay: c.Replay, now: c.Now, log: c.Logger}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("peercall: public URL %q: give scheme and host only, like https://peer.example:8443", c.PublicURL)
		}
		v.scheme, v.host = u.Scheme, u.Host
	}
	if v.skew < 0 || v.skew > 5*time.Minute {
		return nil, fmt.Errorf("peercall: a clock skew of %s is not within 0 to 5m", v.skew)
	}
	if v.skew == 0 {
		v.skew = DefaultSkew
	}
	if v.maxBody <= 0 {
		v.maxBody = DefaultMaxBody
	}
	if v.replay == nil {
		v.replay = NewReplayCache(DefaultReplayEntries)
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.log == nil {
		v.log = slog.Default()
	}
	return v, nil
}

// Caller is the verified origin of a call.
type Caller struct {
	// Peer is the calling peer.
	Peer peerid.ID
	// KeyID is the key that signed the call.
	KeyID string
	// User is the user the call is made for, as Peer asserts it; nil
	// when the peer calls on its own behalf.
	User *User
	// Nonce is the call's jti.
	Nonce     string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Verify checks the signed call r and returns its caller, or an error
// wrapping one of the refusals (see Refusal) or, when the KeyResolver
// failed, that failure. It reads the body (at most MaxBody bytes) to check
// its digest and puts it back for the handler.
func (v *Verifier) Verify(r *http.Request) (*Caller, error) {
	now := v.now()
	raw, err := authorization(r)
	if err != nil {
		return nil, err
	}
	t, err := parseToken(raw)
	if err != nil {
		return nil, err
	}
	c := &t.claims
	if c.Exp-c.Iat > int64(MaxLifetime/time.Second) {
		return nil, fmt.Errorf("%w (it is %d s)", ErrTooLong, c.Exp-c.Iat)
	}
	iat, exp := time.Unix(c.Iat, 0), time.Unix(c.Exp, 0)
	if iat.After(now.Add(v.skew)) {
		return nil, fmt.Errorf("%w (issued %s ahead of this peer's clock)", ErrNotYetValid, iat.Sub(now).Round(time.Second))
	}
	if now.After(exp.Add(v.skew)) {
		return nil, fmt.Errorf("%w (%s ago)", ErrExpired, now.Sub(exp).Round(time.Second))
	}
	key, err := v.keys.ResolveKey(r.Context(), t.issuer, t.header.Kid)
	if err != nil {
		return nil, resolveError(err)
	}
	if len(key.PublicKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("peercall: the key resolver gave %s's key %s with %d bytes", t.issuer, t.header.Kid, len(key.PublicKey))
	}
	if err := key.Check(now, v.skew); err != nil {
		return nil, resolveError(err)
	}
	if !ed25519.Verify(key.PublicKey, t.input, t.sig) {
		return nil, ErrBadSignature
	}
	if c.Aud != string(v.self) {
		return nil, fmt.Errorf("%w (to %q; this peer is %s)", ErrWrongAudience, c.Aud, v.self)
	}
	if c.Htm != r.Method {
		return nil, fmt.Errorf("%w (signed for %s, sent as %s)", ErrWrongMethod, c.Htm, r.Method)
	}
	if got := v.requestURL(r); c.Htu != got && (v.scheme == "" || c.Htu != v.receivedURL(r)) {
		return nil, fmt.Errorf("%w (signed for %s, received as %s)", ErrWrongURL, c.Htu, got)
	}
	body, err := v.readBody(r)
	if err != nil {
		return nil, err
	}
	if bodyDigest(body) != c.BodySHA256 {
		return nil, ErrDigestMismatch
	}
	if err := v.replay.Check(c.Iss, c.Jti, exp.Add(v.skew), now); err != nil {
		return nil, err
	}
	caller := &Caller{Peer: t.issuer, KeyID: t.header.Kid, Nonce: c.Jti, IssuedAt: iat, ExpiresAt: exp}
	if c.Sub != "" {
		caller.User = &User{Subject: c.Sub, Groups: slices.Clone(c.Groups)}
	}
	return caller, nil
}

func resolveError(err error) error {
	switch {
	case errors.Is(err, peerid.ErrUnknownKey):
		return fmt.Errorf("%w (%v)", ErrUnknownKey, err)
	case errors.Is(err, peerid.ErrKeyExpired):
		return fmt.Errorf("%w (%v)", ErrKeyExpired, err)
	case errors.Is(err, peerid.ErrKeyNotYetValid):
		return fmt.Errorf("%w (%v)", ErrKeyNotYetValid, err)
	}
	return err
}

// requestURL is the URL the request was received at, written as callers
// sign it.
func (v *Verifier) requestURL(r *http.Request) string {
	target := r.RequestURI
	if target == "" || target[0] != '/' {
		// Absolute form, or a request made in-process without a target.
		target = r.URL.RequestURI()
	}
	scheme, host := v.scheme, v.host
	if scheme == "" {
		scheme, host = "http", r.Host
		if r.TLS != nil {
			scheme = "https"
		}
	}
	return callURL(scheme, host, target)
}

// receivedURL is the URL the request was received at, from the request
// alone: a caller that reaches this peer at another address than its
// public URL (inside a network, through a tunnel) signs that address.
func (v *Verifier) receivedURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	target := r.RequestURI
	if target == "" || target[0] != '/' {
		target = r.URL.RequestURI()
	}
	return callURL(scheme, r.Host, target)
}

func (v *Verifier) readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > v.maxBody {
		return nil, fmt.Errorf("%w (%d bytes; at most %d)", ErrBodyTooLarge, r.ContentLength, v.maxBody)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, v.maxBody+1))
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBodyUnreadable, err)
	}
	if int64(len(b)) > v.maxBody {
		return nil, fmt.Errorf("%w (at most %d bytes)", ErrBodyTooLarge, v.maxBody)
	}
	r.ContentLength = int64(len(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return b, nil
}
