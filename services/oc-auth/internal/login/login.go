// Package login serves the sign-in page of the authorization code flow: the
// OpenID Provider redirects the browser here with the id of a stored
// authorization request; a correct user name and password complete that
// request and send the browser back to the provider's callback, which
// issues the code. The form is bound to the request id (an unguessable
// UUID, valid for minutes and only once), which is what keeps a
// cross-site form from completing someone else's login.
//
// A password sign-in also starts a sign-in session, held by the browser in
// a cookie: while it lasts, later requests are completed without the form
// (single sign-on), unless the client asks for a fresh sign-in.
package login

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/opencloud/opencloud/services/oc-auth/internal/oidcstorage"
	"github.com/opencloud/opencloud/services/oc-auth/internal/throttle"
	"github.com/opencloud/opencloud/services/oc-auth/internal/users"
)

// SessionCookie names the cookie holding the browser's sign-in session.
const SessionCookie = "oc_session"

// Requests is what the page needs of the authorization requests.
type Requests interface {
	AuthRequest(ctx context.Context, id string) (*oidcstorage.AuthRequest, error)
	CompleteLogin(ctx context.Context, id string, s oidcstorage.Session) error
	DeleteAuthRequest(ctx context.Context, id string) error
}

// Sessions is what the page needs of the sign-in sessions; the token is the
// cookie's value.
type Sessions interface {
	CreateSession(ctx context.Context, userID string, amr []string) (string, oidcstorage.Session, error)
	Session(ctx context.Context, token string) (oidcstorage.Session, error)
	EndSession(ctx context.Context, token string) error
}

// Authenticator checks passwords.
type Authenticator interface {
	Authenticate(ctx context.Context, username, password string) (users.User, error)
}

// ClientNames names the application the user is signing in to.
type ClientNames func(ctx context.Context, clientID string) string

// Outcome counts sign-in results (a Prometheus counter in production).
type Outcome func(result string)

// Handler serves the sign-in page.
type Handler struct {
	Issuer   string // e.g. http://localhost:8000/auth
	Path     string // where the form posts: the issuer followed by /login
	Requests Requests
	Sessions Sessions
	Users    Authenticator
	Names    ClientNames
	// Provider answers the client with an error redirect (cancel, prompt=none).
	Provider op.Authorizer
	Log      *slog.Logger
	Count    Outcome
	Now      func() time.Time // nil: the system clock
	// Attempts counts password checks, shared with every other place that
	// checks a user's password; nil: one of its own, with the default
	// policy.
	Attempts *throttle.Limiter
	// Proxies may name the client in X-Forwarded-For.
	Proxies throttle.Proxies

	cookiePath string
	secure     bool
}

// New returns the handler.
func New(h Handler) *Handler {
	if h.Attempts == nil {
		h.Attempts = throttle.New(throttle.DefaultPolicy(), h.Now)
	}
	if h.Count == nil {
		h.Count = func(string) {}
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	// The cookie goes to the provider's endpoints only, over TLS when the
	// issuer has it.
	h.cookiePath = "/"
	if u, err := url.Parse(h.Issuer); err == nil {
		if u.Path != "" {
			h.cookiePath = u.Path
		}
		h.secure = u.Scheme == "https"
	}
	return &h
}

// Show serves GET: the form, or an immediate answer for requests that are
// already done or asked for no interaction.
func (h *Handler) Show(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("authRequestID")
	ar, err := h.Requests.AuthRequest(r.Context(), id)
	if err != nil {
		h.expired(w, r, err)
		return
	}
	if ar.Done() {
		h.toCallback(w, r, id)
		return
	}
	if s, ok := h.session(w, r); ok && ar.AcceptsSession(s, h.Now()) {
		if err := h.Requests.CompleteLogin(r.Context(), id, s); err != nil {
			h.expired(w, r, err)
			return
		}
		h.Count("session")
		h.Log.InfoContext(r.Context(), "user signed in with its sign-in session", "user_id", s.UserID, "client_id", ar.GetClientID())
		h.toCallback(w, r, id)
		return
	}
	if ar.PromptNone() {
		_ = h.Requests.DeleteAuthRequest(r.Context(), id)
		op.AuthRequestError(w, r, ar, oidc.ErrLoginRequired().WithDescription("the user must sign in"), h.Provider)
		return
	}
	h.render(w, http.StatusOK, h.form(r.Context(), ar, ar.LoginHint(), ""))
}

// Submit serves POST: check the credentials and complete the request.
func (h *Handler) Submit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.render(w, http.StatusBadRequest, pageData{Title: "Sign in", Error: "The form could not be read; go back to the application and sign in again."})
		return
	}
	id := r.PostForm.Get("id")
	ar, err := h.Requests.AuthRequest(r.Context(), id)
	if err != nil {
		h.expired(w, r, err)
		return
	}
	if ar.Done() {
		h.toCallback(w, r, id)
		return
	}
	if r.PostForm.Get("cancel") != "" {
		_ = h.Requests.DeleteAuthRequest(r.Context(), id)
		op.AuthRequestError(w, r, ar, oidc.ErrAccessDenied().WithDescription("the user cancelled the sign-in"), h.Provider)
		return
	}
	username := strings.ToLower(strings.TrimSpace(r.PostForm.Get("username")))
	pw := r.PostForm.Get("password")
	attempt, wait := h.Attempts.Begin(username, h.Proxies.ClientAddr(r))
	if attempt == nil {
		h.Count("throttled")
		throttle.RetryAfter(w.Header(), wait)
		msg := fmt.Sprintf("Too many failed attempts. Try again %s.", throttle.InWords(wait))
		h.render(w, http.StatusTooManyRequests, h.form(r.Context(), ar, username, msg))
		return
	}
	u, err := h.Users.Authenticate(r.Context(), username, pw)
	switch {
	case errors.Is(err, users.ErrInvalidCredentials):
		attempt.Failed()
		h.Count("failed")
		h.render(w, http.StatusUnauthorized, h.form(r.Context(), ar, username, "Wrong user name or password."))
		return
	case errors.Is(err, users.ErrDisabled):
		attempt.Abandon()
		h.Count("disabled")
		h.render(w, http.StatusForbidden, h.form(r.Context(), ar, username, "This account is disabled; ask an administrator."))
		return
	case err != nil:
		attempt.Abandon()
		h.Log.ErrorContext(r.Context(), "sign-in failed", "err", err)
		h.render(w, http.StatusInternalServerError, h.form(r.Context(), ar, username, "Something went wrong on our side; try again."))
		return
	}
	attempt.Succeeded()
	// A new sign-in replaces the browser's session, whoever it was for.
	if c, err := r.Cookie(SessionCookie); err == nil {
		if err := h.Sessions.EndSession(r.Context(), c.Value); err != nil {
			h.Log.WarnContext(r.Context(), "end the replaced sign-in session", "err", err)
		}
	}
	token, s, err := h.Sessions.CreateSession(r.Context(), u.ID, []string{"pwd"})
	if err != nil {
		h.Log.ErrorContext(r.Context(), "start a sign-in session", "err", err)
		h.render(w, http.StatusInternalServerError, h.form(r.Context(), ar, username, "Something went wrong on our side; try again."))
		return
	}
	h.setCookie(w, token, s.ExpiresAt)
	if err := h.Requests.CompleteLogin(r.Context(), id, s); err != nil {
		h.expired(w, r, err)
		return
	}
	h.Count("succeeded")
	h.Log.InfoContext(r.Context(), "user signed in", "user_id", u.ID, "client_id", ar.GetClientID())
	h.toCallback(w, r, id)
}

// EndSession wraps the provider's end_session endpoint: the browser's
// sign-in session ends and its cookie is cleared, then the provider revokes
// the tokens the request names and redirects. The session ends even when
// the provider then refuses the request: the user asked to sign out.
func (h *Handler) EndSession(provider http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(SessionCookie); err == nil {
			if err := h.Sessions.EndSession(r.Context(), c.Value); err != nil {
				h.Log.ErrorContext(r.Context(), "end sign-in session", "err", err)
				h.render(w, http.StatusInternalServerError, pageData{Title: "Sign out", Error: "Something went wrong on our side; try again."})
				return
			}
			h.clearCookie(w)
		}
		provider.ServeHTTP(w, r)
	})
}

// session returns the browser's live sign-in session. A cookie naming no
// live session is cleared; a failure to read the store falls back to the
// form.
func (h *Handler) session(w http.ResponseWriter, r *http.Request) (oidcstorage.Session, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return oidcstorage.Session{}, false
	}
	s, err := h.Sessions.Session(r.Context(), c.Value)
	switch {
	case errors.Is(err, oidcstorage.ErrSessionNotFound):
		h.clearCookie(w)
		return oidcstorage.Session{}, false
	case err != nil:
		h.Log.ErrorContext(r.Context(), "load sign-in session", "err", err)
		return oidcstorage.Session{}, false
	}
	return s, true
}

// setCookie hands the browser its session. SameSite=Lax, not Strict: the
// authorization request is a navigation from the client's site, and must
// carry the cookie for the session to be reused.
func (h *Handler) setCookie(w http.ResponseWriter, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: token, Path: h.cookiePath,
		MaxAge:   max(1, int(math.Ceil(expires.Sub(h.Now()).Seconds()))),
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (h *Handler) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Path: h.cookiePath, MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
}

// LoggedOut is where end_session lands when the client named no
// post_logout_redirect_uri.
func (h *Handler) LoggedOut(w http.ResponseWriter, _ *http.Request) {
	h.render(w, http.StatusOK, pageData{Title: "Signed out", Message: "You have signed out of OpenCloud. You can close this page."})
}

func (h *Handler) form(ctx context.Context, ar *oidcstorage.AuthRequest, username, msg string) pageData {
	return pageData{
		Title: "Sign in", Client: h.Names(ctx, ar.GetClientID()), ID: ar.GetID(),
		Username: username, Error: msg, ShowForm: true, FormPath: h.Path,
	}
}

func (h *Handler) expired(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadRequest
	msg := "This sign-in link has expired or was already used. Go back to the application and sign in again."
	if !errors.Is(err, oidcstorage.ErrAuthRequestNotFound) {
		h.Log.ErrorContext(r.Context(), "load authorization request", "err", err)
		status, msg = http.StatusInternalServerError, "Something went wrong on our side; try again."
	}
	h.render(w, status, pageData{Title: "Sign in", Error: msg})
}

// toCallback sends the browser to the provider, which answers the client.
// 303 turns the POST into a GET.
func (h *Handler) toCallback(w http.ResponseWriter, r *http.Request, id string) {
	http.Redirect(w, r, h.Issuer+"/authorize/callback?id="+url.QueryEscape(id), http.StatusSeeOther)
}

func (h *Handler) render(w http.ResponseWriter, status int, d pageData) {
	d.CSS = template.CSS(css)
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", cspHeader)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := page.Execute(w, d); err != nil {
		h.Log.Warn("render login page", "err", err)
	}
}
