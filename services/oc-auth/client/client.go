// Package client is the typed Go client of oc-auth's REST API (the caller's
// profile and the administration of users, groups, OAuth clients and
// signing keys), and helpers to obtain tokens with client credentials.
package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/opencloud/opencloud/libs/apiclient"
	"github.com/opencloud/opencloud/services/oc-auth/api"
)

const prefix = "/auth"

// Client calls oc-auth through the gateway (or directly).
type Client struct {
	api *apiclient.Client
}

// New returns a client of the oc-auth at baseURL (e.g. http://localhost:8000,
// without /auth); token supplies the bearer token of each call.
func New(baseURL string, token apiclient.TokenSource, hc *http.Client) *Client {
	return &Client{api: apiclient.New(baseURL, token, hc)}
}

// ClientCredentialsToken obtains an access token for a confidential client
// with the client_credentials grant. tokenURL is the issuer followed by
// /oauth/token.
func ClientCredentialsToken(ctx context.Context, tokenURL, clientID, secret string) (string, error) {
	tok, err := credentials(tokenURL, clientID, secret).Token(ctx)
	if err != nil {
		return "", fmt.Errorf("oc-auth: client credentials for %s: %w", clientID, err)
	}
	return tok.AccessToken, nil
}

// ClientCredentialsSource is a TokenSource that obtains a token with client
// credentials and reuses it until shortly before it expires: what a service
// calling others on its own behalf needs.
func ClientCredentialsSource(ctx context.Context, tokenURL, clientID, secret string) apiclient.TokenSource {
	ts := credentials(tokenURL, clientID, secret).TokenSource(ctx) // reuses the token until it expires
	return func(context.Context) (string, error) {
		tok, err := ts.Token()
		if err != nil {
			return "", fmt.Errorf("oc-auth: client credentials for %s: %w", clientID, err)
		}
		return tok.AccessToken, nil
	}
}

func credentials(tokenURL, clientID, secret string) *clientcredentials.Config {
	return &clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInHeader}
}

// List is a page of items.
type List[T any] = api.List[T]

// Page selects a page; zero values take the server's defaults.
type Page struct {
	Limit  int
	Offset int
}

func (p Page) values() url.Values {
	v := url.Values{}
	if p.Limit > 0 {
		v.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Offset > 0 {
		v.Set("offset", strconv.Itoa(p.Offset))
	}
	return v
}

func withQuery(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// Me is the caller as oc-auth knows it.
type Me = api.Me

// Me returns the caller's profile.
func (c *Client) Me(ctx context.Context) (Me, error) {
	var out Me
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: prefix + "/me"}, &out)
	return out, err
}

// ChangePassword changes the caller's own password.
func (c *Client) ChangePassword(ctx context.Context, current, next string) error {
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodPut, Path: prefix + "/me/password",
		Body: api.ChangePasswordRequest{CurrentPassword: current, NewPassword: next}}, nil)
	return err
}

// User is a user of this peer.
type User = api.User

// NewUser creates a user.
type NewUser = api.CreateUserRequest

// UserChange changes the fields that are not nil. Its Version may stay 0:
// UpdateUser sends the version it is given in If-Match.
type UserChange = api.UpdateUserRequest

// UserQuery filters ListUsers.
type UserQuery struct {
	Text     string
	Group    string
	Disabled *bool
	Page
}

// ListUsers lists users.
func (c *Client) ListUsers(ctx context.Context, q UserQuery) (List[User], error) {
	v := q.values()
	if q.Text != "" {
		v.Set("q", q.Text)
	}
	if q.Group != "" {
		v.Set("group", q.Group)
	}
	if q.Disabled != nil {
		v.Set("disabled", strconv.FormatBool(*q.Disabled))
	}
	var out List[User]
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: withQuery(prefix+"/admin/users", v)}, &out)
	return out, err
}

// CreateUser creates a user.
func (c *Client) CreateUser(ctx context.Context, u NewUser) (User, error) {
	var out User
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: prefix + "/admin/users", Body: u}, &out)
	return out, err
}

// GetUser returns a user.
func (c *Client) GetUser(ctx context.Context, id string) (User, error) {
	var out User
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: prefix + "/admin/users/" + url.PathEscape(id)}, &out)
	return out, err
}

// UpdateUser changes a user read at version.
func (c *Client) UpdateUser(ctx context.Context, id string, version int64, ch UserChange) (User, error) {
	var out User
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodPatch, Path: prefix + "/admin/users/" + url.PathEscape(id),
		Body: ch, Header: apiclient.IfMatch(version)}, &out)
	return out, err
}

// DeleteUser deletes a user (version 0: whatever its version).
func (c *Client) DeleteUser(ctx context.Context, id string, version int64) error {
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodDelete, Path: prefix + "/admin/users/" + url.PathEscape(id),
		Header: apiclient.IfMatch(version)}, nil)
	return err
}

// SetPassword sets a user's password.
func (c *Client) SetPassword(ctx context.Context, id, password string) (User, error) {
	var out User
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodPut, Path: prefix + "/admin/users/" + url.PathEscape(id) + "/password",
		Body: api.SetPasswordRequest{Password: password}}, &out)
	return out, err
}

// Group is a named set of users.
type Group = api.Group

// ListGroups lists groups.
func (c *Client) ListGroups(ctx context.Context, p Page) (List[Group], error) {
	var out List[Group]
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: withQuery(prefix+"/admin/groups", p.values())}, &out)
	return out, err
}

// CreateGroup creates a group.
func (c *Client) CreateGroup(ctx context.Context, name, description string) (Group, error) {
	var out Group
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: prefix + "/admin/groups",
		Body: api.CreateGroupRequest{Name: name, Description: description}}, &out)
	return out, err
}

// GetGroup returns a group.
func (c *Client) GetGroup(ctx context.Context, name string) (Group, error) {
	var out Group
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: prefix + "/admin/groups/" + url.PathEscape(name)}, &out)
	return out, err
}

// UpdateGroup changes a group's description.
func (c *Client) UpdateGroup(ctx context.Context, name string, version int64, description string) (Group, error) {
	var out Group
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodPatch, Path: prefix + "/admin/groups/" + url.PathEscape(name),
		Body: api.UpdateGroupRequest{Description: &description}, Header: apiclient.IfMatch(version)}, &out)
	return out, err
}

// DeleteGroup deletes an empty group.
func (c *Client) DeleteGroup(ctx context.Context, name string, version int64) error {
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodDelete, Path: prefix + "/admin/groups/" + url.PathEscape(name),
		Header: apiclient.IfMatch(version)}, nil)
	return err
}

// OAuthClient is a registered OAuth client. Its ClientSecret is only set by
// CreateClient and RotateSecret.
type OAuthClient = api.ClientWithSecret

// NewOAuthClient registers a client. GrantTypes: authorization_code,
// refresh_token, client_credentials.
type NewOAuthClient = api.CreateClientRequest

// OAuthClientChange changes the fields that are not nil. Its Version may
// stay 0: UpdateClient sends the version it is given in If-Match.
type OAuthClientChange = api.UpdateClientRequest

// ListClients lists OAuth clients.
func (c *Client) ListClients(ctx context.Context, p Page) (List[OAuthClient], error) {
	var out List[OAuthClient]
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: withQuery(prefix+"/admin/clients", p.values())}, &out)
	return out, err
}

// CreateClient registers a client; a confidential one comes back with its
// secret, which is not shown again.
func (c *Client) CreateClient(ctx context.Context, n NewOAuthClient) (OAuthClient, error) {
	var out OAuthClient
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: prefix + "/admin/clients", Body: n}, &out)
	return out, err
}

// GetClient returns a client.
func (c *Client) GetClient(ctx context.Context, id string) (OAuthClient, error) {
	var out OAuthClient
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: prefix + "/admin/clients/" + url.PathEscape(id)}, &out)
	return out, err
}

// UpdateClient changes a client read at version.
func (c *Client) UpdateClient(ctx context.Context, id string, version int64, ch OAuthClientChange) (OAuthClient, error) {
	var out OAuthClient
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodPatch, Path: prefix + "/admin/clients/" + url.PathEscape(id),
		Body: ch, Header: apiclient.IfMatch(version)}, &out)
	return out, err
}

// DeleteClient deletes a client.
func (c *Client) DeleteClient(ctx context.Context, id string, version int64) error {
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodDelete, Path: prefix + "/admin/clients/" + url.PathEscape(id),
		Header: apiclient.IfMatch(version)}, nil)
	return err
}

// RotateSecret gives a confidential client a new secret, returned once.
func (c *Client) RotateSecret(ctx context.Context, id string) (OAuthClient, error) {
	var out OAuthClient
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: prefix + "/admin/clients/" + url.PathEscape(id) + "/secret"}, &out)
	return out, err
}

// Key describes a signing key (never its material).
type Key = api.Key

// ListKeys lists the signing keys, newest first.
func (c *Client) ListKeys(ctx context.Context) ([]Key, error) {
	var out List[Key]
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: prefix + "/admin/keys"}, &out)
	return out.Items, err
}

// RotateKey makes a new signing key.
func (c *Client) RotateKey(ctx context.Context) (Key, error) {
	var out Key
	_, err := c.api.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: prefix + "/admin/keys/rotate"}, &out)
	return out, err
}
