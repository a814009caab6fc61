package service_test

import (
	"context"
	"testing"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/services/oc-auth/client"
	"github.com/opencloud/opencloud/services/oc-auth/service"
)

// BenchmarkVerifyToken measures what every OpenCloud service pays per
// request to check one of oc-auth's access tokens with authn.OIDCVerifier,
// once the JWKS is cached: in full (signature, claims) the first time a token
// is seen, and from the verified-token cache afterwards.
func BenchmarkVerifyToken(b *testing.B) {
	e := newEnv(b, backends[0].open(b), service.Config{AdminPassword: adminPassword})
	ctx := context.Background()
	ac := client.New(e.srv.URL, apiclient.StaticToken(e.adminToken()), nil)
	c, err := ac.CreateClient(ctx, client.NewOAuthClient{ClientID: "bench", Name: "Bench", GrantTypes: []string{"client_credentials"}})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := client.ClientCredentialsToken(ctx, e.issuer+"/oauth/token", c.ClientID, c.ClientSecret)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		opts []authn.VerifierOption
	}{{"full", []authn.VerifierOption{authn.WithoutCache()}}, {"cached", nil}} {
		b.Run(bc.name, func(b *testing.B) {
			v := authn.NewOIDCVerifier(ctx, e.issuer, e.issuer+"/keys", authn.Audience, bc.opts...)
			if _, err := v.Verify(ctx, tok); err != nil { // fetches and caches the JWKS
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
