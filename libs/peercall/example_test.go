package peercall_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/opencloud/opencloud/libs/peercall"
	"github.com/opencloud/opencloud/libs/peerid"
)

// A call of peer A (the key of the seed 00 01 … 1f) to peer B (the key of
// the seed 1f 1e … 00) at 2026-03-01T12:00:00Z with the nonce bytes 2a 2a …:
// a partner's implementation can check that it makes the same token.
func ExampleSigner_Sign() {
	seedA, seedB := make([]byte, 32), make([]byte, 32)
	for i := range seedA {
		seedA[i], seedB[i] = byte(i), byte(31-i)
	}
	keyA, _ := peerid.NewKeyFromSeed(seedA)
	keyB, _ := peerid.NewKeyFromSeed(seedB)
	s := &peercall.Signer{
		Peer: keyA.PeerID(),
		Key:  keyA,
		Now:  func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) },
		Rand: bytes.NewReader(bytes.Repeat([]byte{0x2a}, 16)),
	}
	req, _ := http.NewRequest(http.MethodPost, "https://b.example:443/areas/a1/ops?since=7", nil)
	if err := s.Sign(req, keyB.PeerID(), []byte(`{"op":"rename"}`)); err != nil {
		panic(err)
	}
	auth := req.Header.Get("Authorization")
	parts := strings.Split(strings.TrimPrefix(auth, "OCPeer "), ".")
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	fmt.Println(string(header))
	fmt.Println(string(payload))
	fmt.Println(parts[2])
	// Output:
	// {"alg":"EdDSA","typ":"oc-call+jwt","kid":"kzdvvj2umnduyauf"}
	// {"iss":"aejcavshlktviy2hjqbilx25x4v4vnz5uzitlcbz5g3xjans5kyqo4em","aud":"aejcafa534xhpvhwsb2iz52ozu4q2rdipvdxwmnysmp2g6v5albv3ov2","iat":1772366400,"exp":1772366430,"jti":"KioqKioqKioqKioqKioqKg","htm":"POST","htu":"https://b.example/areas/a1/ops?since=7","body_sha256":"c85pCfIWFJB6YyjwBPkoBV5V801KwotAcFnRFrnFgLM"}
	// MPaP62_u9-1OQzQvAzO6cdt2CIwM35GEjrhfkhyXQiqv8Xj--Tra_SHN_BJytdELmYNqv037lbJdhQ4d3i4eDA
}
