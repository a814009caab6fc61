package keys

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/store"
)

// storedRecords returns the raw stored documents of the signing keys.
func storedRecords(t *testing.T, st store.Store) []store.Record {
	t.Helper()
	col, err := st.Collection(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	recs, _, err := col.Find(context.Background(), store.Query{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// assertNoKeyMaterial fails when a stored record shows the private key in
// any form: PEM, the DER in base64, or its private exponent.
func assertNoKeyMaterial(t *testing.T, recs []store.Record, priv *rsa.PrivateKey) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(der)
	d := priv.D.Bytes()
	for _, r := range recs {
		raw := string(r.Data)
		for _, bad := range []string{"PRIVATE KEY", "-----BEGIN", "private_key_pem", b64[40:100],
			base64.StdEncoding.EncodeToString(d[:30]), base64.RawURLEncoding.EncodeToString(d[:30])} {
			if strings.Contains(raw, bad) {
				t.Errorf("record %s holds %q: %s", r.ID, bad, raw)
			}
		}
		if !strings.Contains(raw, `"sealed_private_key"`) || !strings.Contains(raw, `"seal_key_id"`) {
			t.Errorf("record %s is not sealed: %s", r.ID, raw)
		}
	}
}

// The stored key is sealed: the record holds no key material, the same
// sealing key opens it after a restart, and another one stops the start
// with a message that says what is wrong.
func TestKeysSealedAtRest(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			st, sealKey := b.open(t), newSealKey(t)
			m, err := Open(ctx, st, time.Hour, sealKey)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Ensure(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Rotate(ctx); err != nil {
				t.Fatal(err)
			}
			signing, err := m.Signing(ctx)
			if err != nil {
				t.Fatal(err)
			}
			recs := storedRecords(t, st)
			if len(recs) != 2 {
				t.Fatalf("%d records", len(recs))
			}
			assertNoKeyMaterial(t, recs, signing.key)

			again, err := Open(ctx, st, time.Hour, sealKey)
			if err != nil {
				t.Fatal(err)
			}
			if err := again.Check(ctx); err != nil {
				t.Fatalf("the same sealing key: %v", err)
			}
			if s, err := again.Signing(ctx); err != nil || s.kid != signing.kid || !s.key.Equal(signing.key) {
				t.Fatalf("after a restart: %v %v", s.kid, err)
			}

			wrong, err := Open(ctx, st, time.Hour, newSealKey(t))
			if err != nil {
				t.Fatal(err)
			}
			err = wrong.Check(ctx)
			if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), "cannot be decrypted with the configured sealing key") {
				t.Fatalf("another sealing key: %v", err)
			}
			if _, err := wrong.Signing(ctx); !errors.Is(err, ErrUnreadable) {
				t.Fatalf("signing with another sealing key: %v", err)
			}
			if _, err := Open(ctx, st, time.Hour, sealKey[:16]); err == nil {
				t.Fatal("a 16-byte sealing key was accepted")
			}
		})
	}
}

// legacyDoc is a key as stored before keys were sealed.
type legacyDoc struct {
	ID            string    `json:"id"`
	Algorithm     string    `json:"alg"`
	PrivateKeyPEM string    `json:"private_key_pem"`
	State         string    `json:"state"`
	CreatedAt     time.Time `json:"created_at"`
}

// Keys stored in clear by an earlier version are sealed at start and keep
// signing and verifying as before.
func TestPlainKeysSealedOnStart(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			st := b.open(t)
			// An earlier version's key, written as it wrote them.
			m, err := Open(ctx, st, time.Hour, newSealKey(t))
			if err != nil {
				t.Fatal(err)
			}
			info, err := m.Rotate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			old, err := m.Signing(ctx)
			if err != nil {
				t.Fatal(err)
			}
			der, err := x509.MarshalPKCS8PrivateKey(old.key)
			if err != nil {
				t.Fatal(err)
			}
			col, err := st.Collection(ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			if err := col.Delete(ctx, info.KID, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := col.Insert(ctx, info.KID, legacyDoc{ID: info.KID, Algorithm: "RS256", State: StateActive, CreatedAt: info.CreatedAt,
				PrivateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))}); err != nil {
				t.Fatal(err)
			}

			m, err = Open(ctx, st, time.Hour, newSealKey(t))
			if err != nil {
				t.Fatal(err)
			}
			if n, err := m.Seal(ctx); err != nil || n != 1 {
				t.Fatalf("seal: %d %v", n, err)
			}
			if n, err := m.Seal(ctx); err != nil || n != 0 {
				t.Fatalf("seal again: %d %v", n, err)
			}
			assertNoKeyMaterial(t, storedRecords(t, st), old.key)
			m.parsed = map[string]*rsa.PrivateKey{} // read it back from the store
			if s, err := m.Signing(ctx); err != nil || s.kid != info.KID || !s.key.Equal(old.key) {
				t.Fatalf("after sealing: %v %v", s.kid, err)
			}
			if infos, err := m.List(ctx); err != nil || len(infos) != 1 || infos[0].State != StateActive {
				t.Fatalf("list: %+v %v", infos, err)
			}
		})
	}
}

// oc-auth's own API takes access tokens only: an ID token (or any token
// without token_use "access") is refused even with the API's audience.
func TestVerifierRequiresAccessToken(t *testing.T) {
	ctx := context.Background()
	m, err := Open(ctx, backends[0].open(t), time.Hour, newSealKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	sk, err := m.Signing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const issuer = "http://localhost:8000/auth"
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: sk.key, KeyID: sk.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	token := func(claims map[string]any) string {
		base := map[string]any{"iss": issuer, "aud": []string{authn.Audience}, "sub": "user-1",
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
		for k, v := range claims {
			base[k] = v
		}
		payload, err := json.Marshal(base)
		if err != nil {
			t.Fatal(err)
		}
		jws, err := signer.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := jws.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	v := NewVerifier(issuer, m)
	if p, err := v.Verify(ctx, token(map[string]any{"token_use": "access"})); err != nil || p.Subject != "user-1" {
		t.Fatalf("access token: %+v %v", p, err)
	}
	for name, claims := range map[string]map[string]any{
		"ID token (no token_use)": {"nonce": "n", "azp": "opencloud"},
		"token_use id":            {"token_use": "id"},
		"token_use refresh":       {"token_use": "refresh"},
		"token_use not a string":  {"token_use": 1},
	} {
		if _, err := v.Verify(ctx, token(claims)); !errors.Is(err, authn.ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", name, err)
		}
	}
	if _, err := v.Verify(ctx, "ocr_an-opaque-refresh-token"); !errors.Is(err, authn.ErrInvalidToken) {
		t.Errorf("refresh token: %v", err)
	}
}
