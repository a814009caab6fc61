package config

import (
	"strings"
	"testing"
	"time"
)

type sample struct {
	Addr    string        `env:"T_ADDR" default:":8000"`
	Timeout time.Duration `env:"T_TIMEOUT" default:"5s"`
	Workers int           `env:"T_WORKERS" default:"4"`
	Debug   bool          `env:"T_DEBUG"`
	Token   string        `env:"T_TOKEN" secret:"true" required:"true" help:"the API token"`
	Peers   []string      `env:"T_PEERS"`
}

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func TestLoadDefaultsAndOverrides(t *testing.T) {
	var c sample
	err := Load(env(map[string]string{"T_TOKEN": "s3cret", "T_WORKERS": "8", "T_PEERS": "a, b,,c"}), &c)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8000" || c.Timeout != 5*time.Second || c.Workers != 8 || c.Token != "s3cret" {
		t.Fatalf("unexpected %+v", c)
	}
	if got := strings.Join(c.Peers, "|"); got != "a|b|c" {
		t.Fatalf("peers %q", got)
	}
	out := String(&c)
	if strings.Contains(out, "s3cret") || !strings.Contains(out, "T_TOKEN=*****") {
		t.Fatalf("secret not masked:\n%s", out)
	}
}

func TestLoadReportsEveryError(t *testing.T) {
	var c sample
	err := Load(env(map[string]string{"T_TIMEOUT": "soon", "T_WORKERS": "many"}), &c)
	if err == nil {
		t.Fatal("expected errors")
	}
	for _, want := range []string{"T_TIMEOUT", "duration", "T_WORKERS", "integer", "T_TOKEN is required: the API token"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
