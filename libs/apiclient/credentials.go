package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Token lifetimes of ClientCredentials.
const (
	// refreshMargin is how long before its expiry a token is replaced, so
	// that one taken from the cache still lives through the call it is for.
	refreshMargin = 30 * time.Second
	// unknownLifetime is what a token without expires_in is taken to live:
	// the server did not say, so it is asked again soon.
	unknownLifetime = time.Minute
)

// TokenError is a token endpoint's refusal: its HTTP status and, when the
// answer is an OAuth 2.0 error (RFC 6749, section 5.2), its error code and
// description.
type TokenError struct {
	URL         string // the token endpoint
	Status      int
	Code        string // "invalid_client", "unauthorized_client"...; "" when the answer was not an OAuth error
	Description string // error_description, or the start of a body that was not an OAuth error
}

func (e *TokenError) Error() string {
	msg := fmt.Sprintf("apiclient: client credentials from %s: %d %s", e.URL, e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		msg += ": " + e.Code
	}
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// ClientCredentials is a TokenSource for a service calling others on its
// own behalf: it obtains an access token from tokenURL with the
// client_credentials grant (RFC 6749, section 4.4), the client
// authenticated by HTTP Basic, and reuses it until 30 s before it expires
// (half its lifetime when that is shorter). It is safe for concurrent use:
// one token request at a time, other callers wait for its result. A refusal
// is a *TokenError. hc nil uses a client with a 10 s timeout.
func ClientCredentials(tokenURL, clientID, secret string, hc *http.Client) TokenSource {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	s := &credentialsSource{url: tokenURL, id: clientID, secret: secret, hc: hc, fetching: make(chan struct{}, 1)}
	return s.token
}

type credentialsSource struct {
	url, id, secret string
	hc              *http.Client
	fetching        chan struct{} // holds one value while a token request is under way

	mu     sync.Mutex
	cached string
	until  time.Time // when cached stops being handed out
}

func (s *credentialsSource) token(ctx context.Context) (string, error) {
	if tok, ok := s.current(); ok {
		return tok, nil
	}
	select {
	case s.fetching <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("apiclient: client credentials from %s: %w", s.url, ctx.Err())
	}
	defer func() { <-s.fetching }()
	// The request this caller waited for may have brought a token.
	if tok, ok := s.current(); ok {
		return tok, nil
	}
	tok, until, err := s.fetch(ctx)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.cached, s.until = tok, until
	s.mu.Unlock()
	return tok, nil
}

func (s *credentialsSource) current() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached == "" || !time.Now().Before(s.until) {
		return "", false
	}
	return s.cached, true
}

// tokenAnswer is a token endpoint's answer, success or error.
type tokenAnswer struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func (s *credentialsSource) fetch(ctx context.Context) (string, time.Time, error) {
	fail := func(err error) (string, time.Time, error) {
		return "", time.Time{}, fmt.Errorf("apiclient: client credentials from %s: %w", s.url, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url,
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 section 2.3.1: id and secret are form-encoded before Basic.
	req.SetBasicAuth(url.QueryEscape(s.id), url.QueryEscape(s.secret))
	start := time.Now()
	resp, err := s.hc.Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fail(err)
	}
	var a tokenAnswer
	jsonErr := json.Unmarshal(raw, &a)
	if resp.StatusCode != http.StatusOK || a.Error != "" {
		te := &TokenError{URL: s.url, Status: resp.StatusCode, Code: a.Error, Description: a.ErrorDescription}
		if jsonErr != nil || a.Error == "" {
			te.Code, te.Description = "", excerpt(raw)
		}
		return "", time.Time{}, te
	}
	if jsonErr != nil {
		return fail(fmt.Errorf("answer is not a token: %w", jsonErr))
	}
	if a.AccessToken == "" {
		return fail(fmt.Errorf("answer has no access_token"))
	}
	if a.TokenType != "" && !strings.EqualFold(a.TokenType, "bearer") {
		return fail(fmt.Errorf("token_type %q, expected Bearer", a.TokenType))
	}
	// The lifetime counts from the request, not the answer: erring early.
	lifetime := unknownLifetime
	if a.ExpiresIn > 0 {
		lifetime = time.Duration(a.ExpiresIn) * time.Second
	}
	return a.AccessToken, start.Add(lifetime - min(refreshMargin, lifetime/2)), nil
}

// excerpt is the start of a body that is not an OAuth error, for a person
// reading the error: a proxy's page or a message.
func excerpt(raw []byte) string {
	s := strings.Join(strings.Fields(string(raw)), " ")
	if len(s) > 200 {
		cut := 200
		for !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
