package authn

import (
	"fmt"
	"testing"
	"time"
)

func TestTokenCacheForgetsExpiredTokens(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c := newTokenCache(10, func() time.Time { return now })
	c.put("tok", Principal{Subject: "alice", Expiry: now.Add(time.Minute)})
	if p, ok := c.get("tok"); !ok || p.Subject != "alice" {
		t.Fatalf("fresh token not cached: %+v %v", p, ok)
	}
	if _, ok := c.get("other"); ok {
		t.Fatal("unknown token found")
	}
	now = now.Add(time.Minute)
	if _, ok := c.get("tok"); ok {
		t.Fatal("expired token still served")
	}
}

func TestTokenCacheStaysBounded(t *testing.T) {
	now := time.Now()
	c := newTokenCache(100, func() time.Time { return now })
	for i := range 1000 {
		c.put(fmt.Sprint(i), Principal{Subject: "s", Expiry: now.Add(time.Hour)})
		if len(c.m) > 100 {
			t.Fatalf("cache grew to %d", len(c.m))
		}
	}
	if _, ok := c.get("999"); !ok {
		t.Fatal("the newest token was evicted")
	}
}
