// Package lab builds and runs the emulated censored network: network
// namespaces joined by veth links (inside → r1 → r2 (censor) → r3 → net, and
// outside attached to net) and named after the lab so that several labs run
// at once, the emulated servers and resolvers as daemons inside those
// namespaces, the censor on r2, trust files and a state file that lets
// status, exec and down find everything again, even after a crash.
package lab

import (
	"fmt"
	"net/netip"

	"github.com/firewatch/firewatch/internal/addrclass"
)

// DefaultName is the name of a lab when none is given (`--name`).
const DefaultName = "fwlab"

// MaxNameLen is the longest lab name: interface names are NAME-r1-r2 and
// the kernel takes at most 15 characters.
const MaxNameLen = 9

// CheckName refuses a lab name that cannot prefix namespaces and
// interfaces: 1 to 9 lower-case letters and digits, starting with a letter.
func CheckName(name string) error {
	ok := name != "" && len(name) <= MaxNameLen && name[0] >= 'a' && name[0] <= 'z'
	for _, c := range name {
		ok = ok && (c >= 'a' && c <= 'z' || c >= '0' && c <= '9')
	}
	if !ok {
		return fmt.Errorf("lab name %q: want 1 to %d lower-case letters and digits, starting with a letter (it prefixes namespaces and interfaces such as %q, and the kernel takes at most 15 characters)", name, MaxNameLen, name+"-r1-r2")
	}
	return nil
}

// Names are the namespace and interface names of one lab, each prefixed
// with the lab's name, so that labs of different names run side by side
// (their addresses may repeat: each lab is its own set of namespaces).
type Names struct {
	Lab                                   string
	Inside, R1, R2, R3, Net, Outside      string // namespaces
	InsideIface                           string // the inside vantage's link (probe and ISP resolver)
	CensorInsideIface, CensorOutsideIface string // r2's interfaces (the censor's by default)
}

// NamesFor returns the names of the lab called lab.
func NamesFor(lab string) Names {
	return Names{
		Lab: lab, Inside: lab + "-inside", R1: lab + "-r1", R2: lab + "-r2", R3: lab + "-r3", Net: lab + "-net", Outside: lab + "-outside",
		InsideIface: lab + "-i-r1", CensorInsideIface: lab + "-r2-r1", CensorOutsideIface: lab + "-r2-r3",
	}
}

// Prefix is the prefix of every namespace and interface of the lab.
func (n Names) Prefix() string { return n.Lab + "-" }

// Censor is the namespace on which the censor runs unless the scenario's
// censor_hop names another router (RouterAt).
func (n Names) Censor() string { return n.R2 }

// Namespaces lists every namespace of the lab, from inside to outside.
func (n Names) Namespaces() []string {
	return []string{n.Inside, n.R1, n.R2, n.R3, n.Net, n.Outside}
}

// isRouter tells the namespaces that forward packets.
func (n Names) isRouter(ns string) bool { return ns == n.R1 || ns == n.R2 || ns == n.R3 || ns == n.Net }

// namespaceRoles are the suffixes of a lab's namespaces.
var namespaceRoles = []string{"inside", "r1", "r2", "r3", "net", "outside"}

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
func (n Names) Links() []Link {
	p := netip.MustParsePrefix
	i := n.Lab + "-"
	return []Link{
		{n.Inside, n.InsideIface, p("198.51.100.2/29"), n.R1, i + "r1-i", p("198.51.100.1/29"), "inside network"},
		{n.R1, i + "r1-r2", p("198.51.100.9/30"), n.R2, n.CensorInsideIface, p("198.51.100.10/30"), "r1-r2"},
		{n.R2, n.CensorOutsideIface, p("198.51.100.13/30"), n.R3, i + "r3-r2", p("198.51.100.14/30"), "r2-r3"},
		{n.R3, i + "r3-n", p("198.51.100.17/30"), n.Net, i + "n-r3", p("198.51.100.18/30"), "r3-internet"},
		{n.Net, i + "n-o", p("192.0.2.65/30"), n.Outside, i + "o-n", p("192.0.2.66/30"), "internet-outside"},
	}
}

// Router is one router hop of the path from the inside: where the censor
// can sit.
type Router struct {
	Hop                       int
	NS                        string
	InsideIface, OutsideIface string
}

// Routers are the path's routers, hop 1 (the inside's gateway, the ISP's
// first router) to hop 3.
func (n Names) Routers() []Router {
	i := n.Lab + "-"
	return []Router{
		{1, n.R1, i + "r1-i", i + "r1-r2"},
		{2, n.R2, n.CensorInsideIface, n.CensorOutsideIface},
		{3, n.R3, i + "r3-r2", i + "r3-n"},
	}
}

// RouterAt returns the router of a hop; any other hop gives hop 2's.
func (n Names) RouterAt(hop int) Router {
	rs := n.Routers()
	for _, r := range rs {
		if r.Hop == hop {
			return r
		}
	}
	return rs[1]
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
func (n Names) Routes() []Route {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	var rs []Route
	all := func(ns string, via netip.Addr) {
		for _, n := range addrclass.TestNet() {
			rs = append(rs, Route{ns, n, via})
		}
	}
	all(n.Inside, a("198.51.100.1"))
	all(n.R1, a("198.51.100.10"))
	all(n.R2, a("198.51.100.14"))
	rs = append(rs, Route{n.R2, p("198.51.100.0/29"), a("198.51.100.9")})
	all(n.R3, a("198.51.100.18"))
	rs = append(rs, Route{n.R3, p("198.51.100.0/29"), a("198.51.100.13")})
	rs = append(rs, Route{n.R3, p("198.51.100.8/30"), a("198.51.100.13")})
	rs = append(rs, Route{n.Net, p("198.51.100.0/24"), a("198.51.100.17")})
	all(n.Outside, a("192.0.2.65"))
	return rs
}

// LocalAddrs returns the extra /32 addresses configured on lo in each
// namespace: the internet's resolvers and every scenario host address. (The
// ISP resolver's address is a secondary address on the inside link.)
func (n Names) LocalAddrs(hostIPs []netip.Addr) map[string][]netip.Addr {
	m := map[string][]netip.Addr{
		n.Net: {PublicResolver, Authoritative},
	}
	m[n.Net] = append(m[n.Net], hostIPs...)
	return m
}

// resolvers maps each vantage namespace to its resolver.
func (n Names) resolvers() map[string]netip.Addr {
	return map[string]netip.Addr{n.Inside: ISPResolver, n.Outside: PublicResolver}
}

// Vantage returns the namespace of a vantage name.
func (n Names) Vantage(from string) (string, error) {
	switch from {
	case "", FromInside:
		return n.Inside, nil
	case FromOutside:
		return n.Outside, nil
	}
	return "", fmt.Errorf("unknown vantage %q: want %s or %s", from, FromInside, FromOutside)
}
