package platform

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencloud/opencloud/libs/broker"
	"github.com/opencloud/opencloud/libs/config"
)

func load(t *testing.T, env map[string]string) (Infra, error) {
	t.Helper()
	var c Infra
	err := config.Load(func(k string) string { return env[k] }, &c)
	return c, err
}

func TestInfraDefaultsAndURLs(t *testing.T) {
	c, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer() != "http://localhost:8000/auth" || c.JWKSURL() != "http://localhost:8000/auth/keys" {
		t.Fatalf("issuer %s, jwks %s", c.Issuer(), c.JWKSURL())
	}
	c, _ = load(t, map[string]string{"OC_PUBLIC_URL": "https://cloud.example.org/", "OC_AUTH_INTERNAL_URL": "http://oc-auth:8080"})
	if c.Issuer() != "https://cloud.example.org/auth" || c.JWKSURL() != "http://oc-auth:8080/auth/keys" ||
		c.TokenURL() != "http://oc-auth:8080/auth/oauth/token" {
		t.Fatalf("issuer %s, jwks %s", c.Issuer(), c.JWKSURL())
	}
}

func TestInfraValidateNamesEveryBadVariable(t *testing.T) {
	c, err := load(t, map[string]string{"OC_STORE": "postgres", "OC_LOG_FORMAT": "xml", "OC_LOG_LEVEL": "loud", "OC_PUBLIC_URL": "localhost",
		"OC_EVENTS_MAX_BYTES": "lots", "OC_EVENTS_MAX_AGE": "-1h"})
	if err == nil {
		err = c.Validate()
	}
	if err == nil {
		t.Fatal("expected errors")
	}
	for _, v := range []string{"OC_STORE", "OC_LOG_FORMAT", "OC_LOG_LEVEL", "OC_PUBLIC_URL", "OC_EVENTS_MAX_BYTES", "OC_EVENTS_MAX_AGE"} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("%q does not name %s", err, v)
		}
	}
}

func TestOpenStoreSQLiteCreatesTheDataDirectory(t *testing.T) {
	c, _ := load(t, map[string]string{"OC_STORE": "sqlite", "OC_SQLITE_PATH": filepath.Join(t.TempDir(), "nested", "oc.db")})
	st, err := OpenStore(context.Background(), c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	if err := st.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestOpenConnectsAndEnsuresTheEventStream(t *testing.T) {
	ctx := context.Background()
	emb, err := broker.StartEmbedded(broker.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	c, _ := load(t, map[string]string{"OC_STORE": "sqlite", "OC_SQLITE_PATH": filepath.Join(t.TempDir(), "oc.db"), "OC_NATS_URL": emb.ClientURL()})
	d, err := Open(ctx, c, "test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	js, err := d.NATS.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	info, err := js.StreamInfo(broker.StreamName)
	if err != nil {
		t.Fatalf("event stream: %v", err)
	}
	if info.Config.MaxBytes != 1<<30 || info.Config.MaxAge != 168*time.Hour {
		t.Errorf("event stream limits: %d bytes, %s; want the defaults 1GiB and 168h", info.Config.MaxBytes, info.Config.MaxAge)
	}
	if d.Verifier == nil || d.Store.Ping(ctx) != nil {
		t.Fatal("verifier or store missing")
	}
}
