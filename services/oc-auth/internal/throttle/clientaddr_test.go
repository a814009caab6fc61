package throttle

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestClientAddr(t *testing.T) {
	traefik, err := ParseProxies([]string{"172.16.0.0/12", " 10.0.0.7 ", "", "2001:db8:ff::/48"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		proxies Proxies
		remote  string
		xff     []string
		want    string
	}{
		{"no proxy trusted: the header is ignored", Proxies{}, "172.18.0.5:41000", []string{"203.0.113.9"}, "172.18.0.5"},
		{"untrusted peer: the header is ignored", traefik, "198.51.100.7:5000", []string{"203.0.113.9"}, "198.51.100.7"},
		{"trusted proxy names the client", traefik, "172.18.0.5:41000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"a client's own header is skipped", traefik, "172.18.0.5:41000", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9"},
		{"a chain of trusted proxies", traefik, "10.0.0.7:80", []string{"203.0.113.9, 172.20.1.1", "10.0.0.7"}, "203.0.113.9"},
		{"every hop trusted: the leftmost", traefik, "10.0.0.7:80", []string{"172.20.1.1"}, "172.20.1.1"},
		{"trusted proxy without header", traefik, "172.18.0.5:41000", nil, "172.18.0.5"},
		{"garbage hop: the last trusted address", traefik, "172.18.0.5:41000", []string{"203.0.113.9, unknown"}, "172.18.0.5"},
		{"hop with a port", traefik, "172.18.0.5:41000", []string{"203.0.113.9:1234"}, "203.0.113.9"},
		{"IPv6 hop", traefik, "172.18.0.5:41000", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"IPv4-mapped peer", traefik, "[::ffff:172.18.0.5]:41000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"IPv6 proxy", traefik, "[2001:db8:ff:1::2]:8000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"unreadable peer", traefik, "pipe", []string{"203.0.113.9"}, "invalid IP"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/auth/login", nil)
			r.RemoteAddr = c.remote
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := c.proxies.ClientAddr(r).String(); got != c.want {
				t.Errorf("client %s, want %s", got, c.want)
			}
		})
	}
}

func TestParseProxies(t *testing.T) {
	p, err := ParseProxies([]string{"172.16.0.0/12", "10.0.0.7", "::ffff:192.168.0.0/112", "2001:db8::/32", "192.168.1.77/24"})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.String(); got != "172.16.0.0/12,10.0.0.7/32,192.168.0.0/16,2001:db8::/32,192.168.1.0/24" {
		t.Errorf("parsed %s", got)
	}
	_, err = ParseProxies([]string{"traefik", "0.0.0.0/0", "::/0", "10.0.0.0/33", "fe80::1%eth0", "::ffff:0:0/95", "::ffff:0.0.0.0/96"})
	for _, want := range []string{`"traefik" is neither`, `"0.0.0.0/0" trusts every address`, `"::/0" trusts every address`,
		`"10.0.0.0/33" is neither`, `"fe80::1%eth0" is neither`, `"::ffff:0:0/95" mixes`, `"::ffff:0.0.0.0/96" trusts every address`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
}

// FuzzClientAddr feeds untrusted X-Forwarded-For values and remote
// addresses, with any proxy list: no panic, and the answer is always the
// connection's peer or a hop of the header that a trusted address named.
func FuzzClientAddr(f *testing.F) {
	f.Add("172.16.0.0/12", "172.18.0.5:41000", "203.0.113.9")
	f.Add("172.16.0.0/12,10.0.0.7", "10.0.0.7:80", "1.2.3.4, 203.0.113.9, 172.20.1.1")
	f.Add("", "198.51.100.7:5000", "203.0.113.9")
	f.Add("2001:db8::/32", "[2001:db8::2]:443", "[2001:db8::1]:443, ::ffff:1.2.3.4")
	f.Add("10.0.0.0/8", "10.1.1.1:1", ",,, ,garbage,10.0.0.1")
	f.Add("::ffff:10.0.0.0/104", "[::ffff:10.0.0.1]:9", "fe80::1%eth0")
	f.Add("::ffff:0.0.0.0/96", "1.2.3.4:5", "6.7.8.9")
	f.Fuzz(func(t *testing.T, proxies, remote, xff string) {
		p, err := ParseProxies(strings.Split(proxies, ","))
		if err != nil {
			return
		}
		if again, err := ParseProxies(strings.Split(p.String(), ",")); err != nil || again.String() != p.String() {
			t.Fatalf("%q parses to %q, which parses to %q (%v)", proxies, p.String(), again.String(), err)
		}
		for _, pfx := range p.prefixes {
			if pfx.Bits() == 0 {
				t.Fatalf("%q trusts everyone", proxies)
			}
		}
		got := p.Client(remote, []string{xff})
		peer := parseAddr(remote)
		if got == peer {
			return
		}
		if !peer.IsValid() || !p.Trusted(peer) {
			t.Fatalf("peer %q is not trusted, yet the client is %s", remote, got)
		}
		hops := strings.Split(xff, ",")
		for i := len(hops) - 1; i >= 0; i-- {
			h := parseAddr(strings.TrimSpace(hops[i]))
			if h == got {
				return
			}
			if !h.IsValid() || !p.Trusted(h) {
				t.Fatalf("client %s is beyond the untrusted hop %q of %q", got, hops[i], xff)
			}
		}
		t.Fatalf("client %s is neither the peer %q nor in %q", got, remote, xff)
	})
}

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.9": "203.0.113.9", "2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
	} {
		if got := key(netip.MustParseAddr(in)); got != want {
			t.Errorf("key(%s) = %s, want %s", in, got, want)
		}
	}
	if key(netip.Addr{}) != "unknown" {
		t.Error("invalid address")
	}
}
