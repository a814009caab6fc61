package peerid

import (
	"errors"
	"strings"
	"testing"
)

// canonicalize returns the RFC 8785 form of the JSON in data.
func canonicalize(data []byte) ([]byte, error) {
	v, err := parseJSON(data)
	if err != nil {
		return nil, err
	}
	return appendCanonical(nil, v), nil
}

func TestCanonicalize(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"white space and order", ` { "b" : 1 , "a" : [ true , null , "x" ] } `, `{"a":[true,null,"x"],"b":1}`},
		{"nested objects sorted", `{"z":{"y":2,"x":1},"a":{}}`, `{"a":{},"z":{"x":1,"y":2}}`},
		{"escapes (RFC 8785 3.2.2.2)", `"\u0007\b\f\n\r\t\"\\\/é€😀\u001f"`, `"\u0007\b\f\n\r\t\"\\/é€😀\u001f"`},
		{"non-ASCII kept as UTF-8", `"\u00e9\u20ac"`, `"é€"`},
		{"integers", `[0,-1,9007199254740991,-9007199254740991]`, `[0,-1,9007199254740991,-9007199254740991]`},
		// RFC 8785 3.2.3: names sorted by UTF-16 code units, which puts
		// U+1F600 (D83D DE00) before U+FB33, unlike UTF-8 byte order.
		{"UTF-16 order", `{"\u20ac":1,"\r":2,"\ufb33":3,"1":4,"\ud83d\ude00":5,"\u0080":6,"\u00f6":7}`,
			"{\"\\r\":2,\"1\":4,\"\u0080\":6,\"ö\":7,\"€\":1,\"😀\":5,\"\ufb33\":3}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := canonicalize([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Fatalf("canonical form\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestCanonicalizeRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"duplicate member":    `{"a":1,"a":2}`,
		"fraction":            `{"a":1.5}`,
		"exponent":            `{"a":1e3}`,
		"minus zero":          `-0`,
		"beyond 2^53-1":       `9007199254740992`,
		"trailing value":      `{} {}`,
		"trailing garbage":    `{}x`,
		"unclosed":            `{"a":1`,
		"not JSON":            `hello`,
		"nested too deep":     strings.Repeat("[", maxDepth+2) + strings.Repeat("]", maxDepth+2),
		"empty":               ``,
		"missing comma":       `[1 2]`,
		"member without name": `{1:2}`,
	} {
		if _, err := canonicalize([]byte(in)); !errors.Is(err, errNotCanonicalizable) {
			t.Errorf("%s: canonicalize(%q) = %v, want a refusal", name, in, err)
		}
	}
}
