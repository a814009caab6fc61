package httpapi

import (
	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/services/oc-auth/api"
	"github.com/opencloud/opencloud/services/oc-auth/internal/clients"
	"github.com/opencloud/opencloud/services/oc-auth/internal/keys"
	"github.com/opencloud/opencloud/services/oc-auth/internal/users"
)

// This file maps the domain to the wire types of package api and back, and
// checks request bodies against the domain's rules.

func userOut(u users.User) api.User {
	return api.User{
		ID: u.ID, Username: u.Username, Email: u.Email, DisplayName: u.DisplayName, Groups: u.Groups,
		Roles: u.Roles(), Disabled: u.Disabled, Version: u.Version, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

func groupOut(g users.Group) api.Group {
	return api.Group{Name: g.Name, Description: g.Description, BuiltIn: g.BuiltIn, Version: g.Version, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
}

func clientOut(c clients.Client) api.Client {
	return api.Client{
		ClientID: c.ID, Name: c.Name, Public: c.Public, RedirectURIs: c.RedirectURIs,
		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, GrantTypes: c.GrantTypes, Roles: c.Roles,
		BuiltIn: c.BuiltIn, Version: c.Version, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
}

func keyOut(k keys.Info) api.Key {
	return api.Key{
		KID: k.KID, Algorithm: k.Algorithm, State: k.State, CreatedAt: k.CreatedAt,
		RetiredAt: k.RetiredAt, PublishedUntil: k.PublishedUntil,
	}
}

func checkCreateUser(r *api.CreateUserRequest) error {
	var v validation
	v.check("username", users.CheckUsername(r.Username))
	v.check("email", users.CheckEmail(r.Email))
	v.check("display_name", users.CheckText(r.DisplayName, 128))
	v.check("groups", users.CheckGroups(r.Groups))
	v.check("password", users.CheckPassword(r.Password))
	return v.err()
}

func checkUpdateUser(r *api.UpdateUserRequest) error {
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

// userUpdate applies the fields r names to u.
func userUpdate(r *api.UpdateUserRequest, u users.User) users.Update {
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

func checkSetPassword(r *api.SetPasswordRequest) error {
	var v validation
	v.check("password", users.CheckPassword(r.Password))
	return v.err()
}

func checkChangePassword(r *api.ChangePasswordRequest) error {
	var v validation
	if r.CurrentPassword == "" {
		v.check("current_password", "required")
	}
	v.check("new_password", users.CheckPassword(r.NewPassword))
	return v.err()
}

func checkCreateGroup(r *api.CreateGroupRequest) error {
	var v validation
	v.check("name", users.CheckGroupName(r.Name))
	v.check("description", users.CheckText(r.Description, 512))
	return v.err()
}

func checkUpdateGroup(r *api.UpdateGroupRequest) error {
	var v validation
	if r.Description != nil {
		v.check("description", users.CheckText(*r.Description, 512))
	}
	if r.Version < 0 {
		v.check("version", "expected a positive integer")
	}
	return v.err()
}

func clientSettings(r *api.CreateClientRequest) clients.Settings {
	return clients.Settings{
		Name: r.Name, Public: r.Public, RedirectURIs: r.RedirectURIs, PostLogoutRedirectURIs: r.PostLogoutRedirectURIs,
		GrantTypes: r.GrantTypes, Roles: r.Roles,
	}
}

func checkCreateClient(r *api.CreateClientRequest) error {
	var v validation
	if r.ClientID != "" {
		v.check("client_id", clients.CheckID(r.ClientID))
	}
	for _, p := range clientSettings(r).Check() {
		v.check(p.Field, p.Problem)
	}
	return v.err()
}

// clientUpdate applies the fields r names to c.
func clientUpdate(r *api.UpdateClientRequest, c clients.Client) clients.Settings {
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

// checkUpdateClient checks the body alone; the settings it leads to are
// checked once applied to the stored client.
func checkUpdateClient(r *api.UpdateClientRequest) error {
	var v validation
	if r.Version < 0 {
		v.check("version", "expected a positive integer")
	}
	return v.err()
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
