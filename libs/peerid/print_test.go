package peerid

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestPrivateKeyNeverPrintsTheSecret(t *testing.T) {
	k := newKey(t)
	b, _ := k.MarshalBinary()
	seedHex := hex.EncodeToString(b[2:])
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("key", "k", k)
	for _, s := range []string{
		fmt.Sprintf("%v", k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), fmt.Sprint(k),
		fmt.Sprintf("%x", k), fmt.Sprintf("%v", *k), logged.String(),
	} {
		if strings.Contains(s, seedHex) || strings.Contains(s, strings.Trim(fmt.Sprint(b[2:]), "[]")) || strings.Contains(s, fmt.Sprintf("%x", []byte(b[2:]))) {
			t.Fatalf("the seed is printed: %s", s)
		}
		if !strings.Contains(s, k.KeyID()) && !strings.Contains(s, fmt.Sprintf("%x", k.KeyID())) {
			t.Fatalf("the key id is not printed: %s", s)
		}
	}
}
