package peercall

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/opencloud/opencloud/libs/peerid"
)

// Wire constants; see the package documentation.
const (
	// Scheme is the Authorization scheme of signed calls.
	Scheme = "OCPeer"
	// TokenType is the JWS "typ" header of a call token.
	TokenType = "oc-call+jwt"
	// Alg is the JWS "alg" header: Ed25519 (RFC 8037).
	Alg = "EdDSA"
	// MaxLifetime is the longest a call may be valid: exp - iat.
	MaxLifetime = 60 * time.Second
	// MaxTokenSize bounds the token in the Authorization header.
	MaxTokenSize = 8 << 10

	nonceBytes  = 16
	minNonceLen = 16
	maxNonceLen = 64
	maxSubject  = 256
)

var b64 = base64.RawURLEncoding.Strict()

type header struct {
	Alg  string          `json:"alg"`
	Typ  string          `json:"typ"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit,omitempty"`
}

type claims struct {
	Iss        string   `json:"iss"`
	Aud        string   `json:"aud"`
	Iat        int64    `json:"iat"`
	Exp        int64    `json:"exp"`
	Jti        string   `json:"jti"`
	Htm        string   `json:"htm"`
	Htu        string   `json:"htu"`
	BodySHA256 string   `json:"body_sha256"`
	Sub        string   `json:"sub,omitempty"`
	Groups     []string `json:"groups,omitempty"`
}

// User is the user on whose behalf a call is made, as the calling peer
// asserts it: the subject and groups the user has at that peer.
type User struct {
	Subject string
	Groups  []string
}

func bodyDigest(body []byte) string {
	sum := sha256.Sum256(body)
	return b64.EncodeToString(sum[:])
}

// callURL is the URL a call is signed for: scheme and host in lower case,
// without the scheme's default port, then the request target as it is
// written on the request line.
func callURL(scheme, host, requestURI string) string {
	scheme, host = strings.ToLower(scheme), strings.ToLower(host)
	switch scheme {
	case "https":
		host = strings.TrimSuffix(host, ":443")
	case "http":
		host = strings.TrimSuffix(host, ":80")
	}
	return scheme + "://" + host + requestURI
}

func encodeToken(key *peerid.PrivateKey, c claims) (string, error) {
	h, err := json.Marshal(header{Alg: Alg, Typ: TokenType, Kid: key.KeyID()})
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	return input + "." + b64.EncodeToString(key.Sign([]byte(input))), nil
}

// token is a parsed call token whose signature is not checked yet.
type token struct {
	input  []byte
	sig    []byte
	header header
	claims claims
	issuer peerid.ID
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// authorization returns the token of the request's OCPeer Authorization
// header.
func authorization(r *http.Request) (string, error) {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return "", ErrUnsigned
	}
	if len(vals) > 1 {
		return "", malformed("send one Authorization header, not %d", len(vals))
	}
	scheme, tok, _ := strings.Cut(vals[0], " ")
	if !strings.EqualFold(scheme, Scheme) {
		return "", ErrUnsigned
	}
	if tok == "" || len(tok) > MaxTokenSize || strings.ContainsAny(tok, " \t") {
		return "", malformed("the token must follow %q and a single space, at most %d bytes without blanks", Scheme, MaxTokenSize)
	}
	return tok, nil
}

// IsPeerCall reports whether the request carries an OCPeer Authorization
// header, so that a service accepting both local tokens and signed calls
// knows which to verify.
func IsPeerCall(r *http.Request) bool {
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.EqualFold(scheme, Scheme)
}

func parseToken(tok string) (*token, error) {
	h, rest, ok1 := strings.Cut(tok, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s, ".") {
		return nil, malformed("a compact JWS has three parts separated by dots")
	}
	hb, err := b64.DecodeString(h)
	if err != nil {
		return nil, malformed("the header is not base64url without padding")
	}
	t := &token{input: []byte(tok[:len(h)+1+len(p)])}
	if err := json.Unmarshal(hb, &t.header); err != nil {
		return nil, malformed("the header is not the JSON expected: %v", err)
	}
	if t.header.Alg != Alg {
		return nil, malformed("alg %q is not supported; use %q (Ed25519)", t.header.Alg, Alg)
	}
	if typ := strings.ToLower(t.header.Typ); typ != TokenType && typ != "application/"+TokenType {
		return nil, malformed("typ %q is not %q", t.header.Typ, TokenType)
	}
	if !peerid.ValidKeyID(t.header.Kid) {
		return nil, malformed("kid %q is not a key id", t.header.Kid)
	}
	if len(t.header.Crit) > 0 && string(t.header.Crit) != "null" {
		return nil, malformed("no critical header parameter is supported")
	}
	pb, err := b64.DecodeString(p)
	if err != nil {
		return nil, malformed("the payload is not base64url without padding")
	}
	if err := json.Unmarshal(pb, &t.claims); err != nil {
		return nil, malformed("the payload is not the JSON expected: %v", err)
	}
	if t.sig, err = b64.DecodeString(s); err != nil || len(t.sig) != ed25519.SignatureSize {
		return nil, malformed("the signature is not 64 bytes of base64url")
	}
	c := &t.claims
	if t.issuer, err = peerid.Parse(c.Iss); err != nil {
		return nil, malformed("iss: %v", err)
	}
	switch {
	case c.Aud == "":
		return nil, malformed("aud is missing")
	case c.Iat <= 0 || c.Exp <= c.Iat:
		return nil, malformed("iat and exp must be positive seconds, exp after iat")
	case len(c.Jti) < minNonceLen || len(c.Jti) > maxNonceLen || !isBase64URL(c.Jti):
		return nil, malformed("jti must be %d to %d base64url characters", minNonceLen, maxNonceLen)
	case c.Htm == "" || c.Htu == "":
		return nil, malformed("htm and htu are required")
	case len(c.Sub) > maxSubject || (c.Sub == "" && len(c.Groups) > 0):
		return nil, malformed("sub must be 1 to %d bytes when groups are given", maxSubject)
	}
	if d, err := b64.DecodeString(c.BodySHA256); err != nil || len(d) != sha256.Size {
		return nil, malformed("body_sha256 must be the base64url SHA-256 of the body")
	}
	return t, nil
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
