package probe

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"strconv"
	"sync"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/target"
)

// endpoint is one address of the target with its connection, once connected
// (and its TLS connection, once the handshake succeeded).
type endpoint struct {
	addr string // ip:port
	conn net.Conn
	tls  *tls.Conn
}

// usable returns the connection to speak the application protocol over:
// the TLS connection when tlsWanted, else the TCP connection; nil if none.
func (e endpoint) usable(tlsWanted bool) net.Conn {
	if tlsWanted {
		if e.tls == nil {
			return nil
		}
		return e.tls
	}
	return e.conn
}

func closeAll(eps []endpoint) {
	for _, e := range eps {
		if e.conn != nil {
			e.conn.Close()
		}
	}
}

func (p *Probe) measure(ctx context.Context, rec *recorder, t target.Target, extra Extra) {
	dc := &dnsCache{addrs: map[string][]netip.Addr{}, good: map[string]netip.Addr{}}
	port := strconv.Itoa(t.Port)
	addrs, extraAddrs := p.capAddrs(rec, t.Host, port, p.lookup(ctx, rec, dc, t.Host), p.extraAddrs(extra))

	sni := ""
	if target.IsTLS(t.Scheme) {
		sni = t.Host
	}
	alpn := []string(nil)
	if t.Scheme == "https" {
		alpn = []string{"http/1.1"}
	}
	eps := p.connectAll(ctx, rec, addrs, port, t.Host, sni, alpn)
	defer closeAll(eps)

	if t.Scheme == "http" && len(extraAddrs) > 0 {
		// For the verdict: does this address present a valid certificate
		// for the name on 443?
		closeAll(p.connectAll(ctx, rec, extraAddrs, "443", t.Host, t.Host, []string{"http/1.1"}))
	}

	switch {
	case target.IsMail(t.Scheme):
		p.mail(ctx, rec, t, eps)
	default:
		p.web(ctx, rec, dc, t, eps)
		if t.Scheme == "https" {
			p.http3(ctx, rec, dc, t, addrs, extra)
		}
	}
}

// dnsCache remembers the addresses resolved for each host in one
// measurement, so that a redirect back to a known host adds no DNS steps.
type dnsCache struct {
	addrs map[string][]netip.Addr
	good  map[string]netip.Addr // per host, the address that last worked
}

// ordered returns addrs with the host's address that last worked first.
func (dc *dnsCache) ordered(host string, addrs []netip.Addr) []netip.Addr {
	g, ok := dc.good[host]
	if !ok || len(addrs) == 0 || addrs[0] == g {
		return addrs
	}
	out := []netip.Addr{g}
	for _, a := range addrs {
		if a != g {
			out = append(out, a)
		}
	}
	if len(out) != len(addrs) {
		return addrs // g is not among them
	}
	return out
}

// worked remembers that addr (ip:port) worked for host.
func (dc *dnsCache) worked(host, addr string) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		dc.good[host] = ap.Addr()
	}
}

// lookup returns the addresses to connect to for host: the literal address,
// or the non-bogon answers of every resolver (recording the DNS steps).
func (p *Probe) lookup(ctx context.Context, rec *recorder, dc *dnsCache, host string) []netip.Addr {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}
	}
	if a, ok := dc.addrs[host]; ok {
		return a
	}
	a := p.resolve(ctx, rec, host)
	dc.addrs[host] = a
	return a
}

// extraAddrs parses the control's extra addresses, dropping bogons and
// repeats.
func (p *Probe) extraAddrs(extra Extra) []netip.Addr {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, s := range extra.Addrs {
		a, err := netip.ParseAddr(s)
		if err != nil {
			ap, err2 := netip.ParseAddrPort(s)
			if err2 != nil {
				continue
			}
			a = ap.Addr()
		}
		a = a.Unmap()
		if seen[a] || p.net.IsBogon(a) {
			continue
		}
		seen[a] = true
		out = append(out, a)
	}
	return out
}

// connectAll connects to every address (in parallel) and, when sni is set,
// runs a TLS handshake on each connected one. Connect steps are recorded in
// address order, then the TLS steps. IPv6 addresses are skipped when the
// host has no global IPv6 route (unless the network lists them as routable).
func (p *Probe) connectAll(ctx context.Context, rec *recorder, addrs []netip.Addr, port, host, sni string, alpn []string) []endpoint {
	var dial []netip.Addr
	for _, a := range addrs {
		if p.canDial(a) {
			dial = append(dial, a)
		}
	}
	eps := make([]endpoint, len(dial))
	connSteps := make([]recorder, len(dial))
	tlsSteps := make([]recorder, len(dial))
	var wg sync.WaitGroup
	for i, a := range dial {
		wg.Add(1)
		go func(i int, a netip.Addr) {
			defer wg.Done()
			ep := endpoint{addr: net.JoinHostPort(a.String(), port)}
			ep.conn = p.connect(ctx, &connSteps[i], ep.addr, host)
			if ep.conn != nil && sni != "" {
				ep.tls = p.handshake(ctx, &tlsSteps[i], ep.conn, sni, alpn)
			}
			eps[i] = ep
		}(i, a)
	}
	wg.Wait()
	for i := range dial {
		rec.add(connSteps[i].steps...)
	}
	for i := range dial {
		rec.add(tlsSteps[i].steps...)
	}
	return eps
}

// connect dials addr over TCP and records the step.
func (p *Probe) connect(ctx context.Context, rec *recorder, addr, host string) net.Conn {
	step := newStep(model.OpConnect, addr, host)
	cctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	conn, err := p.net.Dial(cctx, "tcp", addr)
	finish(&step, err)
	rec.add(step)
	return conn
}

// dialFirst connects to the addresses in order until one connects (and
// completes the TLS handshake when sni is set), recording every attempt.
func (p *Probe) dialFirst(ctx context.Context, rec *recorder, addrs []netip.Addr, port, host, sni string, alpn []string) net.Conn {
	for _, a := range addrs {
		if !p.canDial(a) {
			continue
		}
		conn := p.connect(ctx, rec, net.JoinHostPort(a.String(), port), host)
		if conn == nil {
			continue
		}
		if sni == "" {
			return conn
		}
		if tc := p.handshake(ctx, rec, conn, sni, alpn); tc != nil {
			return tc
		}
		conn.Close()
	}
	return nil
}

// ipv6Route remembers whether the host has a global IPv6 route.
type ipv6Route struct {
	once sync.Once
	ok   bool
}

// canDial reports whether the probe connects to a: always for IPv4 and for
// routable-listed addresses; for IPv6 only with a global IPv6 route, so that
// hosts without IPv6 do not fill records with unreachable noise.
func (p *Probe) canDial(a netip.Addr) bool {
	a = a.Unmap()
	if a.Is4() {
		return true
	}
	for _, pr := range p.net.Routable {
		if pr.Contains(a) {
			return true
		}
	}
	if p.net.DialContext != nil {
		return true // an explicit network decides for itself
	}
	p.ipv6.once.Do(func() {
		// A UDP "connect" only looks the route up; no packet is sent.
		c, err := net.Dial("udp6", "[2001:db8::1]:53")
		if err != nil {
			return
		}
		defer c.Close()
		if ua, ok := c.LocalAddr().(*net.UDPAddr); ok {
			ip, _ := netip.AddrFromSlice(ua.IP)
			p.ipv6.ok = ip.IsGlobalUnicast() && !ip.IsPrivate()
		}
	})
	return p.ipv6.ok
}
