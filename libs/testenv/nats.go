package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/opencloud/opencloud/libs/broker"
)

// NATS starts an embedded NATS server with JetStream for one test, with the
// OpenCloud events stream in place, and returns a connection to it; both
// are stopped when the test ends. nc.ConnectedUrl() is the server's URL.
func NATS(t testing.TB) *nats.Conn {
	t.Helper()
	ns, err := broker.StartEmbedded(broker.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if err := broker.EnsureStream(context.Background(), nc, time.Hour); err != nil {
		t.Fatal(err)
	}
	return nc
}
