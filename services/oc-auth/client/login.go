package client

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// Tokens is what the token endpoint answers.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// ErrLoginRefused is returned when the login page does not accept the credentials.
var ErrLoginRefused = errors.New("login refused: wrong user name or password, or the account is disabled or locked")

var loginRequestID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// PasswordLogin signs a user in the way a browser does — authorization code
// with PKCE (S256) through oc-auth's login page — for command-line tools and
// end-to-end tests that hold the user's password. clientID must be a public
// client allowing redirectURI (the built-in "opencloud-web" allows
// <public URL>/callback).
func PasswordLogin(ctx context.Context, issuer, clientID, redirectURI, username, password, scope string) (Tokens, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return Tokens{}, err
	}
	hc := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirectURI) {
			return http.ErrUseLastResponse // the code arrives here; nothing listens there
		}
		return nil
	}}
	verifier, state := randomToken(), randomToken()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {scope}, "state": {state},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	page, final, err := get(ctx, hc, issuer+"/authorize?"+q.Encode())
	if err != nil {
		return Tokens{}, err
	}
	m := loginRequestID.FindStringSubmatch(page)
	if m == nil {
		return Tokens{}, fmt.Errorf("authorize did not lead to the login page (ended at %s)", final)
	}
	form := url.Values{"id": {m[1]}, "username": {username}, "password": {password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, issuer+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return Tokens{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return Tokens{}, err
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), redirectURI) {
		return Tokens{}, ErrLoginRefused
	}
	if loc.Query().Get("state") != state || loc.Query().Get("code") == "" {
		return Tokens{}, fmt.Errorf("login redirect carries no code or a wrong state: %s", loc.Query().Get("error"))
	}
	return exchange(ctx, hc, issuer+"/oauth/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {redirectURI}, "client_id": {clientID}, "code_verifier": {verifier},
	})
}

func get(ctx context.Context, hc *http.Client, u string) (string, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(body), resp.Request.URL.String(), err
}

func exchange(ctx context.Context, hc *http.Client, tokenURL string, form url.Values) (Tokens, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return Tokens{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return Tokens{}, err
	}
	defer resp.Body.Close()
	var out struct {
		Tokens
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return Tokens{}, fmt.Errorf("token endpoint: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Tokens{}, fmt.Errorf("token endpoint: %s: %s", out.Error, out.Description)
	}
	return out.Tokens, nil
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
