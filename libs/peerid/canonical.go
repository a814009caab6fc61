package peerid

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode/utf16"
)

// maxDepth bounds the nesting of the JSON values this package reads; a self
// document nests three levels.
const maxDepth = 32

// maxSafeInteger is the largest integer every JSON implementation reads
// exactly (2^53 - 1).
const maxSafeInteger = 1<<53 - 1

var errNotCanonicalizable = errors.New("not canonical JSON input")

// parseJSON reads one JSON value into a tree of map[string]any, []any,
// string, json.Number, bool and nil. It refuses what RFC 8785 cannot
// serialize the same way in every language as this package uses it:
// duplicate member names, numbers that are not integers in ±(2^53-1), and
// trailing data.
func parseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON value", errNotCanonicalizable)
	}
	return v, nil
}

func readValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", errNotCanonicalizable, maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotCanonicalizable, err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("%w: %v", errNotCanonicalizable, err)
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("%w: member name expected", errNotCanonicalizable)
				}
				if _, dup := obj[key]; dup {
					return nil, fmt.Errorf("%w: member %q appears twice", errNotCanonicalizable, key)
				}
				v, err := readValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				obj[key] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("%w: %v", errNotCanonicalizable, err)
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := readValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("%w: %v", errNotCanonicalizable, err)
			}
			return arr, nil
		}
		return nil, fmt.Errorf("%w: unexpected %v", errNotCanonicalizable, t)
	case json.Number:
		if !isSafeInteger(string(t)) {
			return nil, fmt.Errorf("%w: number %s is not an integer within ±(2^53-1)", errNotCanonicalizable, t)
		}
		return t, nil
	case string, bool, nil:
		return t, nil
	}
	return nil, fmt.Errorf("%w: unexpected token %v", errNotCanonicalizable, tok)
}

// isSafeInteger reports whether s is an integer written without fraction,
// exponent, leading zeros or "-0", within ±(2^53-1): the numbers whose
// RFC 8785 form is the text itself.
func isSafeInteger(s string) bool {
	digits := s
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if digits == "" || (digits[0] == '0' && len(digits) > 1) || s == "-0" {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return err == nil && n <= maxSafeInteger && n >= -maxSafeInteger
}

// appendCanonical appends the RFC 8785 (JSON Canonicalization Scheme) form
// of a tree made by parseJSON: no white space, object members sorted by the
// UTF-16 code units of their names, strings escaped minimally.
func appendCanonical(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, v)
	case json.Number:
		return append(b, v...)
	case string:
		return appendCanonicalString(b, v)
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonical(b, e)
		}
		return append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareUTF16)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonicalString(b, k)
			b = append(b, ':')
			b = appendCanonical(b, v[k])
		}
		return append(b, '}')
	}
	panic(fmt.Sprintf("peerid: appendCanonical given %T", v))
}

// shortEscapes are the two-character escapes RFC 8785 uses; other
// control characters are written \u00xx.
var shortEscapes = map[rune]byte{'"': '"', '\\': '\\', '\b': 'b', '\t': 't', '\n': 'n', '\f': 'f', '\r': 'r'}

func appendCanonicalString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch esc, short := shortEscapes[r]; {
		case short:
			b = append(b, '\\', esc)
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			b = append(b, string(r)...)
		}
	}
	return append(b, '"')
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785
// sorts member names.
func compareUTF16(a, b string) int {
	ua := utf16.Encode([]rune(a))
	ub := utf16.Encode([]rune(b))
	return slices.Compare(ua, ub)
}
