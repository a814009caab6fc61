package migrate_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/opencloud/opencloud/libs/testenv"

	"github.com/opencloud/opencloud/services/oc-workspace/internal/migrate"
	wsstore "github.com/opencloud/opencloud/services/oc-workspace/internal/store"
)

// An entry of an area's history that its author signed is left as it was
// signed; an unsigned one of the same shape is rewritten, its other
// fields kept.
func TestSignedHistoryEntriesStay(t *testing.T) {
	ctx := context.Background()
	st := testenv.SQLiteStore(t)
	ops, err := st.Collection(ctx, wsstore.OpSpec)
	if err != nil {
		t.Fatal(err)
	}
	entry := func(seq int, sig string) json.RawMessage {
		return json.RawMessage(`{"area_id":"a","seq":` + string(rune('0'+seq)) + `,"type":"peer.removed",` +
			`"stamp":{"clock":2,"peer":"local","by":"alice","at":"2026-01-02T03:04:05Z"},"data":{"peer":"local","note":"kept"},` +
			`"origin_seq":` + string(rune('0'+seq)) + sig + `}`)
	}
	signed := entry(1, `,"key_id":"k1","sig":"c2ln"`)
	for id, doc := range map[string]json.RawMessage{"signed": signed, "plain": entry(2, "")} {
		if _, err := ops.Insert(ctx, id, doc); err != nil {
			t.Fatal(err)
		}
	}
	n, err := migrate.LocalPeerIDs(ctx, st, "self", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if n != 1 || err != nil {
		t.Fatalf("LocalPeerIDs: %d, %v; want the plain entry only", n, err)
	}
	var got map[string]json.RawMessage
	if v, err := ops.Get(ctx, "signed", &got); err != nil || v != 1 || string(got["stamp"]) != `{"clock":2,"peer":"local","by":"alice","at":"2026-01-02T03:04:05Z"}` {
		t.Errorf("the signed entry: version %d, stamp %s (%v); want it as it was", v, got["stamp"], err)
	}
	if _, err := ops.Get(ctx, "plain", &got); err != nil {
		t.Fatal(err)
	}
	var stamp struct {
		Peer string `json:"peer"`
	}
	if json.Unmarshal(got["stamp"], &stamp) != nil || stamp.Peer != "self" ||
		string(got["data"]) != `{"note":"kept","peer":"self"}` || string(got["origin_seq"]) != "2" {
		t.Errorf("the plain entry: %s", got)
	}
}
