package server

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
)

// ETag is the entity tag of a stored version: the number, quoted. Every
// versioned document the services serve carries it, and takes it back in
// If-Match.
func ETag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// etagRe is a version as an ETag ("3"), or bare (3) for hand-written calls.
var etagRe = regexp.MustCompile(`^(?:"([1-9][0-9]{0,17})"|([1-9][0-9]{0,17}))$`)

// IfMatch reads the If-Match header as the version a write is meant for: 0
// when absent, a 400 naming the header when it is not one version's ETag.
func IfMatch(c *gin.Context) (int64, error) {
	h := strings.TrimSpace(c.GetHeader("If-Match"))
	if h == "" {
		return 0, nil
	}
	m := etagRe.FindStringSubmatch(h)
	if m == nil {
		return 0, apierror.Invalid(apierror.FieldError{Field: "If-Match",
			Problem: `expected the ETag of one version, such as "3" (the version you read)`})
	}
	n, _ := strconv.ParseInt(m[1]+m[2], 10, 64) // the pattern bounds it to 18 digits
	return n, nil
}
