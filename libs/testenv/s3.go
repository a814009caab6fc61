package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// S3Kind chooses the S3 server S3 starts.
type S3Kind int

const (
	// S3Fake is gofakes3 with its memory backend: ready in milliseconds,
	// but it accepts any credentials, signed or not.
	S3Fake S3Kind = iota
	// S3Signed is MinIO: it checks every request's signature (AWS
	// Signature V4) against AccessKey and SecretKey, so a wrong key fails.
	S3Signed
)

func (k S3Kind) String() string {
	if k == S3Signed {
		return "S3Signed (MinIO)"
	}
	return "S3Fake (gofakes3)"
}

// S3Env is a running S3 server on 127.0.0.1, with no bucket.
type S3Env struct {
	// Endpoint is host:port, what Argo's s3 artifacts (with insecure: true)
	// and most clients take; URL is the same with http://.
	Endpoint, URL string
	// AccessKey and SecretKey are the server's credentials (MinIO's root
	// user), random for each server.
	AccessKey, SecretKey string
	// Region is the region requests are signed for.
	Region string
}

const (
	s3ReadyTimeout = 30 * time.Second
	s3StopGrace    = 10 * time.Second
	s3Region       = "us-east-1"
)

// S3 starts an S3 server of the kind asked for, stopped (by its PID) when t
// ends. Its binaries are built with the test cluster's (make cluster-build):
// when they are not, the test is skipped, unless OC_TEST_CLUSTER=required,
// which fails it.
func S3(t testing.TB, kind S3Kind) *S3Env {
	t.Helper()
	bin, err := clusterBin()
	switch {
	case errors.Is(err, errClusterNotBuilt) && os.Getenv(ClusterEnvVar) != "required":
		t.Skip(clusterSkipMessage)
	case err != nil:
		t.Fatal(err)
	}
	s, err := startS3(bin, kind, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("testenv: stop %s: %v", kind, err)
		}
	})
	return &s.env
}

// s3Server is one running S3 server process.
type s3Server struct {
	env  S3Env
	kind S3Kind
	cmd  *exec.Cmd
	log  string
	done chan error
}

// startS3 starts the server with its state and log under dir. A port picked
// free may be taken before the server binds it: a few attempts.
func startS3(bin string, kind S3Kind, dir string) (*s3Server, error) {
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		var s *s3Server
		s, err = tryS3(bin, kind, filepath.Join(dir, fmt.Sprint(attempt)))
		if err == nil {
			return s, nil
		}
	}
	return nil, err
}

func tryS3(bin string, kind S3Kind, dir string) (*s3Server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	ports, err := freeLoopbackPorts(2)
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	s := &s3Server{
		kind: kind,
		log:  filepath.Join(dir, "s3.log"),
		done: make(chan error, 1),
		env: S3Env{
			Endpoint:  addr,
			URL:       "http://" + addr,
			AccessKey: "testenv-" + randomHex(6),
			SecretKey: randomHex(20),
			Region:    s3Region,
		},
	}
	ready := s.env.URL + "/"
	switch kind {
	case S3Fake:
		s.cmd = exec.Command(filepath.Join(bin, "gofakes3"), "-backend", "memory", "-host", addr)
	case S3Signed:
		s.cmd = exec.Command(filepath.Join(bin, "minio"), "server", "--quiet",
			"--address", addr, "--console-address", fmt.Sprintf("127.0.0.1:%d", ports[1]),
			"--certs-dir", filepath.Join(dir, "certs"), filepath.Join(dir, "data"))
		s.cmd.Env = append(os.Environ(),
			"MINIO_ROOT_USER="+s.env.AccessKey, "MINIO_ROOT_PASSWORD="+s.env.SecretKey,
			"MINIO_REGION="+s3Region, "MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=on")
		// Ready (200) only once the object layer serves writes.
		ready = s.env.URL + "/minio/health/cluster"
	default:
		return nil, fmt.Errorf("testenv: unknown S3 kind %d", kind)
	}
	logFile, err := os.Create(s.log)
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	defer func() { _ = logFile.Close() }()
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("testenv: start %s: %w", kind, err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	if err := s.waitReady(ready); err != nil {
		_ = s.stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls url until it answers 200, the server exits, or
// s3ReadyTimeout runs out.
func (s *s3Server) waitReady(url string) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(s3ReadyTimeout)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("testenv: %s exited before it was ready (%v):\n%s", s.kind, err, tail(s.log))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testenv: %s not ready after %s:\n%s", s.kind, s3ReadyTimeout, tail(s.log))
		}
	}
}

// stop sends SIGTERM to the server's PID and waits for it to exit, KILL
// after s3StopGrace.
func (s *s3Server) stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-s.done:
		return nil
	case <-time.After(s3StopGrace):
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	return fmt.Errorf("%s (pid %d) ignored SIGTERM for %s: killed", s.kind, s.cmd.Process.Pid, s3StopGrace)
}

// clusterBin is the directory of the test cluster's binaries
// (`scripts/cluster.sh bin`), asked once per test binary.
var clusterBin = sync.OnceValues(func() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	out, err := runScript(time.Minute, filepath.Join(root, "scripts", "cluster.sh"), "bin")
	if err != nil {
		if notBuilt(out) {
			return "", errClusterNotBuilt
		}
		return "", fmt.Errorf("testenv: scripts/cluster.sh bin: %w\n%s", err, out)
	}
	return strings.TrimSpace(out), nil
})

// freeLoopbackPorts returns n distinct ports free on 127.0.0.1 a moment ago.
func freeLoopbackPorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("testenv: %w", err)
		}
		defer func() { _ = ln.Close() }()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tail returns the last lines of a log file, for error messages.
func tail(file string) string {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}
