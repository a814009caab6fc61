// Package apiclient is the HTTP plumbing under every service's typed client:
// bearer token, request ID, JSON in and out, and error envelopes turned back
// into *apierror.Error.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/opencloud/opencloud/libs/apierror"
)

// TokenSource returns the bearer token for the next request ("" for none).
type TokenSource func(ctx context.Context) (string, error)

// StaticToken always returns tok.
func StaticToken(tok string) TokenSource {
	return func(context.Context) (string, error) { return tok, nil }
}

// Client calls one OpenCloud service.
type Client struct {
	BaseURL string // e.g. http://localhost:8000
	Token   TokenSource
	HTTP    *http.Client
}

// New returns a client; hc nil uses a client with a 30s timeout.
func New(baseURL string, token TokenSource, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token, HTTP: hc}
}

// Request is one call.
type Request struct {
	Method string
	Path   string            // starting with the service prefix, query included
	Body   any               // marshalled to JSON when non-nil
	Header map[string]string // extra headers (If-Match...)
}

// Do performs r and decodes a 2xx JSON body into out (nil: discard). A non-2xx
// answer returns the *apierror.Error of its envelope. It returns the response
// headers for callers that need ETag or Location.
func (c *Client) Do(ctx context.Context, r Request, out any) (http.Header, error) {
	var body io.Reader
	if r.Body != nil {
		raw, err := json.Marshal(r.Body)
		if err != nil {
			return nil, fmt.Errorf("apiclient: encode body: %w", err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, c.BaseURL+r.Path, body)
	if err != nil {
		return nil, fmt.Errorf("apiclient: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	if c.Token != nil {
		tok, err := c.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("apiclient: token: %w", err)
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("apiclient: %s %s: %w", r.Method, r.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.Header, fmt.Errorf("apiclient: read %s %s: %w", r.Method, r.Path, err)
	}
	if resp.StatusCode >= 300 {
		return resp.Header, decodeError(resp.StatusCode, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.Header, fmt.Errorf("apiclient: decode %s %s: %w", r.Method, r.Path, err)
		}
	}
	return resp.Header, nil
}

func decodeError(status int, raw []byte) error {
	var env apierror.Envelope
	if err := json.Unmarshal(raw, &env); err != nil || env.Error == nil {
		return &apierror.Error{Status: status, Code: "http_" + fmt.Sprint(status), Message: strings.TrimSpace(string(raw))}
	}
	env.Error.Status = status
	return env.Error
}

// Status returns the HTTP status of an error returned by Do, or 0.
func Status(err error) int {
	var e *apierror.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Health returns nil when GET <prefix>/healthz answers 200.
func (c *Client) Health(ctx context.Context, prefix string) error {
	_, err := c.Do(ctx, Request{Method: http.MethodGet, Path: prefix + "/healthz"}, nil)
	return err
}

// Ready returns nil when GET <prefix>/readyz answers 200.
func (c *Client) Ready(ctx context.Context, prefix string) error {
	_, err := c.Do(ctx, Request{Method: http.MethodGet, Path: prefix + "/readyz"}, nil)
	return err
}

// IfMatch is the header of a write conditioned on the version read (the
// ETag every OpenCloud API serves); version 0 sends none. The map is the
// caller's, to add more headers to.
func IfMatch(version int64) map[string]string {
	h := map[string]string{}
	if version != 0 {
		h["If-Match"] = fmt.Sprintf(`"%d"`, version)
	}
	return h
}
