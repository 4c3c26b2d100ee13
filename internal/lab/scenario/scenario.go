// Package scenario reads the lab's scenario files: the emulated internet's
// hosts, the censor's rules and the verdicts a scenario expects. Every error
// names the file, the line and the key that was wrong.
package scenario

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Services lists every service an emulated host can run.
var Services = []string{"http", "https", "imap", "imaps", "smtp", "submission", "smtps", "pop3", "pop3s", "dns", DNSOpen}

// DNSOpen is the service of an open resolver inside the censored network: a
// recursive resolver behind the censor that answers anyone, so its answers
// are poisoned as the ISP resolver's are. Such a host has an address of
// OpenResolverAddrs and no other service.
const DNSOpen = "dns-open"

// OpenResolverAddrs are the addresses a dns-open host can take: the free
// addresses of the lab's inside network (198.51.100.0/29, whose .1 is the
// gateway, .2 the probe and .3 the ISP resolver).
var OpenResolverAddrs = []netip.Addr{
	netip.MustParseAddr("198.51.100.4"),
	netip.MustParseAddr("198.51.100.5"),
	netip.MustParseAddr("198.51.100.6"),
}

// Scenario is one lab configuration.
type Scenario struct {
	Name        string
	Description string
	Network     *Network // the inside network's identity; nil when not given
	Hosts       []Host
	// Ghosts are names that no host serves and that do not exist (the
	// authoritative DNS answers NXDOMAIN for them and the names below
	// them); a dns-inject rule may censor them, as real censors' lists do.
	Ghosts    []string `json:",omitempty"`
	Censor    []Rule
	Expect    []Expect
	ExpectDNS *ExpectDNS `json:",omitempty"` // what a DNS scan from outside must find
	// Seed seeds the censor's random choices (rules with probability) when
	// the command does not give one; 0 when the scenario does not say.
	Seed int64
	// ResolverDelay, when positive, is how late the ISP resolver (the
	// inside's system resolver) answers every query: a slow resolver, not
	// censorship. 0: the lab's default (lab.ResolverDelay).
	ResolverDelay time.Duration `json:",omitempty"`
	// CensorHop is the router hop the censor sits on (MinHop..MaxHop;
	// DefaultCensorHop when the scenario does not say).
	CensorHop int
	// SilentHops are routers that send no ICMP time exceeded.
	SilentHops []int
	// ExpectTrace and ExpectKeywords are what `firewatch trace` and
	// `firewatch keywords isolate` must find (path.go).
	ExpectTrace    []ExpectTrace
	ExpectKeywords []ExpectKeywords
	// ControlDown (`control: down`) says the control does not answer: the
	// lab runs none, and programs inside still get its URL.
	ControlDown bool `json:",omitempty"`
}

// MaxResolverDelay bounds resolver_delay: a probe's step times out at 10 s.
const MaxResolverDelay = 5 * time.Second

// Network describes the inside (censored) network as a probe there would report it.
type Network struct {
	Country string // ISO 3166 alpha-2, e.g. "CN"
	ASN     string // e.g. "AS4134"
	Name    string
}

// Host is one emulated server of the lab's internet.
type Host struct {
	Names    []string // lower case, no trailing dot; the first is the primary name
	IP       netip.Addr
	Services []string
	Pages    map[string]Page // by path; "/" defaults to a small page naming the host
	Inside   *InsideBehavior // what the host serves to inside clients; nil: same as to everyone
	// Certificate is the fault of the host's own certificate ("expired",
	// "wrong-name", "untrusted"; pki.Faults), seen from everywhere; "" for
	// a valid one.
	Certificate string `json:",omitempty"`
	// ControlUnreachable (`control: unreachable`) says the outside vantage,
	// and so the control, cannot reach the host: a fault of the outside's
	// path, not censorship (the inside reaches it).
	ControlUnreachable bool `json:",omitempty"`
	Line               int  // line of the host in its file
}

// InsideBehavior is how a host treats clients from the inside network.
type InsideBehavior struct {
	Redirect string          // when set, every request is answered with a 302 to this URL
	Pages    map[string]Page // pages replacing (or adding to) Host.Pages for inside clients
	// IP, when valid, is the address the authoritative DNS gives inside
	// clients (queries from the inside network, e.g. its ISP resolver) for
	// the host's names; the host serves the same services, pages and
	// certificate there too: a CDN's edge near the inside.
	IP netip.Addr
}

// OpenResolver tells a dns-open host: an open resolver inside the censored
// network rather than a server of the internet.
func (h *Host) OpenResolver() bool { return slices.Contains(h.Services, DNSOpen) }

// IPs returns the host's addresses: its own, then its inside (edge) address if any.
func (h *Host) IPs() []netip.Addr {
	if h.Inside != nil && h.Inside.IP.IsValid() {
		return []netip.Addr{h.IP, h.Inside.IP}
	}
	return []netip.Addr{h.IP}
}

// Page is one resource of a host: an HTML page (Title, Body), a file of
// deterministic bytes derived from Seed when Size is set (see FileBytes), or
// a redirect to another URL when Redirect is set.
type Page struct {
	Title  string
	Body   string
	Size   int64
	Seed   string
	Status int // HTTP status; 0 means 200 (302 for a redirect)
	// Redirect, when set, is the http(s) URL the page redirects to, for
	// every client (a chain across hosts is one such page per hop).
	Redirect string `json:",omitempty"`
}

// RedirectStatuses are the statuses a redirect page may answer with.
var RedirectStatuses = []int{301, 302, 303, 307, 308}

// RedirectStatus is the status a redirect page answers with: Status, or 302.
func (p Page) RedirectStatus() int {
	if p.Status == 0 {
		return 302
	}
	return p.Status
}

// IsFile reports whether the page is a file of generated bytes.
func (p Page) IsFile() bool { return p.Size > 0 }

// Rule is one censor rule. Exactly one of the kind-specific fields is set,
// the one Kind names; each kind's type, YAML keys and validation live in its
// file rule_<kind>.go.
type Rule struct {
	Kind          string
	DNSInject     *DNSInject
	Drop          *Drop
	Reset         *Reset
	TLSMITM       *TLSMITM
	HTTPRedirect  *HTTPRedirect
	HTTPBlockpage *HTTPBlockpage
	Throttle      *Throttle
	STARTTLSStrip *STARTTLSStrip
	QUICBlock     *QUICBlock
	Probability   *float64 // chance (0..1) that the rule applies to a connection or query; nil means always
	Line          int      // line of the rule in its file

	// KeywordDrop: rule_keyword_drop.go.
	KeywordDrop *KeywordDrop `json:",omitempty"`
	// DNSTCP: rule_dns_tcp.go.
	DNSTCP *DNSTCP `json:",omitempty"`
	// HTTPProxy: rule_http_proxy.go.
	HTTPProxy *HTTPProxy `json:",omitempty"`
}

// P returns the rule's probability, 1 when none is given.
func (r Rule) P() float64 {
	if r.Probability == nil {
		return 1
	}
	return *r.Probability
}

// Expect is one expected verdict, read by `lab verify`.
type Expect struct {
	Target  string
	Status  string
	Methods []string
	// Resolver, when set, is the DNS resolver the probe uses for this target
	// ("udp://IP:PORT", "tcp://IP:PORT" or "https://..."), e.g. an address
	// that runs no DNS server, to see injection; "" means the system's.
	Resolver string
	Line     int
}

// HostByName returns the host serving name (exact match, any case).
func (s *Scenario) HostByName(name string) (*Host, bool) {
	name = normName(name)
	for i := range s.Hosts {
		for _, n := range s.Hosts[i].Names {
			if n == name {
				return &s.Hosts[i], true
			}
		}
	}
	return nil, false
}

// HostByIP returns the host at ip.
func (s *Scenario) HostByIP(ip netip.Addr) (*Host, bool) {
	for i := range s.Hosts {
		for _, a := range s.Hosts[i].IPs() {
			if a == ip.Unmap() {
				return &s.Hosts[i], true
			}
		}
	}
	return nil, false
}

// RogueTrusted reports whether some tls-mitm rule asks the inside vantage to trust the rogue CA.
func (s *Scenario) RogueTrusted() bool {
	for _, r := range s.Censor {
		if r.TLSMITM != nil && r.TLSMITM.Trusted() {
			return true
		}
	}
	return false
}

// MatchesAny reports whether qname equals one of names or is a subdomain of one.
func MatchesAny(names []string, qname string) bool {
	q := normName(qname)
	for _, n := range names {
		if q == n || (len(q) > len(n) && strings.HasSuffix(q, n) && q[len(q)-len(n)-1] == '.') {
			return true
		}
	}
	return false
}

func normName(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}
