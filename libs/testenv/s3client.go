package testenv

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Do sends a path-style request (path: /bucket or /bucket/key, without a
// query) signed with AWS Signature V4 under the server's access key and
// the given secret key (s.SecretKey, or another to see it refused), and
// returns the status and body.
func (s *S3Env) Do(ctx context.Context, method, path string, body []byte, secretKey string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("testenv: s3 request: %w", err)
	}
	signS3(req, body, s.AccessKey, secretKey, s.Region, time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("testenv: s3 %s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("testenv: s3 %s %s: %w", method, path, err)
	}
	return resp.StatusCode, raw, nil
}

// CreateBucket creates a bucket.
func (s *S3Env) CreateBucket(ctx context.Context, bucket string) error {
	status, body, err := s.Do(ctx, http.MethodPut, "/"+url.PathEscape(bucket), nil, s.SecretKey)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("testenv: create bucket %s: %d %s", bucket, status, body)
	}
	return nil
}

// GetObject returns an object's content; an error when there is none.
func (s *S3Env) GetObject(ctx context.Context, bucket, key string) ([]byte, error) {
	status, body, err := s.Do(ctx, http.MethodGet, "/"+url.PathEscape(bucket)+"/"+escapeKey(key), nil, s.SecretKey)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("testenv: get s3://%s/%s: %d %s", bucket, key, status, body)
	}
	return body, nil
}

// escapeKey escapes each segment of an object key, keeping its slashes.
func escapeKey(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// signS3 signs a request without a query string for service s3 (AWS
// Signature V4, headers host, x-amz-content-sha256 and x-amz-date).
func signS3(req *http.Request, body []byte, accessKey, secret, region string, now time.Time) {
	amzDate := now.UTC().Format("20060102T150405Z")
	day := amzDate[:8]
	payload := hexSHA256(body)
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", payload)
	const signed = "host;x-amz-content-sha256;x-amz-date"
	canonical := strings.Join([]string{
		req.Method, req.URL.EscapedPath(), "",
		"host:" + req.URL.Host + "\nx-amz-content-sha256:" + payload + "\nx-amz-date:" + amzDate + "\n",
		signed, payload,
	}, "\n")
	scope := day + "/" + region + "/s3/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hexSHA256([]byte(canonical))
	key := []byte("AWS4" + secret)
	for _, part := range []string{day, region, "s3", "aws4_request"} {
		key = macSHA256(key, part)
	}
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		accessKey, scope, signed, hex.EncodeToString(macSHA256(key, toSign))))
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func macSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
