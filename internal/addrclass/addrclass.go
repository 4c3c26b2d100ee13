// Package addrclass is the one place that says what kind of address an IP
// is: IsTestNet answers "may the lab use it?" (the documentation ranges) and
// IsBogon answers "may a public name resolve to it, and may firewatch connect
// to it on a target's behalf?" (no for every range of the IANA special-purpose
// registries and multicast, also when spelled as IPv6 around an IPv4 address).
package addrclass

import (
	"net/netip"
	"strings"
)

// Embedding says where an IPv6 range carries an IPv4 address.
type Embedding int

// Embeddings of an IPv4 address in an IPv6 one.
const (
	NoIPv4    Embedding = iota
	Low32               // the last 32 bits: IPv4-mapped, IPv4-compatible, NAT64 (RFC 6052 /96)
	SixToFour           // bits 16–47 (RFC 3056)
	Teredo              // the server in bits 32–63, the client inverted in the last 32 (RFC 4380)
)

// Range is one entry of the address table.
type Range struct {
	Prefix netip.Prefix
	Name   string // the registry's name
	RFC    string
	// Embeds is set on the ranges where the embedded IPv4 address, not the
	// range, decides: such an address is a bogon exactly when one of its IPv4
	// addresses is.
	Embeds Embedding
}

func r(prefix, name, rfc string, e ...Embedding) Range {
	x := Range{Prefix: netip.MustParsePrefix(prefix), Name: name, RFC: rfc}
	if len(e) > 0 {
		x.Embeds = e[0]
	}
	return x
}

// Table lists every range of the IANA IPv4 and IPv6 Special-Purpose Address
// Registries (RFC 6890; as of 2025), the multicast ranges and the deprecated
// IPv4-compatible IPv6 addresses. The most specific range containing an
// address classifies it.
var Table = []Range{
	r("0.0.0.0/8", `"This network"`, "RFC 791"),
	r("0.0.0.0/32", `"This host on this network"`, "RFC 1122"),
	r("10.0.0.0/8", "Private-Use", "RFC 1918"),
	r("100.64.0.0/10", "Shared Address Space", "RFC 6598"),
	r("127.0.0.0/8", "Loopback", "RFC 1122"),
	r("169.254.0.0/16", "Link Local", "RFC 3927"),
	r("172.16.0.0/12", "Private-Use", "RFC 1918"),
	r("192.0.0.0/24", "IETF Protocol Assignments", "RFC 6890"),
	r("192.0.0.0/29", "IPv4 Service Continuity Prefix", "RFC 7335"),
	r("192.0.0.8/32", "IPv4 dummy address", "RFC 7600"),
	r("192.0.0.9/32", "Port Control Protocol Anycast", "RFC 7723"),
	r("192.0.0.10/32", "Traversal Using Relays around NAT Anycast", "RFC 8155"),
	r("192.0.0.170/32", "NAT64/DNS64 Discovery", "RFC 8880"),
	r("192.0.0.171/32", "NAT64/DNS64 Discovery", "RFC 8880"),
	r("192.0.2.0/24", "Documentation (TEST-NET-1)", "RFC 5737"),
	r("192.31.196.0/24", "AS112-v4", "RFC 7535"),
	r("192.52.193.0/24", "AMT", "RFC 7450"),
	r("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "RFC 7526"),
	r("192.88.99.2/32", "6a44-relay anycast address", "RFC 6751"),
	r("192.168.0.0/16", "Private-Use", "RFC 1918"),
	r("192.175.48.0/24", "Direct Delegation AS112 Service", "RFC 7534"),
	r("198.18.0.0/15", "Benchmarking", "RFC 2544"),
	r("198.51.100.0/24", "Documentation (TEST-NET-2)", "RFC 5737"),
	r("203.0.113.0/24", "Documentation (TEST-NET-3)", "RFC 5737"),
	r("224.0.0.0/4", "Multicast", "RFC 5771"),
	r("240.0.0.0/4", "Reserved", "RFC 1112"),
	r("255.255.255.255/32", "Limited Broadcast", "RFC 919"),

	r("::/96", "IPv4-compatible Address (deprecated)", "RFC 4291", Low32),
	r("::/128", "Unspecified Address", "RFC 4291"),
	r("::1/128", "Loopback Address", "RFC 4291"),
	r("::ffff:0:0/96", "IPv4-mapped Address", "RFC 4291", Low32),
	r("64:ff9b::/96", "IPv4-IPv6 Translation", "RFC 6052", Low32),
	r("64:ff9b:1::/48", "IPv4-IPv6 Translation (local use)", "RFC 8215"),
	r("100::/64", "Discard-Only Address Block", "RFC 6666"),
	r("100:0:0:1::/64", "Dummy IPv6 Prefix", "RFC 9780"),
	r("2001::/23", "IETF Protocol Assignments", "RFC 2928"),
	r("2001::/32", "TEREDO", "RFC 4380", Teredo),
	r("2001:1::1/128", "Port Control Protocol Anycast", "RFC 7723"),
	r("2001:1::2/128", "Traversal Using Relays around NAT Anycast", "RFC 8155"),
	r("2001:1::3/128", "DNS-SD Service Registration Protocol Anycast", "RFC 9665"),
	r("2001:2::/48", "Benchmarking", "RFC 5180"),
	r("2001:3::/32", "AMT", "RFC 7450"),
	r("2001:4:112::/48", "AS112-v6", "RFC 7535"),
	r("2001:10::/28", "Deprecated (previously ORCHID)", "RFC 4843"),
	r("2001:20::/28", "ORCHIDv2", "RFC 7343"),
	r("2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "RFC 9374"),
	r("2001:db8::/32", "Documentation", "RFC 3849"),
	r("2002::/16", "6to4", "RFC 3056", SixToFour),
	r("2620:4f:8000::/48", "Direct Delegation AS112 Service", "RFC 7534"),
	r("3fff::/20", "Documentation", "RFC 9637"),
	r("5f00::/16", "Segment Routing (SRv6) SIDs", "RFC 9602"),
	r("fc00::/7", "Unique-Local", "RFC 4193"),
	r("fe80::/10", "Link-Local Unicast", "RFC 4291"),
	r("ff00::/8", "Multicast", "RFC 4291"),
}

// testNet are the documentation ranges of RFC 5737, read from Table.
var testNet = func() []netip.Prefix {
	var out []netip.Prefix
	for _, x := range Table {
		if strings.HasPrefix(x.Name, "Documentation (TEST-NET-") {
			out = append(out, x.Prefix)
		}
	}
	return out
}()

// TestNet returns the three TEST-NET ranges (RFC 5737), the only addresses
// the lab uses.
func TestNet() []netip.Prefix { return append([]netip.Prefix(nil), testNet...) }

// TestNetList returns the TEST-NET ranges joined by sep, for messages and
// for FIREWATCH_ROUTABLE.
func TestNetList(sep string) string {
	s := make([]string, len(testNet))
	for i, p := range testNet {
		s[i] = p.String()
	}
	return strings.Join(s, sep)
}

// IsTestNet reports whether a (or the IPv4 address it maps) is in TEST-NET:
// may the lab use it?
func IsTestNet(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range testNet {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Lookup returns the most specific range of Table holding a. An address
// with an IPv6 zone is looked up without it.
func Lookup(a netip.Addr) (Range, bool) {
	a = a.WithZone("")
	best, found := Range{}, false
	for _, x := range Table {
		if x.Prefix.Contains(a) && (!found || x.Prefix.Bits() > best.Prefix.Bits()) {
			best, found = x, true
		}
	}
	return best, found
}

// IsBogon reports whether a is no address of a public host: invalid, zoned
// (link-scoped), in a range of Table, or an IPv6 spelling of an IPv4 bogon
// (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo). A DNS answer naming one
// is recorded as a bogon; the probe and the control never connect to one on a
// target's behalf.
func IsBogon(a netip.Addr) bool {
	if !a.IsValid() || a.Zone() != "" {
		return true
	}
	x, ok := Lookup(a)
	if !ok {
		return false
	}
	if x.Embeds == NoIPv4 {
		return true
	}
	for _, v4 := range embedded(a, x.Embeds) {
		if IsBogon(v4) {
			return true
		}
	}
	return false
}

// Embedded returns the IPv4 addresses a carries by the rules of its range
// (none for an IPv4 address or an IPv6 one of a range without IPv4 inside).
func Embedded(a netip.Addr) []netip.Addr {
	x, ok := Lookup(a)
	if !ok || !a.Is6() {
		return nil
	}
	return embedded(a, x.Embeds)
}

func embedded(a netip.Addr, e Embedding) []netip.Addr {
	b := a.As16()
	v4 := func(i int, invert bool) netip.Addr {
		q := [4]byte(b[i : i+4])
		if invert {
			for j := range q {
				q[j] ^= 0xff
			}
		}
		return netip.AddrFrom4(q)
	}
	switch e {
	case Low32:
		return []netip.Addr{v4(12, false)}
	case SixToFour:
		return []netip.Addr{v4(2, false)}
	case Teredo:
		return []netip.Addr{v4(4, false), v4(12, true)}
	}
	return nil
}
