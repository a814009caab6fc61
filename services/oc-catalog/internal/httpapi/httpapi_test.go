package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/resource"

	"github.com/opencloud/opencloud/services/oc-catalog/internal/catalog"
)

func listQuery(t *testing.T, raw string) (catalog.Query, error) {
	t.Helper()
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/catalog/resources", RawQuery: raw}}
	return parseList(c, authn.Principal{Subject: "alice"})
}

func TestParseList(t *testing.T) {
	q, err := listQuery(t, "kind=storage&tag=b&tag=a&tag=b&owner=me&visibility=groups&q=+s3+eu+&sort=-updated_at,name&limit=50&offset=100")
	if err != nil {
		t.Fatal(err)
	}
	want := catalog.Query{Kind: resource.KindStorage, Tags: []string{"a", "b"}, Owner: "alice", Visibility: resource.Groups,
		Text: "s3 eu", Sort: []catalog.Sort{{Field: catalog.SortUpdatedAt, Desc: true}, {Field: catalog.SortName}}, Limit: 50, Offset: 100}
	if q.Kind != want.Kind || !slices.Equal(q.Tags, want.Tags) || q.Owner != want.Owner || q.Visibility != want.Visibility ||
		q.Text != want.Text || !slices.Equal(q.Sort, want.Sort) || q.Limit != want.Limit || q.Offset != want.Offset {
		t.Errorf("query = %+v\nwant    %+v", q, want)
	}
	q, err = listQuery(t, "")
	if err != nil || q.Limit != 20 || q.Offset != 0 || !slices.Equal(q.Sort, []catalog.Sort{{Field: catalog.SortName}}) {
		t.Errorf("defaults = %+v, %v", q, err)
	}
}

func TestParseListRejects(t *testing.T) {
	tests := []struct {
		query  string
		fields []string
	}{
		{"kind=dataset", []string{"kind"}},
		{"visibility=world", []string{"visibility"}},
		{"tag=Not+OK", []string{"tag"}},
		{"limit=0", []string{"limit"}},
		{"limit=201", []string{"limit"}},
		{"limit=ten", []string{"limit"}},
		{"offset=-1", []string{"offset"}},
		{"sort=size", []string{"sort"}},
		{"sort=name,name", []string{"sort"}},
		{"sort=", []string{"sort"}},
		{"owner=", []string{"owner"}},
		{"q=a+b+c+d+e+f+g+h+i", []string{"q"}},
		{"kinds=data", []string{"kinds"}},
		{"kind=data&kind=storage", []string{"kind"}},
		{"zzz=1&limit=-1&kind=x&sort=-", []string{"zzz", "limit", "kind", "sort"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			_, err := listQuery(t, tt.query)
			var ae *apierror.Error
			if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
				t.Fatalf("err = %v, want a 400", err)
			}
			var got []string
			for _, f := range ae.Details.([]apierror.FieldError) {
				got = append(got, f.Field)
			}
			if !slices.Equal(got, tt.fields) {
				t.Errorf("fields = %v, want %v", got, tt.fields)
			}
		})
	}
}

func TestMergePatch(t *testing.T) {
	cur := resource.Input{Kind: resource.KindData, Name: "n", Tags: []string{"x"}, Visibility: resource.Public,
		Pricing: &resource.Pricing{Model: resource.Free},
		Data:    &resource.Data{Location: "s3://b/p", Format: "csv", SizeBytes: 1 << 60}}
	patch, err := ParsePatch([]byte(`{"name":"m","tags":null,"data":{"format":null,"personal_data":true}}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := MergePatch(cur, patch)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "m" || got.Tags != nil || got.Data.Format != "" || !got.Data.PersonalData ||
		got.Data.Location != "s3://b/p" || got.Data.SizeBytes != 1<<60 || got.Visibility != resource.Public {
		t.Errorf("merged = %+v / %+v", got, got.Data)
	}

	for body, field := range map[string]string{
		`{"colour":"red"}`:              "colour",
		`{"data":{"size_bytes":"big"}}`: "data.size_bytes",
	} {
		patch, err := ParsePatch([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		_, err = MergePatch(cur, patch)
		var ae *apierror.Error
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
			t.Fatalf("%s: err = %v, want a 400", body, err)
		}
		if fs, _ := ae.Details.([]apierror.FieldError); len(fs) != 1 || fs[0].Field != field {
			t.Errorf("%s: details = %v, want field %s", body, ae.Details, field)
		}
	}
	for _, body := range []string{``, `null`, `[1]`, `"x"`, `{"a":1}{}`, `{`} {
		if _, err := ParsePatch([]byte(body)); !badRequest(err) {
			t.Errorf("ParsePatch(%q) = %v, want a 400", body, err)
		}
	}
}
