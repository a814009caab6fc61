// Package peercall signs the HTTP calls one OpenCloud peer makes to
// another and verifies them on arrival: who calls (the issuer peer), whom
// (the audience peer), what (method, URL, body), when (issue time and a
// short expiry), once (a nonce), and for whom (optionally, a user of the
// calling peer).
//
// # Wire format
//
// A signed call carries one header:
//
//	Authorization: OCPeer <token>
//
// The scheme name is matched without regard to case and followed by one
// space; the token is at most 8 KiB. The token is a JWS in compact
// serialization (RFC 7515): base64url(header) "." base64url(payload) "."
// base64url(signature), where base64url is RFC 4648 section 5 without
// padding, and the signature is Ed25519 (RFC 8032, pure) by the calling
// peer's key over the ASCII bytes of base64url(header) "." base64url(payload).
//
// The header is a JSON object:
//
//	alg   "EdDSA" (RFC 8037)
//	typ   "oc-call+jwt" ("application/oc-call+jwt" is accepted too)
//	kid   the key id of the signing key (see package peerid)
//	crit  must be absent
//
// The payload is a JSON object with these members:
//
//	iss          the calling peer's id (package peerid)
//	aud          the called peer's id: one string, not an array
//	iat          issue time, integer seconds since the Unix epoch
//	exp          expiry, integer seconds; iat < exp <= iat + 60
//	jti          the nonce: 16 to 64 base64url characters, fresh for every
//	             call (16 random bytes give 22 characters)
//	htm          the HTTP method, as sent ("GET", "POST", ...)
//	htu          the URL the call is sent to, as described below
//	body_sha256  base64url of the SHA-256 of the body bytes as sent (of no
//	             bytes when there is no body)
//	sub          optional: the user on whose behalf the call is made, as
//	             the calling peer knows them
//	groups       optional, with sub only: that user's groups at the calling
//	             peer, an array of strings
//
// Other members are ignored. htu is scheme "://" host request-target:
// the scheme ("http" or "https") and the host (with its port, if any, as in
// the Host header) in lower case, the port dropped when it is the scheme's
// default (80 or 443); then the request target exactly as written on the
// request line, path and query, with their percent-encoding untouched and
// no fragment. For example, a call sent to
// "HTTPS://B.example:443/areas/a1/ops?since=7" is signed with
// "htu":"https://b.example/areas/a1/ops?since=7". The htu differs from
// DPoP's (RFC 9449), which leaves the query out.
//
// # Verification
//
// The called peer checks, in this order, and refuses with the status and
// code given (the JSON error envelope of libs/apierror; a 401 also carries
// WWW-Authenticate: OCPeer error="<code>"):
//
//	no OCPeer Authorization header                   401 unsigned
//	token not as above                               401 malformed_token
//	exp - iat > 60 s                                 401 lifetime_too_long
//	iat later than now + skew (30 s)                 401 not_yet_valid
//	now later than exp + skew                        401 expired
//	issuer blocked                                   403 blocked
//	issuer not known (no pinned key set)             401 unknown_peer
//	kid not in the issuer's pinned document          401 unknown_key
//	key retired and past its not_after               401 key_expired
//	key before its not_before (less the skew)        401 key_not_yet_valid
//	signature does not verify                        401 bad_signature
//	aud is not this peer                             403 wrong_audience
//	htm is not the request's method                  401 wrong_method
//	htu is not the URL the request arrived at        401 wrong_url
//	body larger than the limit (8 MiB by default)    413 body_too_large
//	body_sha256 is not the body's digest             401 digest_mismatch
//	(iss, jti) already received                      401 replayed
//	replay cache full of unexpired nonces            503 replay_cache_full
//
// A nonce is remembered until exp + skew, after which the call is refused
// as expired anyway. Behind a reverse proxy, Config.PublicURL gives the
// scheme and host callers use; the path and query must reach this peer
// unchanged.
//
// # Use
//
// The calling side: a Signer with this peer's id and current key; either
// Sign(req, audience, body) or an http.Client whose Transport is
// signer.Transport(audience, nil), with OnBehalfOf(ctx, user) on the
// request context for calls made for a user. The called side: a Verifier
// (NewVerifier) with this peer's id and a KeyResolver (Directory, or the
// store of known peers), and the middleware Require(verifier); handlers
// read the caller with CallerFrom(r.Context()).
package peercall
