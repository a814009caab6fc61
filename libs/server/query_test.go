package server_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/server"
)

func queryContext(raw string) *gin.Context {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodGet, "/items?"+raw, nil)
	return c
}

// fieldsOf lists the parameters err names, in order.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ae *apierror.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		t.Fatalf("want a 400 apierror, got %v", err)
	}
	var out []string
	for _, f := range ae.Details.([]apierror.FieldError) {
		out = append(out, f.Field)
	}
	return out
}

type sortKey struct {
	Field string
	Desc  bool
}

var sortFields = []string{"name", "created_at", "updated_at"}

// readList reads a query the way a list route does, each parameter once.
func readList(c *gin.Context) (*server.ListQuery, []sortKey, []string, string, string) {
	q := server.NewListQuery(c, []string{"q", "tag", "owner", "sort"}, "tag")
	text := q.Text("q")
	tags := q.Set("tag", 3, func(s string) bool { return s != "" && strings.ToLower(s) == s }, "expected lower-case words")
	owner := q.Subject("owner", "caller-subject", server.MaxSubject, nil)
	sorts := server.SortKeys(q, "sort", sortFields, func(f string, desc bool) sortKey { return sortKey{f, desc} })
	return q, sorts, tags, owner, text
}

func TestListQuery(t *testing.T) {
	t.Run("a valid query", func(t *testing.T) {
		q, sorts, tags, owner, text := readList(queryContext("q=+two+words+&tag=b&tag=a&tag=b&owner=me&sort=-updated_at,name&limit=50&offset=100"))
		if err := q.Err(); err != nil {
			t.Fatal(err)
		}
		if p := q.Page(); p.Limit != 50 || p.Offset != 100 {
			t.Errorf("page %+v", p)
		}
		if want := []sortKey{{"updated_at", true}, {"name", false}}; !slices.Equal(sorts, want) {
			t.Errorf("sort %v, want %v", sorts, want)
		}
		if !slices.Equal(tags, []string{"a", "b"}) {
			t.Errorf("tags %v", tags)
		}
		if owner != "caller-subject" || text != "two words" {
			t.Errorf("owner %q text %q", owner, text)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		q, sorts, tags, owner, text := readList(queryContext(""))
		if err := q.Err(); err != nil {
			t.Fatal(err)
		}
		if p := q.Page(); p.Limit != server.DefaultLimit || p.Offset != 0 {
			t.Errorf("page %+v", p)
		}
		if want := []sortKey{{"name", false}}; !slices.Equal(sorts, want) {
			t.Errorf("sort %v, want %v", sorts, want)
		}
		if len(tags) != 0 || owner != "" || text != "" {
			t.Errorf("tags %v owner %q text %q", tags, owner, text)
		}
	})
	t.Run("an owner named by subject", func(t *testing.T) {
		_, _, _, owner, _ := readList(queryContext("owner=3f1c2a9e"))
		if owner != "3f1c2a9e" {
			t.Errorf("owner %q", owner)
		}
	})

	long := strings.Repeat("x", server.MaxTextChars+1)
	cases := []struct {
		query string
		want  []string // the parameters named, in order
	}{
		{"limit=0", []string{"limit"}},
		{"limit=201", []string{"limit"}},
		{"limit=ten", []string{"limit"}},
		{"offset=-1", []string{"offset"}},
		{"offset=1.5", []string{"offset"}},
		{"limit=5&limit=6", []string{"limit"}},
		{"zzz=1", []string{"zzz"}},
		{"q=a&q=b", []string{"q"}},
		{"q=" + long, []string{"q"}},
		{"q=1+2+3+4+5+6+7+8+9", []string{"q"}},
		{"q=%ff", []string{"q"}},
		{"tag=a&tag=b&tag=c&tag=d", []string{"tag"}},
		{"tag=A&tag=B", []string{"tag"}},
		{"owner=", []string{"owner"}},
		{"owner=a+b", []string{"owner"}},
		{"owner=" + strings.Repeat("s", server.MaxSubject+1), []string{"owner"}},
		{"sort=", []string{"sort"}},
		{"sort=-", []string{"sort"}},
		{"sort=size", []string{"sort"}},
		{"sort=--name", []string{"sort"}},
		{"sort=name,-name", []string{"sort"}},
		{"sort=name,created_at,updated_at,name", []string{"sort"}},
		{"zzz=1&limit=-1&tag=X&owner=&q=" + long + "&sort=-", []string{"zzz", "limit", "q", "tag", "owner", "sort"}},
	}
	for _, tc := range cases {
		t.Run(tc.query[:min(len(tc.query), 40)], func(t *testing.T) {
			q, sorts, _, _, _ := readList(queryContext(tc.query))
			got := fieldsOf(t, q.Err())
			if !slices.Equal(got, tc.want) {
				t.Errorf("named %v, want %v", got, tc.want)
			}
			if slices.Contains(tc.want, "sort") && sorts != nil {
				t.Errorf("a bad sort gave keys %v", sorts)
			}
		})
	}
}

func TestListQueryMessages(t *testing.T) {
	q, _, _, _, _ := readList(queryContext("colour=red&tag=a&tag=b&tag=c&tag=d&sort=name,name"))
	var ae *apierror.Error
	if !errors.As(q.Err(), &ae) {
		t.Fatal(q.Err())
	}
	want := []apierror.FieldError{
		{Field: "colour", Problem: "unknown parameter; expected one of q, tag, owner, sort, limit, offset"},
		{Field: "tag", Problem: "expected at most 3 tags"},
		{Field: "sort", Problem: "key name is given twice"},
	}
	if got := ae.Details.([]apierror.FieldError); !slices.Equal(got, want) {
		t.Errorf("details %v\nwant    %v", got, want)
	}
}

func TestSubjectValidator(t *testing.T) {
	q := server.NewListQuery(queryContext("member=a/b"), []string{"member"})
	noSlash := func(s string) bool { return s != "" && !strings.Contains(s, "/") }
	if got := q.Subject("member", "me-subject", 128, noSlash); got != "" {
		t.Errorf("got %q", got)
	}
	if got := fieldsOf(t, q.Err()); !slices.Equal(got, []string{"member"}) {
		t.Errorf("named %v", got)
	}
}

func TestParsePage(t *testing.T) {
	p, err := server.ParsePage(queryContext("limit=7&offset=3"))
	if err != nil || p != (server.Page{Limit: 7, Offset: 3}) {
		t.Errorf("page %+v, %v", p, err)
	}
	if _, err := server.ParsePage(queryContext("limit=0&offset=x")); !slices.Equal(fieldsOf(t, err), []string{"limit", "offset"}) {
		t.Errorf("err %v", err)
	}
}
