package services

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/firewatch/firewatch/internal/lab/scenario"
)

// DNSTTL is the TTL of the lab's authoritative answers.
const DNSTTL = 60

// Authority answers authoritatively for every scenario name: A records for
// known names, NOERROR with no data for other types of a known name, and
// NXDOMAIN for everything else. Delay holds each answer back, so that an
// answer injected on the path reliably arrives first. Queries from Inside get
// a host's inside (edge) address when it has one.
type Authority struct {
	names  map[string][]netip.Addr
	inside map[string][]netip.Addr // names whose hosts have an inside address
	Delay  time.Duration
	// Inside are the prefixes whose queries get the inside addresses.
	Inside []netip.Prefix
}

// NewAuthority builds the zone of every host's names.
func NewAuthority(hosts []scenario.Host, delay time.Duration) *Authority {
	a := &Authority{names: map[string][]netip.Addr{}, inside: map[string][]netip.Addr{}, Delay: delay}
	for _, h := range hosts {
		for _, n := range h.Names {
			fq := dns.Fqdn(strings.ToLower(n))
			a.names[fq] = append(a.names[fq], h.IP)
			if h.Inside != nil && h.Inside.IP.IsValid() {
				a.inside[fq] = append(a.inside[fq], h.Inside.IP)
			}
		}
	}
	return a
}

// fromInside reports whether a query from addr comes from the inside network.
func (a *Authority) fromInside(addr net.Addr) bool {
	var ip netip.Addr
	switch v := addr.(type) {
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(v.IP)
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(v.IP)
	default:
		return false
	}
	ip = ip.Unmap()
	for _, p := range a.Inside {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Lookup returns the addresses of name and whether the name exists.
func (a *Authority) Lookup(name string) ([]netip.Addr, bool) {
	ips, ok := a.names[dns.Fqdn(strings.ToLower(name))]
	return ips, ok
}

// Answer builds the authoritative reply to req.
func (a *Authority) Answer(req *dns.Msg) *dns.Msg { return a.answer(req, false) }

// answer builds the reply, with the inside addresses when inside is set.
func (a *Authority) answer(req *dns.Msg, inside bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = false
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return m
	}
	q := req.Question[0]
	ips, ok := a.Lookup(q.Name)
	if !ok {
		m.Rcode = dns.RcodeNameError
		return m
	}
	if in, ok := a.inside[dns.Fqdn(strings.ToLower(q.Name))]; ok && inside {
		ips = in
	}
	if q.Qclass == dns.ClassINET && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY) {
		for _, ip := range ips {
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: DNSTTL},
				A:   net.IP(ip.AsSlice()),
			})
		}
	}
	return m
}

// ServeDNS implements dns.Handler.
func (a *Authority) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := a.answer(req, len(a.inside) > 0 && a.fromInside(w.RemoteAddr()))
	if a.Delay > 0 {
		time.Sleep(a.Delay)
	}
	_ = w.WriteMsg(m)
}

// exchange sends up to the upstream server and returns its first answer.
func (f *Forwarder) exchange(c *dns.Client, up *dns.Msg) (*dns.Msg, error) {
	if f.Dial == nil {
		resp, _, err := c.Exchange(up, f.Upstream)
		return resp, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	conn, err := f.Dial(ctx, c.Net, f.Upstream)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	resp, _, err := c.ExchangeWithConnContext(ctx, up, &dns.Conn{Conn: conn})
	return resp, err
}

// Forwarder is a recursive resolver that forwards every query to Upstream and
// relays the first answer it gets (as a real resolver would accept an
// injected one), after Delay.
type Forwarder struct {
	// Upstream is the server's host:port.
	Upstream string
	// Local is the address upstream queries are sent from; invalid means any.
	Local netip.Addr
	// Delay is added to every upstream answer.
	Delay time.Duration
	// Timeout bounds one upstream exchange; 0 means 3s.
	Timeout time.Duration
	// Dial, when set, opens the upstream connection ("udp" or "tcp") instead
	// of the host's network (Local is then the dialer's business).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// ServeDNS implements dns.Handler.
func (f *Forwarder) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	timeout := f.Timeout
	if timeout == 0 {
		timeout = 3 * time.Second
	}
	c := &dns.Client{Net: "udp", Timeout: timeout}
	if _, isTCP := w.RemoteAddr().(*net.TCPAddr); isTCP {
		c.Net = "tcp"
	}
	if f.Local.IsValid() {
		if c.Net == "tcp" {
			c.Dialer = &net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: f.Local.AsSlice()}}
		} else {
			c.Dialer = &net.Dialer{Timeout: timeout, LocalAddr: &net.UDPAddr{IP: f.Local.AsSlice()}}
		}
	}
	up := req.Copy()
	up.RecursionDesired = false
	resp, err := f.exchange(c, up)
	if err != nil || resp == nil {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeServerFailure)
		m.RecursionAvailable = true
		_ = w.WriteMsg(m)
		return
	}
	if f.Delay > 0 {
		time.Sleep(f.Delay)
	}
	resp.Id = req.Id
	resp.Authoritative = false
	resp.RecursionDesired = req.RecursionDesired
	resp.RecursionAvailable = true
	_ = w.WriteMsg(resp)
}
