package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// selfDoc is the part of GET /peer/self the tests look at.
type selfDoc struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url"`
}

// getSelf reads base's self document with a 2 s timeout.
func getSelf(base string) (selfDoc, error) {
	var doc selfDoc
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Get(base + "/peer/self")
	if err != nil {
		return doc, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return doc, errors.New(resp.Status)
	}
	return doc, json.NewDecoder(resp.Body).Decode(&doc)
}

func mustSelf(t *testing.T, base string) selfDoc {
	t.Helper()
	doc, err := getSelf(base)
	if err != nil || doc.ID == "" {
		t.Fatalf("GET %s/peer/self: %+v %v", base, doc, err)
	}
	return doc
}

// me is what GET /auth/me says of token's holder, and its status.
func me(t *testing.T, base, token string) (string, int) {
	t.Helper()
	var who struct {
		Username string `json:"username"`
	}
	r := Do(t, http.MethodGet, base+"/auth/me", token, "")
	if r.Status == http.StatusOK {
		if err := json.Unmarshal(r.Body, &who); err != nil {
			t.Fatalf("/auth/me: %v: %s", err, r.Body)
		}
	}
	return who.Username, r.Status
}

// gone reports whether no process has the id pid.
func gone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

func TestPeersAsProcesses(t *testing.T) {
	peers := StartPeers(t, 2, PeerOptions{})
	a, b := peers[0], peers[1]
	if a.Addr == b.Addr || a.DataDir == b.DataDir || a.PID() == b.PID() {
		t.Fatalf("peers share an address, a data directory or a process: %+v %+v", a, b)
	}
	docA, docB := mustSelf(t, a.Base), mustSelf(t, b.Base)
	if docA.ID == docB.ID {
		t.Fatalf("both peers have the id %s", docA.ID)
	}
	for _, c := range []struct {
		p   *PeerProc
		doc selfDoc
	}{{a, docA}, {b, docB}} {
		if c.doc.Name != c.p.Name || c.doc.URL != c.p.PublicURL || c.p.PublicURL != c.p.Base {
			t.Errorf("self document of %s: %+v", c.p.Name, c.doc)
		}
	}

	tokA, tokB := a.AdminToken(t), b.AdminToken(t)
	if user, status := me(t, a.Base, tokA); status != http.StatusOK || user != "admin" {
		t.Fatalf("admin of %s: %d %q", a.Name, status, user)
	}
	if user, status := me(t, b.Base, tokB); status != http.StatusOK || user != "admin" {
		t.Fatalf("admin of %s: %d %q", b.Name, status, user)
	}
	if _, status := me(t, b.Base, tokA); status != http.StatusUnauthorized {
		t.Fatalf("%s took a token of %s: %d", b.Name, a.Name, status)
	}
	ctx := context.Background()
	if _, err := a.login(ctx, "admin", "not-the-password"); err == nil {
		t.Fatal("signed in with a wrong password")
	}

	// Restart: a new process on the same port and data, the same peer.
	old := a.PID()
	a.Restart(t)
	if a.PID() == old || !gone(old) {
		t.Fatalf("restart kept process %d (now %d)", old, a.PID())
	}
	if doc := mustSelf(t, a.Base); doc.ID != docA.ID {
		t.Fatalf("peer id after restart: %s, was %s", doc.ID, docA.ID)
	}
	if _, status := me(t, a.Base, tokA); status != http.StatusOK {
		t.Fatalf("token from before the restart: %d", status)
	}

	// A crash and a start again keep the peer too.
	old = b.PID()
	b.Kill()
	if !gone(old) {
		t.Fatalf("killed peer's process %d still there", old)
	}
	if _, err := getSelf(b.Base); err == nil {
		t.Fatal("killed peer still answers")
	}
	b.Restart(t)
	if doc := mustSelf(t, b.Base); doc.ID != docB.ID {
		t.Fatalf("peer id after a crash: %s, was %s", doc.ID, docB.ID)
	}

	for _, p := range peers {
		pid := p.PID()
		p.Stop()
		if !gone(pid) {
			t.Fatalf("stopped peer's process %d still there", pid)
		}
	}
}

// A peer whose public URL is a link proxy is reached through it until the
// link is cut, and keeps running meanwhile.
func TestPeerBehindLink(t *testing.T) {
	// The peer does not see the test's environment.
	t.Setenv("OC_ADMIN_USER", "someone-else")
	link := Link(t, "")
	p := StartPeer(t, PeerOptions{Name: "lab-a", PublicURL: link.URL()})
	link.SetTarget(p.Addr)
	doc := mustSelf(t, link.URL())
	if doc.URL != link.URL() || doc.Name != "lab-a" {
		t.Fatalf("self document through the link: %+v", doc)
	}
	tok := p.AdminToken(t)
	if user, status := me(t, link.URL(), tok); status != http.StatusOK || user != "admin" {
		t.Fatalf("admin through the link: %d %q", status, user)
	}

	link.Cut(Refuse)
	start := time.Now()
	if _, err := getSelf(link.URL()); err == nil || time.Since(start) > time.Second {
		t.Fatalf("refused link: %v after %s, want a fast failure", err, time.Since(start))
	}
	mustSelf(t, p.Base)
	p.AdminToken(t) // signs in directly

	link.Cut(Blackhole)
	hc := &http.Client{Timeout: 500 * time.Millisecond}
	if resp, err := hc.Get(link.URL() + "/peer/self"); !isTimeout(err) {
		if err == nil {
			resp.Body.Close()
		}
		t.Fatalf("blackholed link: %v, want a timeout", err)
	}

	link.Restore()
	if got := mustSelf(t, link.URL()); got.ID != doc.ID {
		t.Fatalf("restored link leads to %s, want %s", got.ID, doc.ID)
	}
}

func TestPeerOptionsRefusesOwnedVariables(t *testing.T) {
	err := checkPeerOptions(PeerOptions{Env: map[string]string{"OC_DATA": "/x", "OC_PUBLIC_URL": "http://x", "OC_LOG_LEVEL": "debug"}})
	if err == nil {
		t.Fatal("OC_DATA and OC_PUBLIC_URL accepted in Env")
	}
	for _, want := range []string{"OC_DATA is chosen by StartPeer", "set OC_PUBLIC_URL with PeerOptions.PublicURL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}

// Binary directories of test processes that are gone are removed; those of
// running ones stay.
func TestRemoveStaleBinaries(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip(err)
	}
	tmp := t.TempDir()
	dir := func(suffix string) string {
		d := filepath.Join(tmp, peerBinDirPrefix+suffix)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		return d
	}
	alive := []string{dir(strconv.Itoa(os.Getpid())), dir(strconv.Itoa(os.Getppid())), dir("not-a-pid")}
	stale := dir(strconv.Itoa(dead.Process.Pid))
	removeStaleBinaries(tmp)
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s of a process gone is still there: %v", stale, err)
	}
	for _, d := range alive {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s removed: %v", d, err)
		}
	}
}

func TestFindPeerBinary(t *testing.T) {
	t.Setenv("PATH", "")
	t.Setenv(PeerBinaryEnvVar, "")
	if _, err := findPeerBinary(); !errors.Is(err, errNoGo) {
		t.Fatalf("no go and no %s: %v, want errNoGo", PeerBinaryEnvVar, err)
	}
	notExec := filepath.Join(t.TempDir(), "opencloud")
	if err := os.WriteFile(notExec, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(PeerBinaryEnvVar, notExec)
	if _, err := findPeerBinary(); err == nil || !strings.Contains(err.Error(), "not an executable file") {
		t.Fatalf("%s=%s: %v", PeerBinaryEnvVar, notExec, err)
	}
	if err := os.Chmod(notExec, 0o700); err != nil {
		t.Fatal(err)
	}
	if bin, err := findPeerBinary(); err != nil || bin != notExec {
		t.Fatalf("%s=%s: %s %v", PeerBinaryEnvVar, notExec, bin, err)
	}
}

// A peer that cannot start fails the test at once, saying so.
func TestPeerThatCannotStart(t *testing.T) {
	rec := &recordingTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		StartPeer(rec, PeerOptions{Env: map[string]string{"OC_LOG_LEVEL": "loud"}})
	}()
	select {
	case <-done:
	case <-time.After(peerReadyTimeout / 2):
		t.Fatal("StartPeer still waiting for a peer with a bad configuration")
	}
	if !strings.Contains(rec.fatal, "exited before it was ready") {
		t.Fatalf("failure %q", rec.fatal)
	}
}
