// Package idempotency makes unsafe requests safe to retry. A client that
// sends the same Idempotency-Key header again — after a timeout, a dropped
// connection, a crash of its own — gets the response of the first request
// instead of a second effect:
//
//   - the first request runs; its response is kept for the key's lifetime
//     under (caller, method, path, key);
//   - a retry with the same body gets the kept response, marked with
//     "Idempotent-Replayed: true";
//   - the same key with another body is refused (422), and a retry while the
//     first request is still running is told to wait (409, Retry-After);
//   - a 5xx response is not kept, so a retry runs again.
//
// Keys live in the store, so a retry that reaches another replica (or the
// same service after a restart) is answered the same way.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/authn"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/libs/store"
)

// Header is the request header carrying the key; ReplayedHeader marks a replay.
const (
	Header         = "Idempotency-Key"
	ReplayedHeader = "Idempotent-Replayed"
)

// MaxKeyLength bounds keys (a UUID is 36 characters).
const MaxKeyLength = 255

// keptHeaders are the response headers a replay restores.
var keptHeaders = []string{"Content-Type", "Location", "ETag"}

const (
	stateRunning = "running"
	stateDone    = "done"
)

type record struct {
	ID          string            `json:"id"`
	Version     int64             `json:"version"`
	State       string            `json:"state"`
	RequestHash string            `json:"request_hash"`
	Status      int               `json:"status,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	Body        []byte            `json:"body,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	ExpiresAt   time.Time         `json:"expires_at"`
}

// Keys keeps idempotency keys in one collection of the store.
type Keys struct {
	coll  store.Collection
	ttl   time.Duration
	stale time.Duration
	now   func() time.Time
}

// Options tune Keys; zero values take the defaults.
type Options struct {
	Collection string        // default "idempotency_keys"
	TTL        time.Duration // how long a response is kept; default 24h
	// StaleAfter is how long a request may stay "running" before a retry may
	// take it over (its process died mid-way); default 2m.
	StaleAfter time.Duration
}

// New opens the collection.
func New(ctx context.Context, st store.Store, o Options) (*Keys, error) {
	if o.Collection == "" {
		o.Collection = "idempotency_keys"
	}
	if o.TTL == 0 {
		o.TTL = 24 * time.Hour
	}
	if o.StaleAfter == 0 {
		o.StaleAfter = 2 * time.Minute
	}
	coll, err := st.Collection(ctx, store.Spec{
		Name:   o.Collection,
		Fields: []store.Field{{Name: "expires_at", Type: store.Time}},
	})
	if err != nil {
		return nil, fmt.Errorf("idempotency: %w", err)
	}
	return &Keys{coll: coll, ttl: o.TTL, stale: o.StaleAfter, now: func() time.Time { return time.Now().UTC() }}, nil
}

// Middleware applies the rules above to the routes it guards. It must run
// after the token check, so that keys are per caller.
func (k *Keys) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		key := c.GetHeader(Header)
		if key == "" {
			c.Next()
			return
		}
		if err := checkKey(key); err != nil {
			server.Fail(c, err)
			return
		}
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				server.Fail(c, apierror.New(http.StatusRequestEntityTooLarge, "body_too_large",
					fmt.Sprintf("the request body exceeds %d bytes", tooBig.Limit), nil))
				return
			}
			server.Fail(c, apierror.BadRequest("unreadable_body", "the request body could not be read"))
			return
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		p, _ := authn.FromContext(c.Request.Context())
		id := recordID(p.Subject, c.Request.Method, c.FullPath(), c.Request.URL.RawQuery, key)
		sum := sha256.Sum256(body)
		ctx := c.Request.Context()

		rec, claimed, err := k.claim(ctx, id, hex.EncodeToString(sum[:]))
		if err != nil {
			server.Fail(c, err)
			return
		}
		if !claimed {
			replay(c, rec)
			return
		}
		w := &capture{ResponseWriter: c.Writer}
		c.Writer = w
		c.Next()
		if err := k.finish(context.WithoutCancel(ctx), rec, w); err != nil {
			// The effect happened; until the record goes stale a retry is
			// told the key is in progress, and it never runs twice.
			server.LoggerFrom(c).WarnContext(ctx, "idempotency key not recorded", "err", err)
		}
	}
}

func checkKey(key string) error {
	if len(key) > MaxKeyLength {
		return apierror.Invalid(apierror.FieldError{Field: Header, Problem: fmt.Sprintf("at most %d characters", MaxKeyLength)})
	}
	for _, r := range key {
		if r < 0x21 || r > 0x7e {
			return apierror.Invalid(apierror.FieldError{Field: Header, Problem: "printable ASCII without spaces, such as a UUID"})
		}
	}
	return nil
}

func recordID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p)) + ":" + p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// claim inserts a running record for id, or returns the one already there
// (claimed false). An expired or stale record is replaced.
func (k *Keys) claim(ctx context.Context, id, hash string) (record, bool, error) {
	for range 3 {
		now := k.now()
		rec := record{State: stateRunning, RequestHash: hash, CreatedAt: now, ExpiresAt: now.Add(k.ttl)}
		v, err := k.coll.Insert(ctx, id, rec)
		if err == nil {
			rec.ID, rec.Version = id, v
			return rec, true, nil
		}
		if !errors.Is(err, store.ErrDuplicate) {
			return record{}, false, fmt.Errorf("idempotency: claim: %w", err)
		}
		var old record
		if _, err := k.coll.Get(ctx, id, &old); errors.Is(err, store.ErrNotFound) {
			continue // removed in between: try again
		} else if err != nil {
			return record{}, false, fmt.Errorf("idempotency: read: %w", err)
		}
		expired := !now.Before(old.ExpiresAt)
		stale := old.State == stateRunning && now.Sub(old.CreatedAt) > k.stale
		if !expired && !stale {
			if old.RequestHash != hash {
				return record{}, false, apierror.New(http.StatusUnprocessableEntity, "idempotency_key_reused",
					"this Idempotency-Key was used with another request body; use a new key for a new request", nil)
			}
			return old, false, nil
		}
		// Of concurrent retries, the one whose conditional delete wins re-claims.
		if err := k.coll.Delete(ctx, id, old.Version); err != nil && !errors.Is(err, store.ErrVersionConflict) && !errors.Is(err, store.ErrNotFound) {
			return record{}, false, fmt.Errorf("idempotency: drop expired: %w", err)
		}
	}
	return record{}, false, apierror.Conflict("idempotency_in_progress", "a request with this Idempotency-Key is being handled; retry shortly", nil)
}

func replay(c *gin.Context, rec record) {
	if rec.State != stateDone {
		c.Header("Retry-After", "1")
		server.Fail(c, apierror.Conflict("idempotency_in_progress",
			"a request with this Idempotency-Key is still being handled; retry shortly", nil))
		return
	}
	for k, v := range rec.Headers {
		c.Header(k, v)
	}
	c.Header(ReplayedHeader, "true")
	c.Status(rec.Status)
	_, _ = c.Writer.Write(rec.Body)
	c.Abort()
}

// finish keeps the response, or forgets the key after a server error so
// that a retry runs again.
func (k *Keys) finish(ctx context.Context, rec record, w *capture) error {
	status := w.Status()
	if status >= http.StatusInternalServerError {
		return k.coll.Delete(ctx, rec.ID, rec.Version)
	}
	rec.State, rec.Status, rec.Body = stateDone, status, w.body.Bytes()
	rec.Headers = map[string]string{}
	for _, h := range keptHeaders {
		if v := w.Header().Get(h); v != "" {
			rec.Headers[h] = v
		}
	}
	_, err := k.coll.Replace(ctx, rec.ID, rec.Version, rec)
	return err
}

// Prune deletes expired keys; services call it from their background loop.
func (k *Keys) Prune(ctx context.Context) (int, error) {
	n := 0
	for {
		recs, _, err := k.coll.Find(ctx, store.Query{Filter: store.Lt("expires_at", k.now()), Limit: 500})
		if err != nil {
			return n, fmt.Errorf("idempotency: prune: %w", err)
		}
		deleted := 0
		for _, r := range recs {
			if err := k.coll.Delete(ctx, r.ID, r.Version); err == nil {
				deleted++
			}
		}
		n += deleted
		if deleted == 0 { // nothing left, or only records another writer holds
			return n, nil
		}
	}
}

// capture tees the response body so that it can be kept.
type capture struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (w *capture) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *capture) WriteString(s string) (int, error) {
	w.body.WriteString(s)
	return w.ResponseWriter.WriteString(s)
}
