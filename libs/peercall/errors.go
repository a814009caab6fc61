package peercall

import (
	"errors"
	"net/http"
)

// Refusal is why a call was refused: the HTTP status to answer, a stable
// code and a reason a partner's operator can act on. Verify wraps the
// refusals below with details; find them with errors.Is and errors.As.
type Refusal struct {
	Status int
	Code   string
	Reason string
}

func (r *Refusal) Error() string { return r.Reason }

func refusal(status int, code, reason string) *Refusal {
	return &Refusal{Status: status, Code: code, Reason: reason}
}

// Refusals.
var (
	ErrUnsigned       = refusal(http.StatusUnauthorized, "unsigned", "the request is not a signed peer call: send Authorization: OCPeer <token>")
	ErrMalformed      = refusal(http.StatusUnauthorized, "malformed_token", "the OCPeer token is malformed")
	ErrTooLong        = refusal(http.StatusUnauthorized, "lifetime_too_long", "the call is valid for too long: exp may be at most 60 s after iat")
	ErrUnknownPeer    = refusal(http.StatusUnauthorized, "unknown_peer", "the calling peer is not known here: it must be added and its key pinned first")
	ErrUnknownKey     = refusal(http.StatusUnauthorized, "unknown_key", "the signing key is not among the calling peer's pinned keys: this peer may need its newer self document")
	ErrKeyExpired     = refusal(http.StatusUnauthorized, "key_expired", "the signing key is retired and no longer accepted")
	ErrKeyNotYetValid = refusal(http.StatusUnauthorized, "key_not_yet_valid", "the signing key is not valid yet")
	ErrBadSignature   = refusal(http.StatusUnauthorized, "bad_signature", "the signature does not verify with the calling peer's key")
	ErrNotYetValid    = refusal(http.StatusUnauthorized, "not_yet_valid", "the call is issued in the future: check the caller's clock")
	ErrExpired        = refusal(http.StatusUnauthorized, "expired", "the call has expired: sign each call when it is sent")
	ErrWrongMethod    = refusal(http.StatusUnauthorized, "wrong_method", "the call was signed for another HTTP method")
	ErrWrongURL       = refusal(http.StatusUnauthorized, "wrong_url", "the call was signed for another URL")
	ErrDigestMismatch = refusal(http.StatusUnauthorized, "digest_mismatch", "the body is not the one that was signed")
	ErrReplayed       = refusal(http.StatusUnauthorized, "replayed", "the call was already received: its nonce was used")
	ErrBodyTooLarge   = refusal(http.StatusRequestEntityTooLarge, "body_too_large", "the body is larger than this peer accepts")
	ErrWrongAudience  = refusal(http.StatusForbidden, "wrong_audience", "the call is addressed to another peer")
	ErrBlocked        = refusal(http.StatusForbidden, "blocked", "the calling peer is blocked by this peer")
	ErrBusy           = refusal(http.StatusServiceUnavailable, "replay_cache_full", "too many calls in flight: retry in a few seconds")
)

// RefusalOf returns the refusal in err's chain, if any.
func RefusalOf(err error) (*Refusal, bool) {
	var r *Refusal
	ok := errors.As(err, &r)
	return r, ok
}
