package keys

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/store"
	"github.com/opencloud/opencloud/libs/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var backends = []struct {
	name string
	open func(testing.TB) store.Store
}{
	{"sqlite", testenv.SQLiteStore},
	{"mongo", testenv.MongoStore},
}

func newSealKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRotationAndRetention(t *testing.T) {
	ctx := context.Background()
	m, err := Open(ctx, testenv.SQLiteStore(t), 24*time.Hour, newSealKey(t))
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return clock }

	if created, err := m.Ensure(ctx); err != nil || !created {
		t.Fatalf("first Ensure: %v %v", created, err)
	}
	if created, err := m.Ensure(ctx); err != nil || created {
		t.Fatalf("second Ensure: %v %v", created, err)
	}
	first, err := m.Signing(ctx)
	if err != nil {
		t.Fatal(err)
	}

	clock = clock.Add(time.Hour)
	second, err := m.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := m.Signing(ctx); s.ID() != second.KID {
		t.Errorf("signing with %s, want the new key %s", s.ID(), second.KID)
	}
	kids := func() string {
		pub, err := m.Published(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range pub {
			out = append(out, k.ID())
		}
		return strings.Join(out, ",")
	}
	if got, want := kids(), second.KID+","+first.ID(); got != want {
		t.Errorf("published %s, want %s", got, want)
	}

	// Within the retention period the old key stays, and pruning keeps it.
	clock = clock.Add(23 * time.Hour)
	if n, err := m.Prune(ctx); err != nil || n != 0 {
		t.Errorf("prune within retention: %d %v", n, err)
	}
	if got := kids(); !strings.Contains(got, first.ID()) {
		t.Errorf("old key unpublished early: %s", got)
	}
	// After it, it leaves the JWKS and the store.
	clock = clock.Add(2 * time.Hour)
	if got := kids(); got != second.KID {
		t.Errorf("published %s after retention, want only %s", got, second.KID)
	}
	if n, err := m.Prune(ctx); err != nil || n != 1 {
		t.Errorf("prune after retention: %d %v", n, err)
	}
	infos, err := m.List(ctx)
	if err != nil || len(infos) != 1 || infos[0].State != StateActive {
		t.Errorf("after prune: %+v %v", infos, err)
	}
}

// The private key never shows in logs or formatted values.
func TestKeyMaterialStaysOutOfLogs(t *testing.T) {
	d := doc{ID: "kid-1", PrivateKeyPEM: "-----BEGIN PRIVATE KEY-----\nsecret"}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "key", d)
	for _, s := range []string{fmt.Sprint(d), fmt.Sprintf("%+v", d), fmt.Sprintf("%#v", d), b.String()} {
		if strings.Contains(s, "secret") || strings.Contains(s, "PRIVATE") {
			t.Errorf("key material in %q", s)
		}
	}
}
