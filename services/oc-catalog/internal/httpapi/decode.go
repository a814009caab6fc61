package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/resource"
	"github.com/opencloud/opencloud/libs/server"
)

// decodePatch reads a merge patch: one JSON object.
func decodePatch(c *gin.Context) (map[string]any, error) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, apierror.New(http.StatusRequestEntityTooLarge, "body_too_large",
				fmt.Sprintf("the request body exceeds %d bytes", tooBig.Limit), nil)
		}
		return nil, apierror.BadRequest("unreadable_body", "the request body could not be read")
	}
	return ParsePatch(body)
}

// ParsePatch decodes a merge patch, keeping numbers exact.
func ParsePatch(body []byte) (map[string]any, error) {
	var patch map[string]any
	if err := decodeNumbers(body, &patch); err != nil {
		return nil, err
	}
	if patch == nil {
		return nil, apierror.BadRequest("malformed_json", "the patch must be a JSON object of the fields to change")
	}
	return patch, nil
}

func decodeNumbers(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apierror.BadRequest("empty_body", "the request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return apierror.BadRequest("malformed_json", "the patch must be a JSON object of the fields to change")
		}
		return apierror.BadRequest("malformed_json", "the request body is not valid JSON: "+err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apierror.BadRequest("malformed_json", "the request body has data after the JSON object; send exactly one object")
	}
	return nil
}

// MergePatch applies an RFC 7396 merge patch to cur and decodes the result
// strictly, so that unknown fields and wrong types are refused as in a
// replace.
func MergePatch(cur resource.Input, patch map[string]any) (resource.Input, error) {
	raw, err := json.Marshal(cur)
	if err != nil {
		return resource.Input{}, fmt.Errorf("encode resource: %w", err)
	}
	var doc map[string]any
	if err := decodeNumbers(raw, &doc); err != nil {
		return resource.Input{}, fmt.Errorf("decode resource: %w", err)
	}
	merged, err := json.Marshal(merge(doc, patch))
	if err != nil {
		return resource.Input{}, fmt.Errorf("encode patched resource: %w", err)
	}
	var out resource.Input
	if err := server.DecodeBytes(merged, &out); err != nil {
		return resource.Input{}, err
	}
	return out, nil
}

func merge(target, patch map[string]any) map[string]any {
	if target == nil {
		target = map[string]any{}
	}
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(target, k)
		case map[string]any:
			tv, _ := target[k].(map[string]any)
			target[k] = merge(tv, pv)
		default:
			target[k] = v
		}
	}
	return target
}
