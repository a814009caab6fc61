package oidcstorage

import (
	"errors"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/opencloud/opencloud/services/oc-auth/internal/password"
)

// Codes is the op.Crypto of the provider. zitadel uses Encrypt to derive
// authorization codes from request ids, and Decrypt to read opaque access
// tokens. Codes here are random instead (the store keeps their digest and
// finds the request by it), so they reveal nothing and need no key to
// survive restarts; and every access token is a JWT, so Decrypt always
// fails and zitadel verifies the JWT instead.
type Codes struct{}

var _ op.Crypto = Codes{}

var errNotOpaque = errors.New("oc-auth issues no opaque tokens")

// Encrypt returns a fresh random code; its input is ignored.
func (Codes) Encrypt(string) (string, error) { return password.Token("") }

// Decrypt always fails.
func (Codes) Decrypt(string) (string, error) { return "", errNotOpaque }
