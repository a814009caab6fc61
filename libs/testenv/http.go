package testenv

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Response is a raw HTTP answer, for tests that check what the typed
// clients hide: statuses, headers, bodies of malformed requests.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends a raw JSON request to url; token "" sends no Authorization,
// body "" no body, and header lists extra name, value pairs. Transport
// failures fail the test.
func Do(t testing.TB, method, url, token, body string, header ...string) Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}
