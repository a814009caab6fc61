package service_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencloud/opencloud/libs/authn/authntest"
	"github.com/opencloud/opencloud/libs/peerid"
	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/store/sqlitestore"
	"github.com/opencloud/opencloud/libs/testenv"

	"github.com/opencloud/opencloud/services/oc-peer/internal/identity"
	"github.com/opencloud/opencloud/services/oc-peer/service"
)

const publicURL = "https://opencloud.lab-a.example.org"

// keysKey is the tests' OC_PEER_KEYS_KEY.
var keysKey = bytes.Repeat([]byte{7}, service.KeySize)

// seed is the Ed25519 seed the tests' keys are drawn from: the bytes 0 to
// 31, the test vector of libs/peerid.
var seed = func() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

const seedPeerID = "aejcavshlktviy2hjqbilx25x4v4vnz5uzitlcbz5g3xjans5kyqo4em"

type infra struct {
	t   testing.TB
	ctx context.Context
	st  store.Store
	d   service.Deps
}

func newInfra(t testing.TB) *infra {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st := testenv.SQLiteStore(t)
	return &infra{t: t, ctx: ctx, st: st, d: service.Deps{Logger: testenv.Logger(t), Store: st, NATS: testenv.NATS(t),
		Verifier: authntest.New(t).Verifier(ctx), KeysKey: keysKey, Name: "lab-a", PublicURL: publicURL}}
}

// start builds the service on the infra's store and serves it on a
// loopback port, stopped when the test ends.
func (in *infra) start(opts ...func(*service.Deps)) (*service.Service, string) {
	in.t.Helper()
	d := in.d
	for _, o := range opts {
		o(&d)
	}
	svc, err := service.New(in.ctx, d)
	if err != nil {
		in.t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	in.t.Cleanup(srv.Close)
	return svc, srv.URL
}

// self fetches and verifies GET /peer/self, without a token.
func self(t testing.TB, base string) (*peerid.SelfDoc, testenv.Response) {
	t.Helper()
	r := testenv.Do(t, http.MethodGet, base+"/peer/self", "", "")
	if r.Status != http.StatusOK {
		t.Fatalf("GET /peer/self: %d %s", r.Status, r.Body)
	}
	doc, err := peerid.VerifySelfDoc(r.Body)
	if err != nil {
		t.Fatalf("the self document does not verify: %v\n%s", err, r.Body)
	}
	return doc, r
}

func fromSeed(d *service.Deps) { d.Random = bytes.NewReader(seed) }

// records returns the raw stored peer keys.
func (in *infra) records() []store.Record {
	in.t.Helper()
	c, err := in.st.Collection(in.ctx, identity.Spec)
	if err != nil {
		in.t.Fatal(err)
	}
	recs, _, err := c.Find(in.ctx, store.Query{})
	if err != nil {
		in.t.Fatal(err)
	}
	return recs
}

// Anyone reads the peer's self document: signed by its key, its id derived
// from that key, with its name, URL, caching and fingerprint.
func TestSelfDocument(t *testing.T) {
	in := newInfra(t)
	svc, base := in.start(fromSeed)
	doc, r := self(t, base)

	key, err := peerid.NewKeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	if doc.ID != seedPeerID || svc.PeerID() != doc.ID || !doc.ID.Matches(key.Public()) {
		t.Errorf("peer id %s (service says %s), want %s, derived from the key", doc.ID, svc.PeerID(), seedPeerID)
	}
	if len(doc.Keys) != 1 || !bytes.Equal(doc.Keys[0].PublicKey, key.Public()) {
		t.Errorf("keys %+v, want the one key", doc.Keys)
	}
	if doc.Name != "lab-a" || doc.URL != publicURL {
		t.Errorf("name %q url %q", doc.Name, doc.URL)
	}
	if got := r.Header.Get("Cache-Control"); got != "public, max-age=300" {
		t.Errorf("Cache-Control %q", got)
	}
	if got := r.Header.Get("X-OC-Key-Fingerprint"); got != peerid.Fingerprint(doc.Current().PublicKey) ||
		got != "5647 5AA7 5463 474C 0285 DF5D BF2B CAB7 3DA6 5135 8839 E9B7 7481 B2EA B107 708C" {
		t.Errorf("X-OC-Key-Fingerprint %q", got)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
}

// A restart on the same store keeps the peer's key, and so its id.
func TestRestartKeepsTheID(t *testing.T) {
	in := newInfra(t)
	first, base := in.start()
	before, _ := self(t, base)
	second, base2 := in.start()
	after, _ := self(t, base2)
	if first.PeerID() != second.PeerID() || before.ID != after.ID || !bytes.Equal(before.Keys[0].PublicKey, after.Keys[0].PublicKey) {
		t.Fatalf("after a restart the peer id is %s, before it was %s", after.ID, before.ID)
	}
}

// Processes starting together on one empty store end with one key.
func TestConcurrentStartsMakeOneKey(t *testing.T) {
	in := newInfra(t)
	const n = 4
	// Each start has a store of its own on one file, as processes do.
	path := filepath.Join(t.TempDir(), "store.db")
	stores := make([]store.Store, n)
	for i := range stores {
		st, err := sqlitestore.Open(in.ctx, path, in.d.Logger)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close(context.Background()) })
		stores[i] = st
	}
	in.st = stores[0]
	ids := make([]peerid.ID, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			d := in.d
			d.Store = stores[i]
			svc, err := service.New(in.ctx, d)
			if err == nil {
				ids[i] = svc.PeerID()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Errorf("start %d has peer id %s, start 0 %s", i, ids[i], ids[0])
		}
	}
	if recs := in.records(); len(recs) != 1 {
		t.Errorf("%d stored keys, want 1", len(recs))
	}
}

// The stored key is sealed: the store holds no form of the seed.
func TestStoredKeyIsSealed(t *testing.T) {
	in := newInfra(t)
	in.start(fromSeed)
	recs := in.records()
	if len(recs) != 1 {
		t.Fatalf("%d stored keys, want 1", len(recs))
	}
	data := string(recs[0].Data)
	for _, form := range []string{
		string(seed),
		base64.StdEncoding.EncodeToString(seed), base64.RawStdEncoding.EncodeToString(seed),
		base64.URLEncoding.EncodeToString(seed), base64.RawURLEncoding.EncodeToString(seed),
		hex.EncodeToString(seed), strings.ToUpper(hex.EncodeToString(seed)),
		// peerid's binary form, encoded as the store encodes bytes.
		base64.StdEncoding.EncodeToString(append([]byte{0x01, 0xed}, seed...)),
	} {
		if strings.Contains(data, form) {
			t.Fatalf("the stored key holds the seed in clear (%q): %s", form, data)
		}
	}
}

// A wrong sealing key, or none, stops the start with an error saying so;
// the stored key is left as it was.
func TestWrongKeysKey(t *testing.T) {
	in := newInfra(t)
	first, _ := in.start()

	other := bytes.Repeat([]byte{8}, service.KeySize)
	_, err := service.New(in.ctx, func() service.Deps { d := in.d; d.KeysKey = other; return d }())
	if !errors.Is(err, service.ErrUnreadableKey) || !strings.Contains(err.Error(), "cannot be decrypted with the configured sealing key") {
		t.Fatalf("start with another sealing key: %v, want ErrUnreadableKey", err)
	}
	_, err = service.New(in.ctx, func() service.Deps { d := in.d; d.KeysKey = nil; return d }())
	if err == nil || !strings.Contains(err.Error(), "32") {
		t.Fatalf("start without a sealing key: %v, want an error naming the key size", err)
	}
	again, _ := in.start()
	if again.PeerID() != first.PeerID() {
		t.Errorf("after the failed starts the peer id is %s, was %s", again.PeerID(), first.PeerID())
	}
}
