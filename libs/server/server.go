// Package server builds the HTTP side every OpenCloud service shares: a gin
// engine with request IDs, an access log, panic recovery, the error envelope,
// Prometheus metrics, /healthz, /readyz, Swagger, bearer-token checks, and a
// graceful http.Server.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/broker"
)

// RequestIDHeader carries one request ID across services.
const RequestIDHeader = "X-Request-ID"

// DefaultMaxBody is the request body limit unless Options says otherwise.
const DefaultMaxBody = 1 << 20

// Check is one readiness probe (the store, the broker, a cluster...).
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Options describes one service's HTTP surface.
type Options struct {
	Name     string // "catalog"
	Prefix   string // "/catalog"
	Logger   *slog.Logger
	Metrics  *Metrics       // shared by the services of one process
	Verifier authn.Verifier // nil: the API group is left open (oc-auth mounts its own)
	Checks   []Check
	// SwaggerInstance is the swag instance name registered by the service's docs package; "" serves none.
	SwaggerInstance string
	MaxBodyBytes    int64
	// Peers, when set, lets other peers call the routes listed in
	// PeerRoutes with signed calls (Authorization: OCPeer); every other
	// route refuses them with 403.
	Peers PeerAuthenticator
	// PeerRoutes are the routes open to other peers, as "METHOD /path"
	// with gin's path parameters ("GET /catalog/resources/:id").
	PeerRoutes []string
}

// PeerAuthenticator verifies another peer's signed call.
type PeerAuthenticator interface {
	// Authenticate returns the principal of a signed call, or why it is
	// refused.
	Authenticate(r *http.Request) (authn.Principal, error)
	// WriteRefusal answers a refused call.
	WriteRefusal(w http.ResponseWriter, r *http.Request, err error)
}

// IsPeerCall reports whether the request is signed by another peer rather
// than carrying a bearer token.
func IsPeerCall(r *http.Request) bool {
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.EqualFold(scheme, "OCPeer")
}

// New returns the engine and the group under Prefix where the service
// registers its API routes; when a Verifier is set, that group requires a
// valid bearer token.
func New(o Options) (*gin.Engine, *gin.RouterGroup) {
	gin.SetMode(gin.ReleaseMode)
	if o.Metrics == nil {
		o.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBody
	}
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.Use(requestID(), accessLog(o.Logger, o.Name), recovery(), o.Metrics.middleware(o.Name), maxBody(o.MaxBodyBytes))
	e.NoRoute(func(c *gin.Context) {
		Fail(c, apierror.NotFound("no route "+c.Request.Method+" "+c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		Fail(c, apierror.New(http.StatusMethodNotAllowed, "method_not_allowed",
			c.Request.Method+" is not allowed on "+c.Request.URL.Path, nil))
	})

	open := e.Group(o.Prefix)
	open.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok", "service": o.Name}) })
	open.GET("/readyz", readyz(o.Checks, o.Name))
	open.GET("/metrics", gin.WrapH(promhttp.HandlerFor(o.Metrics.reg, promhttp.HandlerOpts{})))
	if o.SwaggerInstance != "" {
		open.GET("/swagger/*any", swaggerHandler(o.SwaggerInstance, "OpenCloud "+o.Name+" API"))
	}

	api := e.Group(o.Prefix)
	if o.Verifier != nil {
		tokens := RequireToken(o.Verifier)
		if o.Peers == nil {
			api.Use(tokens)
		} else {
			api.Use(requireCaller(tokens, o.Peers, o.PeerRoutes))
		}
	}
	return e, api
}

func readyz(checks []Check, name string) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
		defer cancel()
		status, code := gin.H{}, http.StatusOK
		for _, ch := range append(checks[:len(checks):len(checks)], extraChecks(c.Request.Context())...) {
			if err := ch.Check(ctx); err != nil {
				status[ch.Name] = err.Error()
				code = http.StatusServiceUnavailable
			} else {
				status[ch.Name] = "ok"
			}
		}
		c.JSON(code, gin.H{"service": name, "ready": code == http.StatusOK, "checks": status})
	}
}

// RequireToken rejects requests without a valid bearer token (401) and puts
// the verified Principal in the request context.
func RequireToken(v authn.Verifier) gin.HandlerFunc {
	return func(c *gin.Context) {
		raw, ok := authn.BearerToken(c.GetHeader("Authorization"))
		if !ok {
			c.Header("WWW-Authenticate", `Bearer realm="opencloud"`)
			Fail(c, apierror.Unauthorized("send an access token in the Authorization: Bearer header"))
			return
		}
		p, err := v.Verify(c.Request.Context(), raw)
		if err != nil {
			c.Header("WWW-Authenticate", `Bearer realm="opencloud", error="invalid_token"`)
			Fail(c, apierror.Unauthorized("the access token is invalid or expired; obtain a new one from /auth"))
			return
		}
		c.Request = c.Request.WithContext(authn.WithPrincipal(c.Request.Context(), p))
		c.Next()
	}
}

// requireCaller accepts a bearer token on every route, and another peer's
// signed call on the routes open to peers.
func requireCaller(tokens gin.HandlerFunc, peers PeerAuthenticator, routes []string) gin.HandlerFunc {
	open := make(map[string]bool, len(routes))
	for _, r := range routes {
		open[r] = true
	}
	return func(c *gin.Context) {
		if !IsPeerCall(c.Request) {
			tokens(c)
			return
		}
		if !open[c.Request.Method+" "+c.FullPath()] {
			Fail(c, apierror.Forbidden(c.Request.Method+" "+c.Request.URL.Path+" is not open to other peers"))
			return
		}
		p, err := peers.Authenticate(c.Request)
		if err != nil {
			peers.WriteRefusal(c.Writer, c.Request, err)
			c.Abort()
			return
		}
		c.Request = c.Request.WithContext(authn.WithPrincipal(c.Request.Context(), p))
		c.Next()
	}
}

// RequireRole answers 403 unless the verified principal holds role.
func RequireRole(role string) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := authn.FromContext(c.Request.Context())
		if !ok || !p.HasRole(role) {
			Fail(c, apierror.Forbidden("this operation needs the "+role+" role"))
			return
		}
		c.Next()
	}
}

// Fail writes err as the error envelope and aborts. Errors that are not
// *apierror.Error are logged and answered with a generic 500.
func Fail(c *gin.Context, err error) {
	e := apierror.From(err)
	if e == apierror.Internal {
		LoggerFrom(c).ErrorContext(c.Request.Context(), "request failed", "err", err)
	}
	c.AbortWithStatusJSON(e.Status, apierror.Envelope{Error: e})
}

func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(RequestIDHeader)
		if id == "" || len(id) > 128 {
			id = uuid.NewString()
		}
		c.Header(RequestIDHeader, id)
		c.Set(RequestIDHeader, id)
		c.Request = c.Request.WithContext(broker.WithRequestID(c.Request.Context(), id))
		c.Next()
	}
}

// LoggerFrom returns the request's logger (with its request ID).
func LoggerFrom(c *gin.Context) *slog.Logger {
	if l, ok := c.Get("logger"); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}

func accessLog(log *slog.Logger, service string) gin.HandlerFunc {
	if log == nil {
		log = slog.Default()
	}
	return func(c *gin.Context) {
		start := time.Now()
		reqLog := log.With("service", service, "request_id", c.GetString(RequestIDHeader))
		c.Set("logger", reqLog)
		c.Next()
		path := c.Request.URL.Path
		if isProbe(path) {
			return
		}
		reqLog.LogAttrs(c.Request.Context(), slog.LevelInfo, "http",
			slog.String("method", c.Request.Method), slog.String("path", path),
			slog.Int("status", c.Writer.Status()), slog.Duration("took", time.Since(start)),
			slog.String("remote", c.ClientIP()))
	}
}

func isProbe(path string) bool {
	for _, s := range []string{"/healthz", "/readyz", "/metrics"} {
		if len(path) >= len(s) && path[len(path)-len(s):] == s {
			return true
		}
	}
	return false
}

func recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(r)
				}
				LoggerFrom(c).ErrorContext(c.Request.Context(), "panic", "panic", fmt.Sprint(r))
				c.AbortWithStatusJSON(http.StatusInternalServerError, apierror.Envelope{Error: apierror.Internal})
			}
		}()
		c.Next()
	}
}

func maxBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		}
		c.Next()
	}
}

// Run serves h on addr until ctx is done, then shuts down gracefully within
// 10 seconds. ready, if non-nil, receives the bound address once listening.
func Run(ctx context.Context, log *slog.Logger, addr string, h http.Handler, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	if ready != nil {
		ready(ln.Addr())
	}
	return Serve(ctx, log, ln, h)
}

// Serve is Run on a listener the caller opened (and that Serve closes).
func Serve(ctx context.Context, log *slog.Logger, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		// No WriteTimeout: live streams (SSE) stay open; handlers bound their own work.
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down http server", "addr", ln.Addr().String())
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Component is what every service package exposes, so that a standalone main
// and the all-in-one binary run it the same way.
type Component interface {
	Name() string                  // "catalog"
	Prefix() string                // "/catalog"
	Handler() http.Handler         // serves everything under Prefix
	Run(ctx context.Context) error // background loops until ctx is done; nil at once if none
}

// Every calls fn every interval until ctx is done, then returns nil: the body
// of a Component's Run for periodic work (pruning, rescans).
func Every(ctx context.Context, interval time.Duration, fn func(ctx context.Context)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			fn(ctx)
		}
	}
}
