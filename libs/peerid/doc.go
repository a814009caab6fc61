// Package peerid is the identity of an OpenCloud peer: its Ed25519 keys,
// the peer id derived from its first public key, the fingerprint an
// administrator compares out of band, and the signed self document a peer
// publishes (GET /peer/self) and others pin.
//
// # Peer id, version 1
//
// A peer id is self-certifying: it is derived from the peer's first public
// key, so nobody without that key can present a document that verifies
// under the id, and two peers never share an id.
//
//	bytes = 0x01 || 0x12 || 0x20 || SHA-256(public key)   (35 bytes)
//	id    = base32(bytes)                                  (56 characters)
//
// 0x01 is the format version (version 1: an Ed25519 key, RFC 8032, its
// 32-byte public key hashed whole); 0x12 0x20 is the multihash header of a
// 32-byte SHA2-256 digest. base32 is RFC 4648 in lower case ("a"-"z",
// "2"-"7") without padding; 35 bytes fill 56 characters exactly, so each id
// has one spelling, and every version 1 id starts with "aejca" or "aejcb".
// Parse accepts version 1 ids only, spelled exactly so.
//
// A key id names one of a peer's keys: base32 (as above) of the first 10
// bytes of SHA-256(public key), 16 characters. A fingerprint is the whole
// SHA-256(public key) in upper-case hexadecimal, in 16 groups of 4 joined
// by single spaces.
//
// Test vector: the Ed25519 seed 000102…1f (the bytes 0 to 31) has the
// public key 03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8,
//
//	peer id      aejcavshlktviy2hjqbilx25x4v4vnz5uzitlcbz5g3xjans5kyqo4em
//	key id       kzdvvj2umnduyauf
//	fingerprint  5647 5AA7 5463 474C 0285 DF5D BF2B CAB7 3DA6 5135 8839 E9B7 7481 B2EA B107 708C
//
// # Self document
//
// A JSON object (at most 64 KiB; UTF-8):
//
//	{
//	  "id": "<peer id>",
//	  "name": "<human name, 1-200 bytes>",
//	  "url": "<absolute http(s) URL of the peer's API>",
//	  "keys": [
//	    {"id": "<key id>", "alg": "Ed25519", "public_key": "<base64url, 32 bytes>",
//	     "not_before": "<RFC 3339>", "not_after": "<RFC 3339, optional>",
//	     "endorsement": "<base64url, 64 bytes; absent on the first key>"},
//	    ...
//	  ],
//	  "offers": ["catalog", "compute", ...],
//	  "issued_at": "<RFC 3339>",
//	  "signature": {"key_id": "<key id of the last key>", "value": "<base64url, 64 bytes>"}
//	}
//
// base64url is RFC 4648 section 5 without padding. This package writes
// times in UTC to the second ("2026-03-01T12:00:00Z") and reads any RFC 3339
// time. Members it does not know are kept and covered by the signature.
//
// "keys" is the peer's whole key history, oldest first. The first key is
// the one the id was derived from. Each later key is endorsed by the key
// before it: "endorsement" is the Ed25519 signature, by the previous key, of
//
//	"opencloud-peer-key-v1\n" || JCS(entry without "endorsement" and "not_after", plus "peer": <peer id>)
//
// so a key's retirement date can be set later without endorsing it again.
// The last key is the current key; it signs the document:
// "signature.value" is the Ed25519 signature of
//
//	"opencloud-peer-self-v1\n" || JCS(document without "signature")
//
// JCS is the JSON Canonicalization Scheme, RFC 8785, applied to the JSON as
// received. The documents hold no numbers other than integers within
// ±(2^53-1), and a member name may appear once in an object; documents
// breaking either rule are refused, so any RFC 8785 implementation
// reproduces the signed bytes.
//
// A key is accepted from its not_before until its not_after (exclusive;
// none while it is current). Rotation adds the new key, endorsed by the
// old one, and gives the old key a not_after some time ahead, so calls
// signed just before the rotation still verify; the document is then
// signed by the new key.
//
// # Pinning
//
// A KeySet holds the document this peer pinned for another. A newer
// document replaces it only if it keeps every pinned key in place and adds
// new keys after them (the pinned current key endorsed the next one), and
// is not older; a history made anew, with a stolen older key for example,
// is refused, and the administrator compares fingerprints again.
//
// Private keys are sealed at rest elsewhere (libs/seal); MarshalBinary and
// ParsePrivateKey give their bytes: 0x01 (version), 0xed (Ed25519), the
// 32-byte seed.
package peerid
