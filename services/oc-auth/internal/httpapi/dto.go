package httpapi

import (
	"time"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/services/oc-auth/internal/clients"
	"github.com/opencloud/opencloud/services/oc-auth/internal/users"
)

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

func userOut(u users.User) User {
	return User{
		ID: u.ID, Username: u.Username, Email: u.Email, DisplayName: u.DisplayName, Groups: u.Groups,
		Roles: u.Roles(), Disabled: u.Disabled, Version: u.Version, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

// CreateUserRequest creates a user.
type CreateUserRequest struct {
	Username    string   `json:"username" example:"ada"`
	Email       string   `json:"email,omitempty" example:"ada@example.org"`
	DisplayName string   `json:"display_name,omitempty" example:"Ada Lovelace"`
	Groups      []string `json:"groups,omitempty" example:"admin"`
	Password    string   `json:"password" example:"correct-horse-battery"`
}

func (r *CreateUserRequest) validate() error {
	var v validation
	v.check("username", users.CheckUsername(r.Username))
	v.check("email", users.CheckEmail(r.Email))
	v.check("display_name", users.CheckText(r.DisplayName, 128))
	v.check("groups", users.CheckGroups(r.Groups))
	v.check("password", users.CheckPassword(r.Password))
	return v.err()
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

func (r *UpdateUserRequest) validate() error {
	var v validation
	if r.Username != nil {
		v.check("username", users.CheckUsername(*r.Username))
	}
	if r.Email != nil {
		v.check("email", users.CheckEmail(*r.Email))
	}
	if r.DisplayName != nil {
		v.check("display_name", users.CheckText(*r.DisplayName, 128))
	}
	if r.Groups != nil {
		v.check("groups", users.CheckGroups(*r.Groups))
	}
	if r.Version < 0 {
		v.check("version", "expected a positive integer")
	}
	return v.err()
}

func (r *UpdateUserRequest) apply(u users.User) users.Update {
	up := users.Update{Username: u.Username, Email: u.Email, DisplayName: u.DisplayName, Groups: u.Groups, Disabled: u.Disabled}
	if r.Username != nil {
		up.Username = *r.Username
	}
	if r.Email != nil {
		up.Email = *r.Email
	}
	if r.DisplayName != nil {
		up.DisplayName = *r.DisplayName
	}
	if r.Groups != nil {
		up.Groups = *r.Groups
	}
	if r.Disabled != nil {
		up.Disabled = *r.Disabled
	}
	return up
}

// SetPasswordRequest sets a user's password (administrators).
type SetPasswordRequest struct {
	Password string `json:"password" example:"correct-horse-battery"`
}

func (r *SetPasswordRequest) validate() error {
	var v validation
	v.check("password", users.CheckPassword(r.Password))
	return v.err()
}

// ChangePasswordRequest changes the caller's own password.
type ChangePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (r *ChangePasswordRequest) validate() error {
	var v validation
	if r.CurrentPassword == "" {
		v.check("current_password", "required")
	}
	v.check("new_password", users.CheckPassword(r.NewPassword))
	return v.err()
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

func groupOut(g users.Group) Group {
	return Group{Name: g.Name, Description: g.Description, BuiltIn: g.BuiltIn, Version: g.Version, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
}

// CreateGroupRequest creates a group.
type CreateGroupRequest struct {
	Name        string `json:"name" example:"analysts"`
	Description string `json:"description,omitempty" example:"Data analysts"`
}

func (r *CreateGroupRequest) validate() error {
	var v validation
	v.check("name", users.CheckGroupName(r.Name))
	v.check("description", users.CheckText(r.Description, 512))
	return v.err()
}

// UpdateGroupRequest changes a group's description.
type UpdateGroupRequest struct {
	Description *string `json:"description,omitempty"`
	Version     int64   `json:"version,omitempty" example:"1"`
}

func (r *UpdateGroupRequest) validate() error {
	var v validation
	if r.Description != nil {
		v.check("description", users.CheckText(*r.Description, 512))
	}
	if r.Version < 0 {
		v.check("version", "expected a positive integer")
	}
	return v.err()
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

func clientOut(c clients.Client) Client {
	return Client{
		ClientID: c.ID, Name: c.Name, Public: c.Public, RedirectURIs: c.RedirectURIs,
		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, GrantTypes: c.GrantTypes, Roles: c.Roles,
		BuiltIn: c.BuiltIn, Version: c.Version, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
}

// ClientWithSecret is a client with its secret, shown once.
type ClientWithSecret struct {
	Client
	ClientSecret string `json:"client_secret,omitempty" example:"ocs_9Qm..."`
}

// CreateClientRequest registers a client. A public client (a browser or
// native app) has no secret and must use PKCE; a confidential one gets a
// secret, shown once in the response.
type CreateClientRequest struct {
	ClientID               string   `json:"client_id,omitempty" example:"oc-scheduler"`
	Name                   string   `json:"name" example:"Scheduler"`
	Public                 bool     `json:"public,omitempty"`
	RedirectURIs           []string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	GrantTypes             []string `json:"grant_types" example:"client_credentials"`
	Roles                  []string `json:"roles,omitempty" example:"user"`
}

func (r *CreateClientRequest) settings() clients.Settings {
	return clients.Settings{
		Name: r.Name, Public: r.Public, RedirectURIs: r.RedirectURIs, PostLogoutRedirectURIs: r.PostLogoutRedirectURIs,
		GrantTypes: r.GrantTypes, Roles: r.Roles,
	}
}

func (r *CreateClientRequest) validate() error {
	var v validation
	if r.ClientID != "" {
		v.check("client_id", clients.CheckID(r.ClientID))
	}
	for _, p := range r.settings().Check() {
		v.check(p.Field, p.Problem)
	}
	return v.err()
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

func (r *UpdateClientRequest) apply(c clients.Client) clients.Settings {
	s := clients.Settings{
		Name: c.Name, Public: c.Public, RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		GrantTypes: c.GrantTypes, Roles: c.Roles,
	}
	if r.Name != nil {
		s.Name = *r.Name
	}
	if r.Public != nil {
		s.Public = *r.Public
	}
	if r.RedirectURIs != nil {
		s.RedirectURIs = *r.RedirectURIs
	}
	if r.PostLogoutRedirectURIs != nil {
		s.PostLogoutRedirectURIs = *r.PostLogoutRedirectURIs
	}
	if r.GrantTypes != nil {
		s.GrantTypes = *r.GrantTypes
	}
	if r.Roles != nil {
		s.Roles = *r.Roles
	}
	return s
}

func (r *UpdateClientRequest) validate() error {
	var v validation
	if r.Version < 0 {
		v.check("version", "expected a positive integer")
	}
	return v.err()
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

// validation collects field problems.
type validation struct{ fields []apierror.FieldError }

func (v *validation) check(field, problem string) {
	if problem != "" {
		v.fields = append(v.fields, apierror.FieldError{Field: field, Problem: problem})
	}
}

func (v *validation) err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return apierror.Invalid(v.fields...)
}
