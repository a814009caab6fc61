// Package api holds the wire types of oc-auth's REST API: the caller's
// profile and the users, groups, OAuth clients and signing keys that
// administrators manage. oc-auth's handlers serve them and its Go client
// sends and reads them. Rules about them (what a valid user name or redirect
// URI is, who may change what) live in oc-auth, not here.
//
// A change names only the fields it changes: a nil pointer leaves the field
// as it is. An update or a delete is based on the version read, sent in
// If-Match or in the body's version field.
package api

import "time"

// List is a page of items.
type List[T any] struct {
	Items  []T   `json:"items"`
	Total  int64 `json:"total"`
	Limit  int   `json:"limit"`
	Offset int   `json:"offset"`
}

// Me is the caller as oc-auth knows it.
type Me struct {
	Subject     string   `json:"sub" example:"5f0c7a5e-3c1f-4b53-9a51-6a1f0c2d9e11"`
	Username    string   `json:"username,omitempty" example:"ada"`
	Email       string   `json:"email,omitempty"`
	DisplayName string   `json:"display_name,omitempty"`
	ClientID    string   `json:"client_id,omitempty" example:"opencloud-web"`
	Groups      []string `json:"groups"`
	Roles       []string `json:"roles" example:"user"`
}

// ChangePasswordRequest changes the caller's own password.
type ChangePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// User is a user as the API shows it (never its password hash).
type User struct {
	ID          string    `json:"id" example:"5f0c7a5e-3c1f-4b53-9a51-6a1f0c2d9e11"`
	Username    string    `json:"username" example:"ada"`
	Email       string    `json:"email,omitempty" example:"ada@example.org"`
	DisplayName string    `json:"display_name,omitempty" example:"Ada Lovelace"`
	Groups      []string  `json:"groups" example:"admin"`
	Roles       []string  `json:"roles" example:"admin,user"`
	Disabled    bool      `json:"disabled"`
	Version     int64     `json:"version" example:"1"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// CreateUserRequest creates a user.
type CreateUserRequest struct {
	Username    string   `json:"username" example:"ada"`
	Email       string   `json:"email,omitempty" example:"ada@example.org"`
	DisplayName string   `json:"display_name,omitempty" example:"Ada Lovelace"`
	Groups      []string `json:"groups,omitempty" example:"admin"`
	Password    string   `json:"password" example:"correct-horse-battery"`
}

// UpdateUserRequest changes the fields it names; version (or If-Match) is
// the version the change was based on.
type UpdateUserRequest struct {
	Username    *string   `json:"username,omitempty"`
	Email       *string   `json:"email,omitempty"`
	DisplayName *string   `json:"display_name,omitempty"`
	Groups      *[]string `json:"groups,omitempty"`
	Disabled    *bool     `json:"disabled,omitempty"`
	Version     int64     `json:"version,omitempty" example:"1"`
}

// SetPasswordRequest sets a user's password (administrators).
type SetPasswordRequest struct {
	Password string `json:"password" example:"correct-horse-battery"`
}

// Group is a group as the API shows it.
type Group struct {
	Name        string    `json:"name" example:"analysts"`
	Description string    `json:"description,omitempty" example:"Data analysts"`
	BuiltIn     bool      `json:"built_in"`
	Version     int64     `json:"version" example:"1"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// CreateGroupRequest creates a group.
type CreateGroupRequest struct {
	Name        string `json:"name" example:"analysts"`
	Description string `json:"description,omitempty" example:"Data analysts"`
}

// UpdateGroupRequest changes a group's description.
type UpdateGroupRequest struct {
	Description *string `json:"description,omitempty"`
	Version     int64   `json:"version,omitempty" example:"1"`
}

// Client is an OAuth client as the API shows it (never its secret).
type Client struct {
	ClientID               string    `json:"client_id" example:"oc-scheduler"`
	Name                   string    `json:"name" example:"Scheduler"`
	Public                 bool      `json:"public"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	GrantTypes             []string  `json:"grant_types" example:"client_credentials"`
	Roles                  []string  `json:"roles" example:"user"`
	BuiltIn                bool      `json:"built_in"`
	Version                int64     `json:"version" example:"1"`
	CreatedAt              time.Time `json:"created_at"`
	UpdatedAt              time.Time `json:"updated_at"`
}

// ClientWithSecret is a client with its secret, shown once: when a
// confidential client is created and when its secret is rotated.
type ClientWithSecret struct {
	Client
	ClientSecret string `json:"client_secret,omitempty" example:"ocs_9Qm..."`
}

// CreateClientRequest registers a client. A public client (a browser or
// native app) has no secret and must use PKCE; a confidential one gets a
// secret, shown once in the response. Grant types: authorization_code,
// refresh_token, client_credentials.
type CreateClientRequest struct {
	ClientID               string   `json:"client_id,omitempty" example:"oc-scheduler"`
	Name                   string   `json:"name" example:"Scheduler"`
	Public                 bool     `json:"public,omitempty"`
	RedirectURIs           []string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	GrantTypes             []string `json:"grant_types" example:"client_credentials"`
	Roles                  []string `json:"roles,omitempty" example:"user"`
}

// UpdateClientRequest changes the fields it names.
type UpdateClientRequest struct {
	Name                   *string   `json:"name,omitempty"`
	Public                 *bool     `json:"public,omitempty"`
	RedirectURIs           *[]string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs *[]string `json:"post_logout_redirect_uris,omitempty"`
	GrantTypes             *[]string `json:"grant_types,omitempty"`
	Roles                  *[]string `json:"roles,omitempty"`
	Version                int64     `json:"version,omitempty" example:"1"`
}

// Key is what administrators see of a signing key (never its material).
// State is active (it signs new tokens) or retired (it only verifies).
type Key struct {
	KID       string     `json:"kid"`
	Algorithm string     `json:"alg"`
	State     string     `json:"state"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
	// PublishedUntil is when a retired key leaves the JWKS.
	PublishedUntil *time.Time `json:"published_until,omitempty"`
}
