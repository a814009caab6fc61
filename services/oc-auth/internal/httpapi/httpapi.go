// Package httpapi is oc-auth's REST API: the caller's own profile and the
// administration of users, groups, OAuth clients and signing keys.
//
//	@title						OpenCloud auth API
//	@version					1.0
//	@description				Users, groups, OAuth clients and signing keys of this peer's OpenID Provider. The OpenID Connect endpoints themselves (discovery at /auth/.well-known/openid-configuration, /auth/authorize, /auth/oauth/token, /auth/userinfo, /auth/revoke, /auth/end_session, /auth/keys) follow the OpenID Connect and OAuth 2.0 specifications and are not listed here.
//	@BasePath					/auth
//	@securityDefinitions.apikey	BearerAuth
//	@in							header
//	@name						Authorization
//	@description				"Bearer " followed by an access token from /auth/oauth/token.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/services/oc-auth/internal/clients"
	"github.com/opencloud/opencloud/services/oc-auth/internal/keys"
	"github.com/opencloud/opencloud/services/oc-auth/internal/throttle"
	"github.com/opencloud/opencloud/services/oc-auth/internal/users"
)

// Sessions ends sign-in sessions and revokes refresh tokens.
type Sessions interface {
	RevokeUser(ctx context.Context, userID string) error
	RevokeClient(ctx context.Context, clientID string) error
}

// Publisher publishes events (nil: none are published).
type Publisher interface {
	Publish(ctx context.Context, typ, subject, actor string, data any) error
}

// API holds what the handlers need.
type API struct {
	Users    *users.Manager
	Clients  *clients.Manager
	Keys     *keys.Manager
	Sessions Sessions
	Events   Publisher
	Log      *slog.Logger
	// Attempts counts password checks, shared with the login page; nil:
	// one of its own, with the default policy.
	Attempts *throttle.Limiter
	// Proxies may name the client in X-Forwarded-For.
	Proxies throttle.Proxies
}

// Register mounts the routes on g, a group that already requires a token.
func (a *API) Register(g *gin.RouterGroup) {
	if a.Attempts == nil {
		a.Attempts = throttle.New(throttle.DefaultPolicy(), nil)
	}
	g.GET("/me", a.me)
	g.PUT("/me/password", a.changePassword)

	ad := g.Group("/admin", server.RequireRole(authn.RoleAdmin))
	ad.GET("/users", a.listUsers)
	ad.POST("/users", a.createUser)
	ad.GET("/users/:id", a.getUser)
	ad.PATCH("/users/:id", a.updateUser)
	ad.DELETE("/users/:id", a.deleteUser)
	ad.PUT("/users/:id/password", a.setPassword)

	ad.GET("/groups", a.listGroups)
	ad.POST("/groups", a.createGroup)
	ad.GET("/groups/:name", a.getGroup)
	ad.PATCH("/groups/:name", a.updateGroup)
	ad.DELETE("/groups/:name", a.deleteGroup)

	ad.GET("/clients", a.listClients)
	ad.POST("/clients", a.createClient)
	ad.GET("/clients/:id", a.getClient)
	ad.PATCH("/clients/:id", a.updateClient)
	ad.DELETE("/clients/:id", a.deleteClient)
	ad.POST("/clients/:id/secret", a.rotateSecret)

	ad.GET("/keys", a.listKeys)
	ad.POST("/keys/rotate", a.rotateKey)
}

// decode strictly decodes the body into dst and checks it.
func decode[T any](c *gin.Context, dst *T, check func(*T) error) error {
	if err := server.DecodeJSON(c, dst); err != nil {
		return err
	}
	return check(dst)
}

// versionOf returns the version an update or delete is based on: If-Match
// (a bare or quoted number, as in the ETag), else the body's version.
// required says whether a missing version is an error (428).
func versionOf(c *gin.Context, body int64, required bool) (int64, error) {
	h := strings.TrimSpace(c.GetHeader("If-Match"))
	if h == "" {
		if body == 0 && required {
			return 0, apierror.PreconditionRequired("send the version you read, in If-Match or in the body's version field")
		}
		return body, nil
	}
	h = strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	v, err := strconv.ParseInt(h, 10, 64)
	if err != nil || v < 1 {
		return 0, apierror.Invalid(apierror.FieldError{Field: "If-Match", Problem: `expected the version from the ETag, such as "3"`})
	}
	if body != 0 && body != v {
		return 0, apierror.Invalid(apierror.FieldError{Field: "version", Problem: "differs from If-Match; send one of them"})
	}
	return v, nil
}

func etag(c *gin.Context, version int64) { c.Header("ETag", fmt.Sprintf(`"%d"`, version)) }

// domainError maps domain errors to API errors; anything else becomes a 500.
func domainError(err error) error {
	switch {
	case errors.Is(err, users.ErrNotFound):
		return apierror.NotFound("no such user")
	case errors.Is(err, users.ErrUsernameTaken):
		return apierror.Conflict("username_taken", "this user name is taken; choose another", nil)
	case errors.Is(err, users.ErrVersionConflict), errors.Is(err, users.ErrGroupVersionConflict), errors.Is(err, clients.ErrVersionConflict):
		return apierror.Conflict("version_conflict", "it changed since you read it; read it again and retry", nil)
	case errors.Is(err, users.ErrUnknownGroup):
		return apierror.Invalid(apierror.FieldError{Field: "groups", Problem: err.Error() + "; create it first"})
	case errors.Is(err, users.ErrLastAdmin):
		return apierror.Conflict("last_admin", "this is the last enabled administrator; make another user admin first", nil)
	case errors.Is(err, users.ErrGroupNotFound):
		return apierror.NotFound("no such group")
	case errors.Is(err, users.ErrGroupExists):
		return apierror.Conflict("group_exists", "a group with this name exists", nil)
	case errors.Is(err, users.ErrGroupInUse):
		return apierror.Conflict("group_in_use", err.Error()+"; remove them from it first", nil)
	case errors.Is(err, users.ErrBuiltinGroup):
		return apierror.Conflict("built_in", "the admin group is built in and cannot be deleted", nil)
	case errors.Is(err, clients.ErrNotFound):
		return apierror.NotFound("no such client")
	case errors.Is(err, clients.ErrExists):
		return apierror.Conflict("client_exists", "this client_id is taken; choose another", nil)
	case errors.Is(err, clients.ErrBuiltIn):
		return apierror.Conflict("built_in", "this client is built in: it is configured by the service's environment", nil)
	case errors.Is(err, clients.ErrPublic):
		return apierror.Conflict("public_client", "a public client has no secret", nil)
	}
	return err
}

func (a *API) publish(c *gin.Context, typ, subject string, data any) {
	if a.Events == nil {
		return
	}
	p, _ := authn.FromContext(c.Request.Context())
	// The store holds the truth and consumers reconcile from it: a lost
	// event is worth a warning, not a failed request.
	if err := a.Events.Publish(c.Request.Context(), typ, subject, p.Subject, data); err != nil {
		server.LoggerFrom(c).WarnContext(c.Request.Context(), "event not published", "type", typ, "subject", subject, "err", err)
	}
}

func principal(c *gin.Context) authn.Principal {
	p, _ := authn.FromContext(c.Request.Context())
	return p
}

func fail(c *gin.Context, err error) { server.Fail(c, domainError(err)) }
