package service_test

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/resource"
)

// badBodies are create or replace bodies the API must refuse, each with the
// status, error code and the fields the details must name.
var badBodies = []struct {
	name   string
	body   string
	status int
	code   string
	fields []string
}{
	{"malformed JSON", `{"kind":"data",`, 400, "malformed_json", nil},
	{"syntax error", `{"kind" "data"}`, 400, "malformed_json", nil},
	{"not an object", `["data"]`, 400, "malformed_json", nil},
	{"empty body", ``, 400, "empty_body", nil},
	{"trailing data", `{"kind":"workflow","name":"x","workflow":{"workflow_id":"w"}} {"again":1}`, 400, "malformed_json", nil},
	{"unknown kind", `{"kind":"dataset","name":"x"}`, 400, "invalid_request", []string{"kind"}},
	{"missing kind", `{"name":"x"}`, 400, "invalid_request", []string{"kind"}},
	{"unknown field", `{"kind":"data","name":"x","colour":"red","data":{"location":"s3://b"}}`, 400, "invalid_request", []string{"colour"}},
	{"unknown nested field", `{"kind":"data","name":"x","data":{"location":"s3://b","rows":1}}`, 400, "invalid_request", []string{"data.rows"}},
	{"read-only field", `{"kind":"data","name":"x","id":"abc","data":{"location":"s3://b"}}`, 400, "invalid_request", []string{"id"}},
	{"missing name", `{"kind":"data","data":{"location":"s3://b"}}`, 400, "invalid_request", []string{"name"}},
	{"missing kind object", `{"kind":"storage","name":"x"}`, 400, "invalid_request", []string{"storage"}},
	{"other kind's object", `{"kind":"data","name":"x","data":{"location":"s3://b"},"compute":{"cluster_ref":"c","architecture":"amd64"}}`, 400, "invalid_request", []string{"compute"}},
	{"missing required nested", `{"kind":"processing","name":"x","processing":{}}`, 400, "invalid_request", []string{"processing.image"}},
	{"wrong type: string for number", `{"kind":"data","name":"x","data":{"location":"s3://b","size_bytes":"big"}}`, 400, "invalid_request", []string{"data.size_bytes"}},
	{"wrong type: number for string", `{"kind":"data","name":5,"data":{"location":"s3://b"}}`, 400, "invalid_request", []string{"name"}},
	{"wrong type: string for list", `{"kind":"data","name":"x","tags":"eo","data":{"location":"s3://b"}}`, 400, "invalid_request", []string{"tags"}},
	{"wrong type: fraction for integer", `{"kind":"compute","name":"x","compute":{"cluster_ref":"c","architecture":"amd64","cpu_cores":1.5}}`, 400, "invalid_request", []string{"compute.cpu_cores"}},
	{"negative size", `{"kind":"data","name":"x","data":{"location":"s3://b","size_bytes":-1}}`, 400, "invalid_request", []string{"data.size_bytes"}},
	{"bad tag", `{"kind":"data","name":"x","tags":["Earth Observation"],"data":{"location":"s3://b"}}`, 400, "invalid_request", []string{"tags[0]"}},
	{"long name", `{"kind":"data","name":"` + strings.Repeat("n", 201) + `","data":{"location":"s3://b"}}`, 400, "invalid_request", []string{"name"}},
	{"bad image", `{"kind":"processing","name":"x","processing":{"image":"not an image"}}`, 400, "invalid_request", []string{"processing.image"}},
	{"bad endpoint", `{"kind":"storage","name":"x","storage":{"endpoint":"s3.example.org","bucket":"abc"}}`, 400, "invalid_request", []string{"storage.endpoint"}},
	{"bad pricing", `{"kind":"data","name":"x","pricing":{"model":"per_hour","amount":-2,"currency":"euro"},"data":{"location":"s3://b"}}`, 400, "invalid_request", []string{"pricing.amount", "pricing.currency"}},
	{"groups without a list", `{"kind":"data","name":"x","visibility":"groups","data":{"location":"s3://b"}}`, 400, "invalid_request", []string{"groups"}},
	{"unknown visibility", `{"kind":"data","name":"x","visibility":"world","data":{"location":"s3://b"}}`, 400, "invalid_request", []string{"visibility"}},
	{"every problem at once", `{"kind":"data","name":"","visibility":"world","logo":"ftp://x","data":{"location":"","size_bytes":-5}}`, 400, "invalid_request",
		[]string{"name", "logo", "visibility", "data.location", "data.size_bytes"}},
	{"oversize body", `{"kind":"data","name":"x","description":"` + strings.Repeat("a", 300<<10) + `","data":{"location":"s3://b"}}`, 413, "body_too_large", nil},
}

func TestBadInputWritesNothing(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		tok := e.iss.Token(alice)
		existing := e.create(alice, sample(resource.KindData, "Existing"))
		path := "/catalog/resources/" + existing.ID
		for _, tt := range badBodies {
			t.Run(tt.name, func(t *testing.T) {
				for _, req := range []struct{ method, path string }{
					{http.MethodPost, "/catalog/resources"},
					{http.MethodPut, path},
				} {
					before := e.count()
					resp := e.do(req.method, req.path, tok, tt.body, "If-Match", `"1"`)
					checkError(t, req.method, resp, tt.status, tt.code, tt.fields)
					if after := e.count(); after != before {
						t.Errorf("%s: %d resources before, %d after", req.method, before, after)
					}
				}
				if got := e.stored(existing.ID); !reflect.DeepEqual(got, existing) {
					t.Errorf("PUT changed the stored resource to %+v", got)
				}
			})
		}
	})
}

func TestBadPatchWritesNothing(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		tok := e.iss.Token(alice)
		existing := e.create(alice, sample(resource.KindData, "Existing"))
		path := "/catalog/resources/" + existing.ID
		for _, tt := range []struct {
			name   string
			body   string
			code   string
			fields []string
		}{
			{"not an object", `[1]`, "malformed_json", nil},
			{"null", `null`, "malformed_json", nil},
			{"malformed", `{"name":`, "malformed_json", nil},
			{"unknown field", `{"colour":"red"}`, "invalid_request", []string{"colour"}},
			{"wrong type", `{"data":{"size_bytes":"big"}}`, "invalid_request", []string{"data.size_bytes"}},
			{"removes a required field", `{"name":null}`, "invalid_request", []string{"name"}},
			{"changes the kind", `{"kind":"storage","data":null,"storage":{"endpoint":"https://s3.x","bucket":"abc"}}`, "invalid_request", []string{"kind"}},
			{"version on create only fields", `{"version":"one"}`, "invalid_request", []string{"version"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				resp := e.do(http.MethodPatch, path, tok, tt.body)
				checkError(t, "PATCH", resp, http.StatusBadRequest, tt.code, tt.fields)
				if got := e.stored(existing.ID); !reflect.DeepEqual(got, existing) {
					t.Errorf("stored resource changed to %+v", got)
				}
			})
		}
		// A version on create is refused: the catalog sets it.
		before := e.count()
		resp := e.do(http.MethodPost, "/catalog/resources", tok, `{"kind":"workflow","name":"x","version":7,"workflow":{"workflow_id":"w"}}`)
		checkError(t, "POST", resp, http.StatusBadRequest, "invalid_request", []string{"version"})
		if e.count() != before {
			t.Error("a create with a version was written")
		}
	})
}

func TestBadListParameters(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		tok := e.iss.Token(alice)
		for _, tt := range []struct {
			query  string
			fields []string
		}{
			{"limit=0", []string{"limit"}},
			{"limit=1000", []string{"limit"}},
			{"limit=ten", []string{"limit"}},
			{"offset=-1", []string{"offset"}},
			{"offset=1.5", []string{"offset"}},
			{"kind=dataset", []string{"kind"}},
			{"visibility=world", []string{"visibility"}},
			{"tag=UPPER", []string{"tag"}},
			{"sort=size", []string{"sort"}},
			{"sort=--name", []string{"sort"}},
			{"q=" + strings.Repeat("x", 201), []string{"q"}},
			{"page=2", []string{"page"}},
			{"limit=5&limit=6", []string{"limit"}},
			{"kind=x&limit=0&sort=y", []string{"limit", "kind", "sort"}},
		} {
			t.Run(tt.query, func(t *testing.T) {
				resp := e.do(http.MethodGet, "/catalog/resources?"+tt.query, tok, "")
				checkError(t, "GET", resp, http.StatusBadRequest, "invalid_request", tt.fields)
			})
		}
	})
}

func checkError(t *testing.T, what string, resp response, wantStatus int, wantCode string, wantFields []string) {
	t.Helper()
	ae := resp.envelope(t)
	if resp.Status != wantStatus || ae.Code != wantCode {
		t.Errorf("%s: %d %s, want %d %s", what, resp.Status, clip(resp.Body), wantStatus, wantCode)
		return
	}
	var got []string
	for _, f := range ae.Details.([]apierror.FieldError) {
		got = append(got, f.Field)
		if f.Problem == "" {
			t.Errorf("%s: field %s has no problem text", what, f.Field)
		}
	}
	if wantFields != nil && !slices.Equal(got, wantFields) {
		t.Errorf("%s: fields %v, want %v (%s)", what, got, wantFields, clip(resp.Body))
	}
}

func clip(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "…"
	}
	return string(b)
}
