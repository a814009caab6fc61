package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/server"

	"github.com/opencloud/opencloud/services/oc-catalog/internal/catalog"
)

// decodeInput is what the create and replace routes do with a body before
// touching the store: strict decoding, then normalisation and validation.
func decodeInput(body []byte) (resource.Input, error) {
	var in resource.Input
	if err := server.DecodeBytes(body, &in); err != nil {
		return resource.Input{}, err
	}
	if err := catalog.Check(&in); err != nil {
		return resource.Input{}, err
	}
	return in, nil
}

// badRequest reports whether err is one the API answers with a 4xx naming
// what to fix, rather than a 500.
func badRequest(err error) bool {
	var ae *apierror.Error
	if errors.As(err, &ae) {
		return ae.Status == http.StatusBadRequest && ae.Message != ""
	}
	var ve *catalog.ValidationError
	return errors.As(err, &ve) && len(ve.Problems) > 0
}

// FuzzDecodeInput: any body is either refused as a 400 or accepted, and an
// accepted input is a fixed point (encoding it and checking it again changes
// nothing), so what is stored reads back as it was validated.
func FuzzDecodeInput(f *testing.F) {
	f.Add([]byte(`{"kind":"data","name":"x","data":{"location":"s3://b/p"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := decodeInput(body)
		if err != nil {
			if !badRequest(err) {
				t.Fatalf("error %v (%T) is not a 400", err, err)
			}
			return
		}
		raw, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("accepted input does not encode: %v", err)
		}
		again, err := decodeInput(raw)
		if err != nil {
			t.Fatalf("accepted input %s refused on the second pass: %v", raw, err)
		}
		if !reflect.DeepEqual(in, again) {
			t.Fatalf("not a fixed point:\n%#v\n%#v", in, again)
		}
	})
}

// FuzzMergePatch: any patch of a valid resource is refused as a 400 or
// yields a valid input of the same kind checks accept.
func FuzzMergePatch(f *testing.F) {
	f.Add([]byte(`{"tags":["a"],"data":{"size_bytes":5}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		cur := resource.Input{Kind: resource.KindData, Name: "n", Visibility: resource.Public,
			Pricing: &resource.Pricing{Model: resource.Free}, Data: &resource.Data{Location: "s3://b/p"}}
		patch, err := ParsePatch(body)
		if err != nil {
			if !badRequest(err) {
				t.Fatalf("error %v (%T) is not a 400", err, err)
			}
			return
		}
		in, err := MergePatch(cur, patch)
		if err == nil {
			err = catalog.Check(&in)
		}
		if err != nil && !badRequest(err) {
			t.Fatalf("error %v (%T) is not a 400", err, err)
		}
	})
}

// FuzzListQuery: any query string is refused as a 400 naming parameters, or
// gives a query within the limits.
func FuzzListQuery(f *testing.F) {
	f.Add("kind=data&tag=a&tag=b&sort=-updated_at&limit=5&offset=10&q=tiles")
	gin.SetMode(gin.ReleaseMode)
	f.Fuzz(func(t *testing.T, raw string) {
		if _, err := url.ParseQuery(raw); err != nil {
			return // net/http drops malformed pairs before handlers see them
		}
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/catalog/resources", RawQuery: raw}}
		q, err := parseList(c, authn.Principal{Subject: "alice"})
		if err != nil {
			if !badRequest(err) {
				t.Fatalf("error %v (%T) is not a 400", err, err)
			}
			return
		}
		if q.Limit < 1 || q.Limit > server.MaxLimit || q.Offset < 0 || len(q.Sort) == 0 {
			t.Fatalf("accepted an out-of-range query: %+v", q)
		}
	})
}
