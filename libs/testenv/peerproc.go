package testenv

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PeerAdminPassword is the administrator's password of the peers StartPeer
// starts, unless PeerOptions.AdminPassword says otherwise.
const PeerAdminPassword = "testenv-peer-admin-password"

// PeerBinaryEnvVar names a prebuilt all-in-one binary for StartPeer to run
// instead of building cmd/opencloud.
const PeerBinaryEnvVar = "OC_TEST_BINARY"

const (
	peerBuildTimeout = 10 * time.Minute
	peerReadyTimeout = 90 * time.Second
	peerStopGrace    = 15 * time.Second
	peerLoginTimeout = 30 * time.Second
	// peerStartAttempts bounds the retries when the port picked free was
	// taken before the peer bound it.
	peerStartAttempts = 3
	// peerBinDirPrefix names the per-process directories of built binaries
	// under os.TempDir().
	peerBinDirPrefix = "opencloud-testbin-"
)

// PeerOptions configures a peer StartPeer starts.
type PeerOptions struct {
	// Name is the peer's human name (OC_PEER_NAME; default "peer", and
	// "peer-1"... with StartPeers).
	Name string
	// PublicURL is where others reach the peer (OC_PUBLIC_URL), such as a
	// LinkProxy's URL; default: its Base.
	PublicURL string
	// AdminPassword is the administrator's password (default PeerAdminPassword).
	AdminPassword string
	// Env is more configuration, such as OC_LOG_LEVEL=debug. The variables
	// StartPeer sets from PeerOptions or chooses itself (OC_DATA,
	// OC_HTTP_ADDR) are refused here.
	Env map[string]string
}

// PeerProc is an all-in-one OpenCloud peer running as a process of its
// own, stopped when the test that started it ends.
type PeerProc struct {
	// Name is the peer's OC_PEER_NAME.
	Name string
	// Addr is where the peer listens (127.0.0.1:port), a LinkProxy's target.
	Addr string
	// Base is http:// followed by Addr: what a test dials.
	Base string
	// PublicURL is the peer's OC_PUBLIC_URL, the issuer of its tokens
	// followed by /auth.
	PublicURL string
	// DataDir is the peer's OC_DATA, kept across Restart.
	DataDir string

	t        testing.TB
	bin      string
	opts     PeerOptions
	fixedURL bool // PublicURL came from the options
	out      *Buffer

	mu  sync.Mutex
	run *peerRun // the running process, or the last one
}

// peerRun is one process of a peer.
type peerRun struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, set before done is closed
	// stopping is set when the test stops or kills it: its exit is no crash.
	stopping bool
}

func (r *peerRun) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// errPortTaken is a start that failed because another process took the
// port picked free.
var errPortTaken = errors.New("port taken")

// StartPeer starts an all-in-one peer (cmd/opencloud) as a process of its
// own, with its own data directory and port on 127.0.0.1, and returns once
// it serves requests. The binary is built once per test process (see
// PeerBinaryEnvVar). When the test ends the peer is stopped, and its output
// is logged if the test failed. Without a binary and without go on PATH
// the test is skipped.
func StartPeer(t testing.TB, opts PeerOptions) *PeerProc {
	t.Helper()
	return StartPeers(t, 1, opts)[0]
}

// StartPeers starts n peers at once, as StartPeer does. When n > 1 they
// are named after opts.Name ("peer" when empty) followed by -1, -2..., and
// a PublicURL in opts, which they cannot share, is refused.
func StartPeers(t testing.TB, n int, opts PeerOptions) []*PeerProc {
	t.Helper()
	if n > 1 && opts.PublicURL != "" {
		t.Fatal("testenv: StartPeers: a PublicURL cannot be shared by several peers; start each with StartPeer")
	}
	if err := checkPeerOptions(opts); err != nil {
		t.Fatal(err)
	}
	bin, err := peerBinary()
	if errors.Is(err, errNoGo) && os.Getenv(ClusterEnvVar) != "required" {
		// Under make test (OC_TEST_CLUSTER=required) a missing Go fails.
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	peers := make([]*PeerProc, n)
	for i := range peers {
		o := opts
		o.Env = maps.Clone(opts.Env)
		o.Name = cmp.Or(opts.Name, "peer")
		if n > 1 {
			o.Name = fmt.Sprintf("%s-%d", o.Name, i+1)
		}
		p := &PeerProc{Name: o.Name, DataDir: t.TempDir(), t: t, bin: bin, opts: o,
			fixedURL: o.PublicURL != "", out: &Buffer{}}
		peers[i] = p
		t.Cleanup(func() {
			if err := p.stop(); err != nil {
				t.Errorf("testenv: %v", err)
			}
			if t.Failed() {
				t.Logf("output of peer %s (%s):\n%s", p.Name, p.Base, p.out)
			}
		})
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Go(func() { errs[i] = p.startFree() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return peers
}

// checkPeerOptions refuses Env entries that PeerOptions or StartPeer own.
func checkPeerOptions(opts PeerOptions) error {
	var errs []error
	for k, field := range map[string]string{
		"OC_DATA": "", "OC_HTTP_ADDR": "", "OC_PUBLIC_URL": "PublicURL",
		"OC_ADMIN_PASSWORD": "AdminPassword", "OC_PEER_NAME": "Name",
	} {
		if _, ok := opts.Env[k]; !ok {
			continue
		}
		if field == "" {
			errs = append(errs, fmt.Errorf("testenv: PeerOptions.Env: %s is chosen by StartPeer", k))
		} else {
			errs = append(errs, fmt.Errorf("testenv: PeerOptions.Env: set %s with PeerOptions.%s", k, field))
		}
	}
	return errors.Join(errs...)
}

// startFree starts the peer on a port free a moment ago, trying another
// when it was taken meanwhile.
func (p *PeerProc) startFree() error {
	var err error
	for range peerStartAttempts {
		var ports []int
		if ports, err = freeLoopbackPorts(1); err != nil {
			return err
		}
		p.Addr = "127.0.0.1:" + strconv.Itoa(ports[0])
		p.Base = "http://" + p.Addr
		if !p.fixedURL {
			p.PublicURL = p.Base
		} else {
			p.PublicURL = strings.TrimRight(p.opts.PublicURL, "/")
		}
		if err = p.start(); !errors.Is(err, errPortTaken) {
			return err
		}
	}
	return err
}

// start starts a process on p.Addr and waits until it serves requests.
func (p *PeerProc) start() error {
	vars := map[string]string{"OC_LOG_LEVEL": "warn", "OC_LOG_FORMAT": "text"}
	maps.Copy(vars, p.opts.Env)
	maps.Copy(vars, map[string]string{
		"OC_DATA": p.DataDir, "OC_HTTP_ADDR": p.Addr, "OC_PUBLIC_URL": p.PublicURL,
		"OC_ADMIN_PASSWORD": cmp.Or(p.opts.AdminPassword, PeerAdminPassword), "OC_PEER_NAME": p.Name,
	})
	// Only what the binary needs of the test's environment, so that no
	// OC_ variable of the caller's shell changes the peer.
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	cmd := exec.Command(p.bin)
	cmd.Dir, cmd.Env = p.DataDir, env
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group, so the terminal's Ctrl-C reaches the test,
		// which stops its peers itself.
		Setpgid: true,
		// Should the test process die without its cleanups (a panic, a
		// timeout), its peers die with it.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testenv: start peer %s: %w", p.Name, err)
	}
	fmt.Fprintf(p.out, "--- testenv: peer %s started: pid %d, %s ---\n", p.Name, cmd.Process.Pid, p.Base)
	r := &peerRun{cmd: cmd, done: make(chan struct{})}
	go func() {
		r.err = cmd.Wait()
		close(r.done)
	}()
	p.mu.Lock()
	p.run = r
	p.mu.Unlock()
	return p.waitReady(r)
}

// waitReady polls the peer's OpenID discovery until it names the peer's
// issuer: the gateway serves once every service is built.
func (p *PeerProc) waitReady(r *peerRun) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(peerReadyTimeout)
	for {
		var disc struct {
			Issuer string `json:"issuer"`
		}
		resp, err := hc.Get(p.Base + "/auth/.well-known/openid-configuration")
		if err == nil {
			err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&disc)
			_ = resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK && disc.Issuer == p.PublicURL+"/auth" {
				return nil
			}
		}
		select {
		case <-r.done:
			p.mu.Lock()
			r.stopping = true // reported here, not again when the test ends
			p.mu.Unlock()
			if strings.Contains(p.out.String(), "address already in use") {
				return fmt.Errorf("testenv: peer %s: %s: %w", p.Name, p.Addr, errPortTaken)
			}
			return fmt.Errorf("testenv: peer %s exited before it was ready (%v); its output follows when the test ends", p.Name, r.err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = p.kill()
			return fmt.Errorf("testenv: peer %s not ready at %s after %s; its output follows when the test ends", p.Name, p.Base, peerReadyTimeout)
		}
	}
}

// PID is the process id of the peer's process, or of its last one once
// stopped.
func (p *PeerProc) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.run == nil {
		return 0
	}
	return p.run.cmd.Process.Pid
}

// Output is everything the peer's processes wrote so far.
func (p *PeerProc) Output() string { return p.out.String() }

// Stop stops the peer as an operator does: SIGTERM, then SIGKILL after
// 15 s. A peer that needs the SIGKILL, exits with an error, or had exited
// on its own fails the test.
func (p *PeerProc) Stop() {
	if err := p.stop(); err != nil {
		p.t.Errorf("testenv: %v", err)
	}
}

// Kill ends the peer at once (SIGKILL), as a crash or a power cut does.
func (p *PeerProc) Kill() {
	if err := p.kill(); err != nil {
		p.t.Errorf("testenv: %v", err)
	}
}

// Restart stops the peer (as Stop does) and starts it again on the same
// port and data directory.
func (p *PeerProc) Restart(t testing.TB) {
	t.Helper()
	if err := p.stop(); err != nil {
		t.Error(err)
	}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
}

// current marks the running process as stopping and returns it (nil: none).
func (p *PeerProc) current() *peerRun {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.run
	if r == nil || r.stopping {
		return nil
	}
	r.stopping = true
	return r
}

func (p *PeerProc) stop() error { return p.end(true) }

func (p *PeerProc) kill() error { return p.end(false) }

// end ends the running process, if any, and waits for it: gracefully with
// SIGTERM (then SIGKILL after peerStopGrace), or at once with SIGKILL.
func (p *PeerProc) end(graceful bool) error {
	r := p.current()
	if r == nil {
		return nil
	}
	pid := r.cmd.Process.Pid
	if r.exited() {
		return fmt.Errorf("peer %s (pid %d) had exited on its own: %v", p.Name, pid, r.err)
	}
	if !graceful {
		// The group is the peer's own (Setpgid): the process and nothing else.
		if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("peer %s (pid %d): SIGKILL: %w", p.Name, pid, err)
		}
		<-r.done
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("peer %s (pid %d): SIGTERM: %w", p.Name, pid, err)
	}
	select {
	case <-r.done:
	case <-time.After(peerStopGrace):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-r.done
		return fmt.Errorf("peer %s (pid %d) ignored SIGTERM for %s: killed", p.Name, pid, peerStopGrace)
	}
	if r.err != nil {
		return fmt.Errorf("peer %s (pid %d) stopped with %v", p.Name, pid, r.err)
	}
	return nil
}

// AdminToken signs in as the peer's administrator and returns an access
// token.
func (p *PeerProc) AdminToken(t testing.TB) string {
	t.Helper()
	return p.Login(t, cmp.Or(p.opts.Env["OC_ADMIN_USER"], "admin"), cmp.Or(p.opts.AdminPassword, PeerAdminPassword))
}

// Login signs user in the way the web front-end does (authorization code
// with PKCE through oc-auth's sign-in page, client "opencloud-web") and
// returns an access token. It dials Base even when PublicURL is elsewhere,
// so it works while a link to the peer is cut.
func (p *PeerProc) Login(t testing.TB, user, password string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), peerLoginTimeout)
	defer cancel()
	tok, err := p.login(ctx, user, password)
	if err != nil {
		t.Fatalf("testenv: sign in as %s on peer %s: %v", user, p.Name, err)
	}
	return tok
}

var loginFormID = regexp.MustCompile(`name="id" value="([^"]+)"`)

func (p *PeerProc) login(ctx context.Context, user, password string) (string, error) {
	issuer, redirect := p.PublicURL+"/auth", p.PublicURL+"/callback"
	pub, err := url.Parse(p.PublicURL)
	if err != nil {
		return "", err
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	hc := &http.Client{
		Jar:       jar,
		Transport: toBase{public: pub.Host, base: p.Addr, next: tr},
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), redirect) {
				return http.ErrUseLastResponse // the code is in this redirect
			}
			return nil
		},
	}
	verifier, state := randomHex(32), randomHex(16)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {"opencloud-web"}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {"openid profile"}, "state": {state},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	resp, body, err := send(ctx, hc, http.MethodGet, issuer+"/authorize?"+q.Encode(), nil)
	if err != nil {
		return "", fmt.Errorf("authorize: %w", err)
	}
	m := loginFormID.FindSubmatch(body)
	if m == nil {
		return "", fmt.Errorf("authorize led to no sign-in form (%d at %s)", resp.StatusCode, resp.Request.URL)
	}
	resp, _, err = send(ctx, hc, http.MethodPost, issuer+"/login",
		url.Values{"id": {string(m[1])}, "username": {user}, "password": {password}})
	if err != nil {
		return "", fmt.Errorf("sign-in form: %w", err)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), redirect) {
		return "", fmt.Errorf("sign-in refused (%d): wrong user name or password, or the account is disabled or locked", resp.StatusCode)
	}
	if loc.Query().Get("state") != state || loc.Query().Get("code") == "" {
		return "", fmt.Errorf("sign-in redirect without a code or with a wrong state: %s", loc.Query().Get("error"))
	}
	resp, body, err = send(ctx, hc, http.MethodPost, issuer+"/oauth/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {redirect}, "client_id": {"opencloud-web"}, "code_verifier": {verifier},
	})
	if err != nil {
		return "", fmt.Errorf("token endpoint: %w", err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		return "", fmt.Errorf("token endpoint: %d %s %s", resp.StatusCode, tok.Error, tok.Description)
	}
	return tok.AccessToken, nil
}

// send makes a request (form, if non-nil, as its body) and reads the answer.
func send(ctx context.Context, hc *http.Client, method, u string, form url.Values) (*http.Response, []byte, error) {
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, body, err
}

// toBase sends what is addressed to the peer's public host to its own
// address instead, keeping the Host header.
type toBase struct {
	public, base string
	next         http.RoundTripper
}

func (b toBase) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == b.public {
		req = req.Clone(req.Context())
		req.Host = b.public
		req.URL.Scheme, req.URL.Host = "http", b.base
	}
	return b.next.RoundTrip(req)
}

// errNoGo is the want of a Go toolchain to build the peer binary with.
var errNoGo = fmt.Errorf("testenv: no go on PATH to build cmd/opencloud with, and no %s", PeerBinaryEnvVar)

// peerBinary is the all-in-one binary: $OC_TEST_BINARY, or else built
// once per test process into os.TempDir()/opencloud-testbin-<pid>/. The
// directory outlives the process (a library has no hook at its exit); the
// next build removes those of processes that are gone.
var peerBinary = sync.OnceValues(findPeerBinary)

func findPeerBinary() (string, error) {
	if bin := os.Getenv(PeerBinaryEnvVar); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return "", fmt.Errorf("testenv: %s: %w", PeerBinaryEnvVar, err)
		}
		if st, err := os.Stat(abs); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("testenv: %s=%s: not an executable file (%v)", PeerBinaryEnvVar, bin, err)
		}
		return abs, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", errNoGo
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testenv: %w", err)
	}
	root, err := findUp(wd, "go.work")
	if err != nil {
		return "", err
	}
	removeStaleBinaries(os.TempDir())
	dir := filepath.Join(os.TempDir(), peerBinDirPrefix+strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("testenv: %w", err)
	}
	bin := filepath.Join(dir, "opencloud")
	ctx, cancel := context.WithTimeout(context.Background(), peerBuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, "./cmd/opencloud")
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("testenv: go build ./cmd/opencloud in %s: %w\n%s", root, err, out)
	}
	return bin, nil
}

// removeStaleBinaries removes the binary directories under tmp of test
// processes that are gone.
func removeStaleBinaries(tmp string) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, peerBinDirPrefix+"*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), peerBinDirPrefix))
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			_ = os.RemoveAll(d)
		}
	}
}
