// Package users keeps this peer's users and groups: who may log in, with
// which password, and which roles their groups give them.
package users

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/services/oc-auth/internal/password"
)

// AdminGroup is the built-in group whose members hold the admin role.
const AdminGroup = "admin"

// Domain errors; callers test them with errors.Is.
var (
	ErrNotFound           = errors.New("user not found")
	ErrUsernameTaken      = errors.New("user name already taken")
	ErrVersionConflict    = errors.New("the user changed since it was read")
	ErrInvalidCredentials = errors.New("invalid user name or password")
	ErrDisabled           = errors.New("user is disabled")
	ErrUnknownGroup       = errors.New("unknown group")
	ErrLastAdmin          = errors.New("this is the last enabled administrator")

	ErrGroupNotFound        = errors.New("group not found")
	ErrGroupExists          = errors.New("group already exists")
	ErrGroupVersionConflict = errors.New("the group changed since it was read")
	ErrGroupInUse           = errors.New("group has members")
	ErrBuiltinGroup         = errors.New("built-in group")
)

// User is one account of this peer. PasswordHash never leaves the package
// boundary towards an API: handlers map User to their own response type.
type User struct {
	ID           string    `json:"id"`
	Version      int64     `json:"version"`
	Username     string    `json:"username"`
	Email        string    `json:"email"`
	DisplayName  string    `json:"display_name"`
	Groups       []string  `json:"groups"`
	Disabled     bool      `json:"disabled"`
	PasswordHash string    `json:"password_hash"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Roles returns the roles the user's groups give: admin and user for members
// of the admin group, user for everyone else.
func (u User) Roles() []string { return RolesFor(u.Groups) }

// IsActiveAdmin reports whether the user is an enabled administrator.
func (u User) IsActiveAdmin() bool { return !u.Disabled && slices.Contains(u.Groups, AdminGroup) }

// RolesFor maps group memberships to roles.
func RolesFor(groups []string) []string {
	if slices.Contains(groups, AdminGroup) {
		return []string{authn.RoleAdmin, authn.RoleUser}
	}
	return []string{authn.RoleUser}
}

// Group is a named set of users; visibility rules elsewhere name groups.
type Group struct {
	ID          string    `json:"id"` // the group name
	Version     int64     `json:"version"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	BuiltIn     bool      `json:"built_in"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// NewUser is what creating a user needs.
type NewUser struct {
	Username    string
	Email       string
	DisplayName string
	Groups      []string
	Password    string
}

// Update replaces a user's editable fields.
type Update struct {
	Username    string
	Email       string
	DisplayName string
	Groups      []string
	Disabled    bool
}

var (
	usernameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{1,63}$`)
	groupNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
)

// The Check functions return "" for a valid value, else what is expected.

// CheckUsername validates a user name.
func CheckUsername(s string) string {
	if !usernameRE.MatchString(s) {
		return "expected 2 to 64 characters: lowercase letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
	}
	return ""
}

// CheckGroupName validates a group name.
func CheckGroupName(s string) string {
	if !groupNameRE.MatchString(s) {
		return "expected 1 to 63 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
	}
	return ""
}

// CheckEmail validates an optional e-mail address.
func CheckEmail(s string) string {
	if s == "" {
		return ""
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return "expected a plain e-mail address such as ada@example.org"
	}
	return ""
}

// CheckText validates a free single-line text of at most max characters.
func CheckText(s string, max int) string {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return fmt.Sprintf("expected at most %d characters of UTF-8 text", max)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "control characters are not allowed"
	}
	return ""
}

// CheckPassword validates a new password.
func CheckPassword(pw string) string {
	if !utf8.ValidString(pw) {
		return "expected UTF-8 text"
	}
	if utf8.RuneCountInString(pw) < password.MinLength {
		return fmt.Sprintf("expected at least %d characters", password.MinLength)
	}
	if len(pw) > password.MaxLength {
		return fmt.Sprintf("expected at most %d bytes", password.MaxLength)
	}
	return ""
}

// CheckGroups validates a list of group names (existence is checked on write).
func CheckGroups(gs []string) string {
	if len(gs) > 100 {
		return "expected at most 100 groups"
	}
	for _, g := range gs {
		if p := CheckGroupName(g); p != "" {
			return fmt.Sprintf("%q: %s", g, p)
		}
	}
	return ""
}

// normalizeGroups sorts and deduplicates, and never returns nil (so the
// document always has an array to match on).
func normalizeGroups(gs []string) []string {
	out := slices.Clone(gs)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}
