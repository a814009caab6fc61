package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestIfMatch(t *testing.T) {
	for _, tt := range []struct {
		header string
		want   int64
		bad    bool
	}{
		{"", 0, false},
		{`"3"`, 3, false},
		{"42", 42, false},
		{` "7" `, 7, false},
		{`"0"`, 0, true},
		{`W/"3"`, 0, true},
		{`"3", "4"`, 0, true},
		{"*", 0, true},
		{`"1234567890123456789"`, 0, true},
	} {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest(http.MethodPut, "/", nil)
		c.Request.Header.Set("If-Match", tt.header)
		got, err := IfMatch(c)
		if got != tt.want || (err != nil) != tt.bad {
			t.Errorf("If-Match %q: %d, %v", tt.header, got, err)
		}
	}
	if ETag(12) != `"12"` {
		t.Errorf("ETag(12) = %s", ETag(12))
	}
}
