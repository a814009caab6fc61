package login

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The session cookie is confined to the issuer's path, hidden from scripts,
// sent on cross-site navigations only, and over TLS only when the issuer
// has it.
func TestSessionCookie(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		issuer, path string
		secure       bool
	}{
		{"http://localhost:8000/auth", "/auth", false},
		{"https://peer.example/auth", "/auth", true},
		{"https://peer.example/oc/auth", "/oc/auth", true},
	} {
		h := New(Handler{Issuer: c.issuer, Now: func() time.Time { return now }})
		w := httptest.NewRecorder()
		h.setCookie(w, "value", now.Add(12*time.Hour))
		h.clearCookie(w)
		set := w.Result().Cookies()
		if len(set) != 2 {
			t.Fatalf("%s: cookies %v", c.issuer, set)
		}
		for i, ck := range set {
			if ck.Name != SessionCookie || ck.Path != c.path || !ck.HttpOnly || ck.Secure != c.secure || !strings.Contains(w.Header().Values("Set-Cookie")[i], "SameSite=Lax") {
				t.Errorf("%s: %s", c.issuer, w.Header().Values("Set-Cookie")[i])
			}
		}
		if set[0].Value != "value" || set[0].MaxAge != 12*3600 || set[1].MaxAge != -1 {
			t.Errorf("%s: set %+v, clear %+v", c.issuer, set[0], set[1])
		}
	}
}
