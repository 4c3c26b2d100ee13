// Package lab builds and runs the emulated censored network: network
// namespaces joined by veth links (inside → r1 → r2 (censor) → r3 → net, and
// outside attached to net), the emulated servers and resolvers as daemons
// inside those namespaces, the censor on r2, trust files and a state file
// that lets status, exec and down find everything again, even after a crash.
package lab

import (
	"net/netip"

	"github.com/firewatch/firewatch/internal/addrclass"
)

// Prefix is the name prefix of every namespace and interface the lab creates;
// down removes exactly the things that carry it.
const Prefix = "fwlab-"

// Namespace names.
const (
	NSInside  = "fwlab-inside"
	NSR1      = "fwlab-r1"
	NSR2      = "fwlab-r2"
	NSR3      = "fwlab-r3"
	NSNet     = "fwlab-net"
	NSOutside = "fwlab-outside"
)

// CensorNS is the namespace (router hop) on which the censor runs unless
// the scenario's censor_hop names another (RouterAt).
const CensorNS = NSR2

// Namespaces lists every namespace of the lab, from inside to outside.
var Namespaces = []string{NSInside, NSR1, NSR2, NSR3, NSNet, NSOutside}

// Well-known lab addresses. Links use 198.51.100.0/24 split in /29 and /30,
// infrastructure uses 192.0.2.0/24, scenario hosts use 203.0.113.0/24.
var (
	// InsidePrefix is the censored network: the probe and the ISP resolver.
	InsidePrefix = netip.MustParsePrefix("198.51.100.0/29")
	// InsideGateway is r1's address on the inside network.
	InsideGateway = netip.MustParseAddr("198.51.100.1")
	// ProbeAddr is the inside host's (the probe's) address.
	ProbeAddr = netip.MustParseAddr("198.51.100.2")
	// ISPResolver is the inside recursive resolver; its upstream queries cross the censor.
	ISPResolver = netip.MustParseAddr("198.51.100.3")
	// PublicResolver is the internet's public recursive resolver (in fwlab-net).
	PublicResolver = netip.MustParseAddr("192.0.2.53")
	// Authoritative is the authoritative DNS server for every scenario name (in fwlab-net).
	Authoritative = netip.MustParseAddr("192.0.2.54")
	// OutsidePrefix is the uncensored vantage's link to the internet.
	OutsidePrefix = netip.MustParsePrefix("192.0.2.64/30")
	// OutsideGateway is fwlab-net's address on the outside link.
	OutsideGateway = netip.MustParseAddr("192.0.2.65")
	// OutsideAddr is the outside vantage's address (where the control listens).
	OutsideAddr = netip.MustParseAddr("192.0.2.66")
	// ControlPort is the control's TCP port on OutsideAddr.
	ControlPort = 8080
)

// Routable is the value of FIREWATCH_ROUTABLE for programs run in the lab:
// the TEST-NET ranges the lab uses count as routable there.
var Routable = addrclass.TestNetList(",")

// Link is one veth pair between two namespaces, with the address (in
// CIDR notation) of each end.
type Link struct {
	ANS, AIf    string
	AAddr       netip.Prefix
	BNS, BIf    string
	BAddr       netip.Prefix
	Description string
}

// Route is one static route in a namespace.
type Route struct {
	NS  string
	Dst netip.Prefix
	Via netip.Addr
}

// Links returns the veth links of the lab, inside to outside.
func Links() []Link {
	p := netip.MustParsePrefix
	return []Link{
		{NSInside, "fwlab-i-r1", p("198.51.100.2/29"), NSR1, "fwlab-r1-i", p("198.51.100.1/29"), "inside network"},
		{NSR1, "fwlab-r1-r2", p("198.51.100.9/30"), NSR2, "fwlab-r2-r1", p("198.51.100.10/30"), "r1-r2"},
		{NSR2, "fwlab-r2-r3", p("198.51.100.13/30"), NSR3, "fwlab-r3-r2", p("198.51.100.14/30"), "r2-r3"},
		{NSR3, "fwlab-r3-n", p("198.51.100.17/30"), NSNet, "fwlab-n-r3", p("198.51.100.18/30"), "r3-internet"},
		{NSNet, "fwlab-n-o", p("192.0.2.65/30"), NSOutside, "fwlab-o-n", p("192.0.2.66/30"), "internet-outside"},
	}
}

// Censor interfaces on r2: towards the inside and towards the internet.
const (
	CensorInsideIface  = "fwlab-r2-r1"
	CensorOutsideIface = "fwlab-r2-r3"
)

// Router is one router hop of the path from the inside: where the censor
// can sit.
type Router struct {
	Hop                       int
	NS                        string
	InsideIface, OutsideIface string
}

// Routers are the path's routers, hop 1 (the inside's gateway, the ISP's
// first router) to hop 3.
var Routers = []Router{
	{1, NSR1, "fwlab-r1-i", "fwlab-r1-r2"},
	{2, NSR2, CensorInsideIface, CensorOutsideIface},
	{3, NSR3, "fwlab-r3-r2", "fwlab-r3-n"},
}

// RouterAt returns the router of a hop; any other hop gives hop 2's.
func RouterAt(hop int) Router {
	for _, r := range Routers {
		if r.Hop == hop {
			return r
		}
	}
	return Routers[1]
}

// Hops are the router addresses a packet from the inside crosses on its way
// to the internet, in order (the addresses that answer a TTL-limited probe).
var Hops = []netip.Addr{
	netip.MustParseAddr("198.51.100.1"),
	netip.MustParseAddr("198.51.100.10"),
	netip.MustParseAddr("198.51.100.14"),
}

// Routes returns the static routes of the lab. Only the TEST-NET ranges are
// routed; there is no default route anywhere, so nothing can leave the lab.
func Routes() []Route {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	var rs []Route
	all := func(ns string, via netip.Addr) {
		for _, n := range addrclass.TestNet() {
			rs = append(rs, Route{ns, n, via})
		}
	}
	all(NSInside, a("198.51.100.1"))
	all(NSR1, a("198.51.100.10"))
	all(NSR2, a("198.51.100.14"))
	rs = append(rs, Route{NSR2, p("198.51.100.0/29"), a("198.51.100.9")})
	all(NSR3, a("198.51.100.18"))
	rs = append(rs, Route{NSR3, p("198.51.100.0/29"), a("198.51.100.13")})
	rs = append(rs, Route{NSR3, p("198.51.100.8/30"), a("198.51.100.13")})
	rs = append(rs, Route{NSNet, p("198.51.100.0/24"), a("198.51.100.17")})
	all(NSOutside, a("192.0.2.65"))
	return rs
}

// LocalAddrs returns the extra /32 addresses configured on lo in each
// namespace: the internet's resolvers and every scenario host address. (The
// ISP resolver's address is a secondary address on the inside link.)
func LocalAddrs(hostIPs []netip.Addr) map[string][]netip.Addr {
	m := map[string][]netip.Addr{
		NSNet: {PublicResolver, Authoritative},
	}
	m[NSNet] = append(m[NSNet], hostIPs...)
	return m
}
