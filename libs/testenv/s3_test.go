package testenv

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestS3 stores an object in each kind of server and reads it back with
// signed requests, then signs with a wrong secret: MinIO refuses it,
// gofakes3 does not check. Once the test is over the server is gone.
func TestS3(t *testing.T) {
	for _, kind := range []S3Kind{S3Fake, S3Signed} {
		t.Run(kind.String(), func(t *testing.T) {
			var s *S3Env
			t.Run("use", func(t *testing.T) {
				start := time.Now()
				s = S3(t, kind)
				t.Logf("%s ready in %s on %s", kind, time.Since(start).Round(time.Millisecond), s.Endpoint)

				if code, body := s3Do(t, s, http.MethodPut, "/testenv", nil, s.SecretKey); code != http.StatusOK {
					t.Fatalf("create bucket: %d %s", code, body)
				}
				if code, body := s3Do(t, s, http.MethodPut, "/testenv/x.txt", []byte("hello"), s.SecretKey); code != http.StatusOK {
					t.Fatalf("put object: %d %s", code, body)
				}
				if code, body := s3Do(t, s, http.MethodGet, "/testenv/x.txt", nil, s.SecretKey); code != http.StatusOK || body != "hello" {
					t.Fatalf("get object: %d %q, want 200 \"hello\"", code, body)
				}
				code, body := s3Do(t, s, http.MethodGet, "/testenv/x.txt", nil, s.SecretKey+"x")
				switch {
				case kind == S3Signed && (code != http.StatusForbidden || !strings.Contains(body, "SignatureDoesNotMatch")):
					t.Errorf("get with a wrong secret: %d %s, want 403 SignatureDoesNotMatch", code, body)
				case kind == S3Fake && code != http.StatusOK:
					t.Errorf("gofakes3 refused a wrong secret (%d %s): it checks signatures now", code, body)
				}
			})
			if s == nil {
				t.Skip(clusterSkipMessage)
			}
			hc := &http.Client{Timeout: 2 * time.Second}
			if resp, err := hc.Get(s.URL + "/"); err == nil {
				_ = resp.Body.Close()
				t.Errorf("%s still answers on %s after its test", kind, s.Endpoint)
			}
		})
	}
}

// s3Do sends a signed request (S3Env.Do) and returns the status and body.
func s3Do(t *testing.T, s *S3Env, method, path string, body []byte, secret string) (int, string) {
	t.Helper()
	code, raw, err := s.Do(context.Background(), method, path, body, secret)
	if err != nil {
		t.Fatal(err)
	}
	return code, string(raw)
}
