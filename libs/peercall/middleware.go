package peercall

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/opencloud/opencloud/libs/apierror"
)

type callerKey struct{}

// WithCaller returns a context carrying the verified caller.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller Require verified, if the request is a
// verified peer call.
func CallerFrom(ctx context.Context) (*Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(*Caller)
	return c, ok && c != nil
}

// Require lets through only verified calls, with their Caller in the
// request context (CallerFrom); others are answered with the refusal's
// status and the error envelope of libs/apierror.
func Require(v *Verifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := v.Verify(r)
			if err != nil {
				v.WriteRefusal(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), c)))
		})
	}
}

// WriteRefusal answers a request whose verification failed with err: the
// refusal's status, code and reason, with WWW-Authenticate on a 401; a
// failure that is not a refusal is logged and answered with a generic 500.
func (v *Verifier) WriteRefusal(w http.ResponseWriter, r *http.Request, err error) {
	e := apierror.Internal
	if ref, ok := RefusalOf(err); ok {
		e = apierror.New(ref.Status, ref.Code, err.Error(), nil)
		if ref.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", Scheme+` error="`+ref.Code+`"`)
		}
		if ref == ErrBusy {
			w.Header().Set("Retry-After", "5")
		}
	} else {
		v.log.ErrorContext(r.Context(), "peer call: resolve the caller's key", "err", err, "path", r.URL.Path)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(apierror.Envelope{Error: e})
}
