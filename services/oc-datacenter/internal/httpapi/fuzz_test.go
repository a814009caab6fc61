package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/server"

	"github.com/opencloud/opencloud/services/oc-datacenter/datacenter"
	"github.com/opencloud/opencloud/services/oc-datacenter/internal/credentials"
)

// FuzzCredentialsInput: any PUT body is refused as a 400 naming what to
// fix, or accepted within the limits; an accepted input encodes and
// decodes back to itself.
func FuzzCredentialsInput(f *testing.F) {
	f.Add([]byte(`{"access_key_id":"AKIAIOSFODNN7EXAMPLE","secret_access_key":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`))
	f.Add([]byte(`{"access_key_id":"a b","secret_access_key":"s"}`))
	f.Add([]byte(`{"access_key_id":"\u00e9","secret_access_key":"\u0000"}`))
	f.Add([]byte(`{"access_key_id":"a","secret_access_key":"s","x":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var in datacenter.StorageCredentialsInput
		err := server.DecodeBytes(body, &in)
		if err == nil {
			err = credentials.Validate(in)
		}
		if err != nil {
			var ae *apierror.Error
			var ve *credentials.ValidationError
			switch {
			case errors.As(err, &ae) && ae.Status/100 == 4 && ae.Message != "":
			case errors.As(err, &ve) && ve.Field != "" && ve.Problem != "":
			default:
				t.Fatalf("error %v (%T) is not a 4xx naming what to fix", err, err)
			}
			if ae != nil && ae.Status != http.StatusBadRequest && ae.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d", ae.Status)
			}
			return
		}
		for _, v := range []struct {
			s   string
			max int
		}{{in.AccessKeyID, datacenter.MaxAccessKeyID}, {in.SecretAccessKey, datacenter.MaxSecretAccessKey}} {
			if v.s == "" || len(v.s) > v.max {
				t.Fatalf("accepted a key of %d bytes", len(v.s))
			}
			for i := 0; i < len(v.s); i++ {
				if v.s[i] <= ' ' || v.s[i] > '~' {
					t.Fatalf("accepted byte %#x", v.s[i])
				}
			}
		}
		raw, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var back datacenter.StorageCredentialsInput
		if err := server.DecodeBytes(raw, &back); err != nil || back != in {
			t.Fatalf("round trip: %+v %v, want %+v", back, err, in)
		}
	})
}
