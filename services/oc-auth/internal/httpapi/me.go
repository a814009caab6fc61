package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/event"
	"github.com/opencloud/opencloud/services/oc-auth/api"
	"github.com/opencloud/opencloud/services/oc-auth/internal/throttle"
	"github.com/opencloud/opencloud/services/oc-auth/internal/users"
)

// me godoc
//
//	@Summary	The caller's own profile
//	@Description	For a user: the stored profile with the roles its groups give now. For a client-credentials token: the client and the roles in the token.
//	@Tags		me
//	@Produce	json
//	@Security	BearerAuth
//	@Success	200	{object}	api.Me
//	@Failure	401	{object}	apierror.Envelope
//	@Router		/me [get]
func (a *API) me(c *gin.Context) {
	p := principal(c)
	u, err := a.Users.Get(c.Request.Context(), p.Subject)
	if errors.Is(err, users.ErrNotFound) {
		groups := p.Groups
		if groups == nil {
			groups = []string{}
		}
		c.JSON(http.StatusOK, api.Me{Subject: p.Subject, Username: p.Username, ClientID: p.ClientID, Groups: groups, Roles: p.Roles})
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, api.Me{
		Subject: u.ID, Username: u.Username, Email: u.Email, DisplayName: u.DisplayName,
		ClientID: p.ClientID, Groups: u.Groups, Roles: u.Roles(),
	})
}

// changePassword godoc
//
//	@Summary	Change the caller's own password
//	@Description	Needs the current password. Every sign-in session and refresh token of the user is revoked: every browser and device must sign in again. Wrong current passwords count with the failed sign-ins of the user: past the limits the answer is 429 with Retry-After.
//	@Tags		me
//	@Accept		json
//	@Security	BearerAuth
//	@Param		body	body	api.ChangePasswordRequest	true	"current and new password (at least 12 characters)"
//	@Success	204
//	@Failure	400	{object}	apierror.Envelope
//	@Failure	401	{object}	apierror.Envelope
//	@Failure	403	{object}	apierror.Envelope
//	@Failure	429	{object}	apierror.Envelope	"too_many_attempts: too many wrong passwords; wait for Retry-After seconds"
//	@Router		/me/password [put]
func (a *API) changePassword(c *gin.Context) {
	var req api.ChangePasswordRequest
	if err := decode(c, &req, checkChangePassword); err != nil {
		fail(c, err)
		return
	}
	ctx := c.Request.Context()
	p := principal(c)
	u, err := a.Users.Get(ctx, p.Subject)
	if errors.Is(err, users.ErrNotFound) {
		fail(c, apierror.Forbidden("only users have a password; clients rotate their secret"))
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	attempt, wait := a.Attempts.Begin(u.Username, a.Proxies.ClientAddr(c.Request))
	if attempt == nil {
		throttle.RetryAfter(c.Writer.Header(), wait)
		fail(c, apierror.New(http.StatusTooManyRequests, "too_many_attempts",
			fmt.Sprintf("too many wrong passwords for this user; try again %s", throttle.InWords(wait)), nil))
		return
	}
	if _, err := a.Users.Authenticate(ctx, u.Username, req.CurrentPassword); err != nil {
		if errors.Is(err, users.ErrInvalidCredentials) || errors.Is(err, users.ErrDisabled) {
			attempt.Failed()
			fail(c, apierror.Invalid(apierror.FieldError{Field: "current_password", Problem: "does not match"}))
			return
		}
		attempt.Abandon()
		fail(c, err)
		return
	}
	attempt.Succeeded()
	if _, err := a.Users.SetPassword(ctx, u.ID, req.NewPassword); err != nil {
		fail(c, err)
		return
	}
	if err := a.Sessions.RevokeUser(ctx, u.ID); err != nil {
		fail(c, err)
		return
	}
	a.publish(c, event.UserUpdated, u.ID, gin.H{"id": u.ID, "username": u.Username, "password_changed": true})
	c.Status(http.StatusNoContent)
}
