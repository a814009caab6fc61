package service

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/opencloud/opencloud/services/oc-auth/internal/clients"
	"github.com/opencloud/opencloud/services/oc-auth/internal/keys"
	"github.com/opencloud/opencloud/services/oc-auth/internal/throttle"
	"github.com/opencloud/opencloud/services/oc-auth/internal/users"
)

// DefaultServiceClientID is the id of the services' own client when none is
// configured.
const DefaultServiceClientID = "oc-services"

// Bounds of a configured service client secret: it is checked by a plain
// digest, so it must be long enough not to be guessed.
const (
	minServiceSecret = 24
	maxServiceSecret = 1024
)

// Config is oc-auth's configuration. Zero values take the defaults below.
type Config struct {
	// Issuer is the public URL of the provider, the iss of every token,
	// e.g. http://localhost:8000/auth. Required.
	Issuer string
	// AdminUser and AdminPassword create the first administrator when the
	// store has no user. An empty password is generated and logged once.
	AdminUser     string // default "admin"
	AdminPassword string
	// WebRedirectURIs are the redirect (and post-logout) URIs of the
	// built-in public client "opencloud-web"; default: the issuer's origin
	// followed by "/" and "/callback".
	WebRedirectURIs []string
	AccessTTL       time.Duration // access and ID tokens; default 15m
	RefreshTTL      time.Duration // refresh tokens, renewed at each use; default 720h
	// SessionMaxAge ends a session (its refresh tokens) this long after the
	// sign-in, however often it is refreshed; default 2160h (90 days).
	SessionMaxAge time.Duration
	// SessionTTL is how long a browser's sign-in is reused without asking
	// for the password (single sign-on), counted from the password sign-in:
	// reuse does not extend it; default 12h.
	SessionTTL time.Duration
	// KeyRetention is how long a rotated-out signing key stays in the JWKS;
	// default 24h, at least AccessTTL.
	KeyRetention time.Duration
	// ServiceClientID and ServiceClientSecret configure the confidential
	// client the services use for their own background calls (a daemon has
	// no user's token to pass on): with a secret, every start makes that
	// client exist with this secret, the client_credentials grant and the
	// roles admin and user. An empty secret configures none.
	ServiceClientID     string // default "oc-services"
	ServiceClientSecret string
	// PruneInterval is how often expired requests, sessions, tokens and
	// keys are deleted; default 10m.
	PruneInterval time.Duration
	// KeysKey (32 bytes) seals the signing keys in the store. Required:
	// the keys sealed under it can only be read with it.
	KeysKey []byte
	// TrustedProxies are the IP addresses and CIDR ranges of the reverse
	// proxies in front of the service, trusted to name the client in
	// X-Forwarded-For; the failed sign-ins are counted per client address.
	// Empty: none, the client is the connection's peer.
	TrustedProxies []string

	now func() time.Time // the clock of sessions, requests and tokens; tests set it
}

func (c Config) withDefaults() Config {
	if c.AdminUser == "" {
		c.AdminUser = "admin"
	}
	if c.ServiceClientID == "" {
		c.ServiceClientID = DefaultServiceClientID
	}
	if c.AccessTTL == 0 {
		c.AccessTTL = 15 * time.Minute
	}
	if c.RefreshTTL == 0 {
		c.RefreshTTL = 30 * 24 * time.Hour
	}
	if c.SessionMaxAge == 0 {
		c.SessionMaxAge = 90 * 24 * time.Hour
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.KeyRetention == 0 {
		c.KeyRetention = 24 * time.Hour
	}
	if c.PruneInterval == 0 {
		c.PruneInterval = 10 * time.Minute
	}
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	if len(c.WebRedirectURIs) == 0 {
		if u, err := url.Parse(c.Issuer); err == nil && u.Host != "" {
			origin := u.Scheme + "://" + u.Host
			c.WebRedirectURIs = []string{origin + "/", origin + "/callback"}
		}
	}
	return c
}

// CheckTrustedProxies checks a list of trusted proxies (Config.TrustedProxies).
func CheckTrustedProxies(list []string) error {
	_, err := throttle.ParseProxies(list)
	return err
}

// Validate reports every invalid setting.
func (c Config) Validate() error {
	var errs []error
	u, err := url.Parse(c.Issuer)
	if c.Issuer == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("issuer %q: expected an absolute http(s) URL without query or fragment, such as http://localhost:8000/auth", c.Issuer))
	}
	if p := users.CheckUsername(c.AdminUser); p != "" {
		errs = append(errs, fmt.Errorf("admin user %q: %s", c.AdminUser, p))
	}
	if c.AdminPassword != "" {
		if p := users.CheckPassword(c.AdminPassword); p != "" {
			errs = append(errs, fmt.Errorf("admin password: %s", p))
		}
	}
	if p := clients.CheckURIs(c.WebRedirectURIs); p != "" {
		errs = append(errs, fmt.Errorf("web redirect URIs: %s", p))
	}
	if c.ServiceClientSecret != "" {
		if p := clients.CheckID(c.ServiceClientID); p != "" {
			errs = append(errs, fmt.Errorf("service client id %q (OC_SERVICE_CLIENT_ID): %s", c.ServiceClientID, p))
		} else if c.ServiceClientID == clients.WebClientID {
			errs = append(errs, fmt.Errorf("service client id %q (OC_SERVICE_CLIENT_ID): taken by the web front-end's client; choose another, such as %s", c.ServiceClientID, DefaultServiceClientID))
		}
		if n := len(c.ServiceClientSecret); n < minServiceSecret || n > maxServiceSecret {
			errs = append(errs, fmt.Errorf("service client secret (OC_SERVICE_CLIENT_SECRET): %d characters, expected %d to %d; generate one with: openssl rand -base64 32", n, minServiceSecret, maxServiceSecret))
		}
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"access TTL", c.AccessTTL}, {"refresh TTL", c.RefreshTTL}, {"session max age", c.SessionMaxAge}, {"session TTL", c.SessionTTL}, {"key retention", c.KeyRetention}, {"prune interval", c.PruneInterval}} {
		if d.d < 0 {
			errs = append(errs, fmt.Errorf("%s %s: must be positive", d.name, d.d))
		}
	}
	if len(c.KeysKey) != keys.KeySize {
		errs = append(errs, fmt.Errorf("signing keys' sealing key (OC_AUTH_KEYS_KEY): %d bytes, want %d: set it to 32 random bytes, base64 (openssl rand -base64 32)", len(c.KeysKey), keys.KeySize))
	}
	if _, err := throttle.ParseProxies(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("trusted proxies (OC_TRUSTED_PROXIES): %w", err))
	}
	if c.KeyRetention < c.AccessTTL {
		errs = append(errs, fmt.Errorf("key retention %s is shorter than the access TTL %s: tokens would outlive their key", c.KeyRetention, c.AccessTTL))
	}
	return errors.Join(errs...)
}
