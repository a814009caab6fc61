package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
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
		return decodeError(err, body, reflect.TypeOf(dst))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apierror.BadRequest("malformed_json", "the request body has data after the JSON object; send exactly one object")
	}
	return nil
}

func decodeError(err error, body []byte, t reflect.Type) error {
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
		if path := unknownFieldPath(body, t); path != "" {
			name = path
		}
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

// ParsePage reads ?limit= (1..MaxLimit, DefaultLimit when absent) and
// ?offset= (>= 0).
func ParsePage(c *gin.Context) (Page, error) {
	p, bad := readPage(c.Request.URL.Query())
	if len(bad) > 0 {
		return Page{}, apierror.Invalid(bad...)
	}
	return p, nil
}

// unknownFieldPath finds the dotted path ("data.rows", "items[2].x") of the
// first key in body that type t does not declare; encoding/json only names
// the key itself.
func unknownFieldPath(body []byte, t reflect.Type) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	return findUnknown(v, t, "")
}

func findUnknown(v any, t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch val := v.(type) {
	case map[string]any:
		if t.Kind() == reflect.Map {
			for k, child := range val {
				if p := findUnknown(child, t.Elem(), join(path, k)); p != "" {
					return p
				}
			}
			return ""
		}
		if t.Kind() != reflect.Struct {
			return ""
		}
		fields := jsonFields(t)
		for _, k := range sortedKeys(val) {
			ft, ok := fields[k]
			if !ok {
				ft, ok = fields[strings.ToLower(k)]
			}
			if !ok {
				return join(path, k)
			}
			if p := findUnknown(val[k], ft, join(path, k)); p != "" {
				return p
			}
		}
	case []any:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return ""
		}
		for i, child := range val {
			if p := findUnknown(child, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

// jsonFields maps the JSON names of a struct's fields (embedded ones
// included, case-folded as encoding/json matches them) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					out[k] = v
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
		out[strings.ToLower(name)] = f.Type
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
