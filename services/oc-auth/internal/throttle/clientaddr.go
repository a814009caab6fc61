// Package throttle slows down password guessing: it finds the client's
// address behind trusted reverse proxies, and counts failed password checks
// per user name and client address (see Limiter).
package throttle

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the reverse proxies trusted to name the client in
// X-Forwarded-For. The zero value trusts none: the client is the peer of
// the connection.
type Proxies struct {
	prefixes []netip.Prefix
}

// ParseProxies reads a list of IP addresses and CIDR ranges (such as
// 10.0.0.7 or 172.16.0.0/12); empty entries are skipped. The error names
// every bad entry.
func ParseProxies(entries []string) (Proxies, error) {
	var p Proxies
	var errs []error
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		var pfx netip.Prefix
		var err error
		if strings.Contains(e, "/") {
			pfx, err = netip.ParsePrefix(e)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(e); err == nil {
				pfx = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil || !pfx.IsValid() || strings.Contains(e, "%") {
			errs = append(errs, fmt.Errorf("%q is neither an IP address nor a CIDR range such as 172.16.0.0/12", e))
			continue
		}
		if pfx.Addr().Is4In6() {
			if pfx.Bits() < 96 {
				errs = append(errs, fmt.Errorf("%q mixes IPv4-mapped and IPv6 addresses: write the IPv4 range", e))
				continue
			}
			// ::ffff:10.0.0.0/104 means 10.0.0.0/8: addresses are compared unmapped.
			pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
		}
		if pfx.Bits() == 0 {
			errs = append(errs, fmt.Errorf("%q trusts every address, so any client could choose the address it is counted under: name the proxies' addresses or their network", e))
			continue
		}
		p.prefixes = append(p.prefixes, pfx.Masked())
	}
	return p, errors.Join(errs...)
}

// Trusted reports whether a is one of the proxies.
func (p Proxies) Trusted(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, pfx := range p.prefixes {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// String lists the trusted ranges.
func (p Proxies) String() string {
	s := make([]string, len(p.prefixes))
	for i, pfx := range p.prefixes {
		s[i] = pfx.String()
	}
	return strings.Join(s, ",")
}

// ClientAddr is the address of r's client: the connection's peer, unless
// that is a trusted proxy, in which case X-Forwarded-For is read from the
// right (the entry the proxy appended) past every further trusted proxy.
// The invalid Addr means the client is unknown (r.RemoteAddr unreadable).
func (p Proxies) ClientAddr(r *http.Request) netip.Addr {
	return p.Client(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
}

// Client is ClientAddr on a connection's remote address (host:port or a
// bare address) and the values of its X-Forwarded-For headers, in order.
func (p Proxies) Client(remoteAddr string, forwardedFor []string) netip.Addr {
	client := parseAddr(remoteAddr)
	if !client.IsValid() || !p.Trusted(client) {
		return client
	}
	// Several headers count as one list, in order (RFC 9110, 5.3).
	for i := len(forwardedFor) - 1; i >= 0; i-- {
		hops := strings.Split(forwardedFor[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			hop := parseAddr(strings.TrimSpace(hops[j]))
			if !hop.IsValid() {
				// Not written by a proxy we trust to write it well: the
				// last address we can vouch for is the client.
				return client
			}
			client = hop
			if !p.Trusted(hop) {
				return client
			}
		}
	}
	return client
}

// parseAddr reads an address, with or without a port ("1.2.3.4",
// "1.2.3.4:80", "[::1]:80", "::1"); IPv4-mapped addresses are unmapped and
// zones dropped.
func parseAddr(s string) netip.Addr {
	if len(s) > 64 {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		host, _, err2 := net.SplitHostPort(s)
		if err2 != nil {
			return netip.Addr{}
		}
		if a, err = netip.ParseAddr(host); err != nil {
			return netip.Addr{}
		}
	}
	return a.Unmap().WithZone("")
}

// key is what a client address is counted under: the address, and for
// IPv6 its /64, which one subscriber holds whole and can draw addresses
// from at will.
func key(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is6():
		return netip.PrefixFrom(a, 64).Masked().String()
	default:
		return a.String()
	}
}
