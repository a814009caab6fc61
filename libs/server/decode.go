package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
)

// DecodeJSON strictly decodes the request body into dst: one JSON object, no
// unknown fields, no trailing data, within the body limit. Every failure is
// an *apierror.Error naming what to fix.
func DecodeJSON(c *gin.Context, dst any) error {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return apierror.New(http.StatusRequestEntityTooLarge, "body_too_large",
				fmt.Sprintf("the request body exceeds %d bytes", tooBig.Limit), nil)
		}
		return apierror.BadRequest("unreadable_body", "the request body could not be read")
	}
	return DecodeBytes(body, dst)
}

// DecodeBytes is DecodeJSON on a byte slice (also the fuzzing entry point).
func DecodeBytes(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apierror.BadRequest("empty_body", "the request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apierror.BadRequest("malformed_json", "the request body has data after the JSON object; send exactly one object")
	}
	return nil
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return apierror.BadRequest("malformed_json",
			fmt.Sprintf("malformed JSON at byte %d: %s", syntax.Offset, syntax.Error()))
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return apierror.BadRequest("malformed_json", "the request body must be a JSON object")
		}
		return apierror.Invalid(apierror.FieldError{Field: field,
			Problem: fmt.Sprintf("expected %s, got %s", jsonType(typ.Type.Kind().String()), typ.Value)})
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apierror.BadRequest("malformed_json", "the JSON body ends too early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apierror.Invalid(apierror.FieldError{Field: name, Problem: "unknown field; remove it (see the API's Swagger for the accepted fields)"})
	default:
		var ae *apierror.Error
		if errors.As(err, &ae) {
			return ae
		}
		return apierror.BadRequest("malformed_json", "the request body is not valid JSON for this route: "+err.Error())
	}
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	}
	return kind
}

// Page is a validated limit/offset pair from the query string.
type Page struct {
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

// MaxLimit caps page sizes.
const MaxLimit = 200

// ParsePage reads ?limit= (1..MaxLimit, default 20) and ?offset= (>= 0).
func ParsePage(c *gin.Context) (Page, error) {
	p := Page{Limit: 20}
	var bad []apierror.FieldError
	if s, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			bad = append(bad, apierror.FieldError{Field: "limit", Problem: fmt.Sprintf("expected an integer from 1 to %d", MaxLimit)})
		}
		p.Limit = n
	}
	if s, ok := c.GetQuery("offset"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			bad = append(bad, apierror.FieldError{Field: "offset", Problem: "expected an integer >= 0"})
		}
		p.Offset = n
	}
	if len(bad) > 0 {
		return Page{}, apierror.Invalid(bad...)
	}
	return p, nil
}

// List is the shape of every paginated list response.
type List[T any] struct {
	Items  []T   `json:"items"`
	Total  int64 `json:"total"`
	Limit  int   `json:"limit"`
	Offset int   `json:"offset"`
}
