package addrclass

import (
	"net/netip"
	"testing"
)

// TestRegistries walks the IANA IPv4 and IPv6 special-purpose registries
// (and the multicast ranges): an address inside each range is a bogon and
// classified by that range; where the range embeds an IPv4 address, the
// embedded address decides.
func TestRegistries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr  string
		bogon bool
		name  string // the range Lookup finds
	}{
		// IPv4 Special-Purpose Address Registry.
		{"0.1.2.3", true, `"This network"`},
		{"0.0.0.0", true, `"This host on this network"`},
		{"10.20.30.40", true, "Private-Use"},
		{"100.64.0.1", true, "Shared Address Space"},
		{"100.127.255.254", true, "Shared Address Space"},
		{"127.0.0.1", true, "Loopback"},
		{"127.255.255.255", true, "Loopback"},
		{"169.254.169.254", true, "Link Local"},
		{"172.16.0.1", true, "Private-Use"},
		{"172.31.255.255", true, "Private-Use"},
		{"192.0.0.100", true, "IETF Protocol Assignments"},
		{"192.0.0.1", true, "IPv4 Service Continuity Prefix"},
		{"192.0.0.8", true, "IPv4 dummy address"},
		{"192.0.0.9", true, "Port Control Protocol Anycast"},
		{"192.0.0.10", true, "Traversal Using Relays around NAT Anycast"},
		{"192.0.0.170", true, "NAT64/DNS64 Discovery"},
		{"192.0.0.171", true, "NAT64/DNS64 Discovery"},
		{"192.0.2.1", true, "Documentation (TEST-NET-1)"},
		{"192.31.196.1", true, "AS112-v4"},
		{"192.52.193.1", true, "AMT"},
		{"192.88.99.1", true, "Deprecated (6to4 Relay Anycast)"},
		{"192.88.99.2", true, "6a44-relay anycast address"},
		{"192.168.1.1", true, "Private-Use"},
		{"192.175.48.1", true, "Direct Delegation AS112 Service"},
		{"198.18.0.1", true, "Benchmarking"},
		{"198.19.255.255", true, "Benchmarking"},
		{"198.51.100.7", true, "Documentation (TEST-NET-2)"},
		{"203.0.113.9", true, "Documentation (TEST-NET-3)"},
		{"224.0.0.251", true, "Multicast"},
		{"239.255.255.250", true, "Multicast"},
		{"240.0.0.1", true, "Reserved"},
		{"255.255.255.255", true, "Limited Broadcast"},
		// IPv6 Special-Purpose Address Registry.
		{"::1", true, "Loopback Address"},
		{"::", true, "Unspecified Address"},
		{"::ffff:10.0.0.1", true, "IPv4-mapped Address"},
		{"64:ff9b::10.0.0.1", true, "IPv4-IPv6 Translation"},
		{"64:ff9b:1::8.8.8.8", true, "IPv4-IPv6 Translation (local use)"},
		{"100::1", true, "Discard-Only Address Block"},
		{"100:0:0:1::1", true, "Dummy IPv6 Prefix"},
		{"2001:100::1", true, "IETF Protocol Assignments"},
		{"2001:1::1", true, "Port Control Protocol Anycast"},
		{"2001:1::2", true, "Traversal Using Relays around NAT Anycast"},
		{"2001:1::3", true, "DNS-SD Service Registration Protocol Anycast"},
		{"2001:2::1", true, "Benchmarking"},
		{"2001:3::1", true, "AMT"},
		{"2001:4:112::1", true, "AS112-v6"},
		{"2001:10::1", true, "Deprecated (previously ORCHID)"},
		{"2001:20::1", true, "ORCHIDv2"},
		{"2001:30::1", true, "Drone Remote ID Protocol Entity Tags (DETs) Prefix"},
		{"2001:db8::1", true, "Documentation"},
		{"2620:4f:8000::1", true, "Direct Delegation AS112 Service"},
		{"3fff::1", true, "Documentation"},
		{"5f00::1", true, "Segment Routing (SRv6) SIDs"},
		{"fc00::1", true, "Unique-Local"},
		{"fd12:3456::1", true, "Unique-Local"},
		{"fe80::1", true, "Link-Local Unicast"},
		{"ff02::1", true, "Multicast"},
		// IPv6 spellings of IPv4 addresses (issue 14: SSRF to loopback).
		{"::127.0.0.1", true, "IPv4-compatible Address (deprecated)"},
		{"::ffff:127.0.0.1", true, "IPv4-mapped Address"},
		{"64:ff9b::7f00:1", true, "IPv4-IPv6 Translation"},
		{"64:ff9b::169.254.169.254", true, "IPv4-IPv6 Translation"},
		{"2002:7f00:1::", true, "6to4"},
		{"2002:a00:1::1", true, "6to4"},
		{"2001:0:7f00:1::1", true, "TEREDO"},              // server 127.0.0.1
		{"2001:0:808:808::80ff:fffe", true, "TEREDO"},     // client 127.0.0.1 (inverted)
		{"2001:0:808:808:0:0:f7f7:f7f7", false, "TEREDO"}, // server and client 8.8.8.8
		{"::8.8.8.8", false, "IPv4-compatible Address (deprecated)"},
		{"::ffff:8.8.8.8", false, "IPv4-mapped Address"},
		{"64:ff9b::8.8.8.8", false, "IPv4-IPv6 Translation"},
		{"2002:808:808::1", false, "6to4"},
		// Public addresses: in no range.
		{"8.8.8.8", false, ""},
		{"1.1.1.1", false, ""},
		{"100.128.0.1", false, ""},
		{"172.32.0.1", false, ""},
		{"192.0.3.1", false, ""},
		{"223.255.255.255", false, ""},
		{"2001:200::1", false, ""},
		{"2001:4860:4860::8888", false, ""},
		{"2606:4700:4700::1111", false, ""},
	}
	for _, tc := range tests {
		a := netip.MustParseAddr(tc.addr)
		if got := IsBogon(a); got != tc.bogon {
			t.Errorf("IsBogon(%s) = %v, want %v", tc.addr, got, tc.bogon)
		}
		x, ok := Lookup(a)
		if got := x.Name; got != tc.name || ok != (tc.name != "") {
			t.Errorf("Lookup(%s) = %q, want %q", tc.addr, got, tc.name)
		}
	}
}

// TestEveryRangeRefused checks both ends of every range of the table: an
// address of a range is always a bogon (an embedding range's first and last
// addresses carry 0.0.0.0 and 255.255.255.255).
func TestEveryRangeRefused(t *testing.T) {
	t.Parallel()
	for _, x := range Table {
		if x.Prefix != x.Prefix.Masked() {
			t.Errorf("%v is not a masked prefix", x.Prefix)
		}
		first := x.Prefix.Addr()
		b := first.AsSlice()
		for i := x.Prefix.Bits(); i < len(b)*8; i++ {
			b[i/8] |= 1 << (7 - i%8)
		}
		last, _ := netip.AddrFromSlice(b)
		for _, a := range []netip.Addr{first, last} {
			if !IsBogon(a) {
				t.Errorf("%v (in %v %s) is not a bogon", a, x.Prefix, x.Name)
			}
		}
	}
}

func TestZonedAndInvalid(t *testing.T) {
	t.Parallel()
	for _, a := range []netip.Addr{{}, netip.MustParseAddr("fe80::1%eth0"), netip.MustParseAddr("2606:4700::1%eth0")} {
		if !IsBogon(a) {
			t.Errorf("IsBogon(%v) = false, want true", a)
		}
	}
}

func TestTestNet(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"192.0.2.1": true, "198.51.100.254": true, "203.0.113.9": true, "::ffff:203.0.113.9": true,
		"192.0.3.1": false, "10.0.0.1": false, "2001:db8::1": false,
	} {
		if got := IsTestNet(netip.MustParseAddr(s)); got != want {
			t.Errorf("IsTestNet(%s) = %v, want %v", s, got, want)
		}
	}
	if got, want := TestNetList(","), "192.0.2.0/24,198.51.100.0/24,203.0.113.0/24"; got != want {
		t.Errorf("TestNetList = %q, want %q", got, want)
	}
	for _, p := range TestNet() {
		if !IsBogon(p.Addr()) {
			t.Errorf("TEST-NET %v is not a bogon outside the lab", p)
		}
	}
}

func TestEmbedded(t *testing.T) {
	t.Parallel()
	for s, want := range map[string][]string{
		"2001:0:808:808::80ff:fffe": {"8.8.8.8", "127.0.0.1"},
		"2002:c000:201::":           {"192.0.2.1"},
		"64:ff9b::1.2.3.4":          {"1.2.3.4"},
		"8.8.8.8":                   nil,
		"2606:4700::1":              nil,
	} {
		got := Embedded(netip.MustParseAddr(s))
		if len(got) != len(want) {
			t.Errorf("Embedded(%s) = %v, want %v", s, got, want)
			continue
		}
		for i := range got {
			if got[i].String() != want[i] {
				t.Errorf("Embedded(%s) = %v, want %v", s, got, want)
			}
		}
	}
}

func FuzzIsBogon(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::127.0.0.1", "2002:7f00:1::", "2001:0:808:808::80ff:fffe", "8.8.8.8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return
		}
		// An IPv6 spelling is never less refused than the IPv4 it carries.
		if a.Is4() && IsBogon(a) {
			b := a.As4()
			for _, v6 := range []netip.Addr{netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: b[0], 13: b[1], 14: b[2], 15: b[3]}),
				netip.AddrFrom16([16]byte{0: 0x20, 1: 0x02, 2: b[0], 3: b[1], 4: b[2], 5: b[3]}),
				netip.AddrFrom16([16]byte{1: 0x64, 2: 0xff, 3: 0x9b, 12: b[0], 13: b[1], 14: b[2], 15: b[3]})} {
				if !IsBogon(v6) {
					t.Errorf("%v is a bogon but %v is not", a, v6)
				}
			}
		}
	})
}
