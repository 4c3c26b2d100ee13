package probe

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"slices"
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

// firstUsable returns the connection of the first endpoint usable for the
// application protocol and its address, and closes every other one at once
// (so that their address slots are free for other measurements).
func firstUsable(eps []endpoint, tlsWanted bool) (net.Conn, string) {
	var conn net.Conn
	var addr string
	for _, e := range eps {
		if c := e.usable(tlsWanted); c != nil && conn == nil {
			conn, addr = c, e.addr
			continue
		}
		if e.conn != nil {
			e.conn.Close()
		}
	}
	return conn, addr
}

// anyUsable reports whether some endpoint is usable.
func anyUsable(eps []endpoint, tlsWanted bool) bool {
	for _, e := range eps {
		if e.usable(tlsWanted) != nil {
			return true
		}
	}
	return false
}

// measure runs the steps of one target. The schedule: connect, TLS and the
// application protocol start with the first DNS answers while the queries
// keep listening for the injection window; answers that arrive later are
// still recorded (and their addresses connected to) before the record ends.
// The record's steps keep one order whatever the timing: DNS, connects, TLS
// handshakes, then the application protocol. With Config.Serial the whole
// window is waited for first (the schedule before issue 9).
func (p *Probe) measure(ctx context.Context, rec *recorder, t target.Target, extra Extra) {
	dc := &dnsCache{addrs: map[string][]netip.Addr{}, good: map[string]netip.Addr{}}
	port := strconv.Itoa(t.Port)
	sni := ""
	if target.IsTLS(t.Scheme) {
		sni = t.Host
	}
	alpn := []string(nil)
	if t.Scheme == "https" {
		alpn = []string{"http/1.1"}
	}
	tlsWanted := target.IsTLS(t.Scheme) // the application protocol speaks over TLS from the start

	var dnsSteps, conns, tlss, app recorder
	var addrs []netip.Addr
	var run *dnsRun // the target's resolution while it may still be listening
	if a, err := netip.ParseAddr(t.Host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		run = p.startResolve(ctx, t.Host)
		if p.cfg.Serial {
			addrs, run = run.wait(&dnsSteps), nil
		} else {
			addrs = run.early()
		}
		if extra.OnResolved != nil {
			extra.OnResolved(Resolved{Addrs: addrStrings(addrs), Resolvers: p.resolverNames()})
		}
	}
	dc.addrs[t.Host] = addrs
	extraAll := p.extraAddrs(extra)
	dial, extraAddrs := p.capAddrs(rec, t.Host, port, addrs, extraAll) // own first, then the other vantage's
	eps := p.connectAll(ctx, &conns, &tlss, dial, port, t.Host, sni, alpn)
	defer func() { closeAll(eps) }()
	nOwn := len(dial) - len(extraAddrs)
	own, others := eps[:nOwn], eps[nOwn:]

	// finishDNS waits for the rest of the injection window and connects to
	// the addresses only the later answers named (within Config.MaxAddrs).
	finishDNS := func() {
		if run == nil {
			return
		}
		all := run.wait(&dnsSteps)
		run = nil
		dc.addrs[t.Host] = all
		dial2, _ := p.capAddrs(rec, t.Host, port, all, extraAll)
		var late []netip.Addr
		for _, a := range dial2 {
			if !slices.Contains(dial, a) && len(dial)+len(late) < p.cfg.MaxAddrs {
				late = append(late, a)
			}
		}
		if len(late) > 0 {
			lateEps := p.connectAll(ctx, &conns, &tlss, late, port, t.Host, sni, alpn)
			eps = append(eps, lateEps...)
			own = append(slices.Clone(own), lateEps...)
		}
	}
	if !anyUsable(own, tlsWanted) {
		// The first answers gave nothing to speak to: the later ones may.
		closeAll(own)
		finishDNS()
	}
	ordered := append(slices.Clone(own), others...) // the target's own addresses first
	switch {
	case target.IsMail(t.Scheme):
		p.mail(ctx, &app, t, ordered)
	default:
		p.web(ctx, &app, dc, t, ordered)
	}
	closeAll(eps)
	finishDNS()
	closeAll(eps)
	if t.Scheme == "https" {
		p.http3(ctx, &app, dc, t, endpointAddrs(eps), extra)
	}

	var extra443c, extra443t recorder
	if t.Scheme == "http" && len(extraAddrs) > 0 {
		// For the verdict: does this address present a valid certificate
		// for the name on 443?
		closeAll(p.connectAll(ctx, &extra443c, &extra443t, extraAddrs, "443", t.Host, t.Host, []string{"http/1.1"}))
	}
	for _, r := range []*recorder{&dnsSteps, &conns, &tlss, &extra443c, &extra443t, &app} {
		rec.addAll(r)
	}
}

// endpointAddrs returns the addresses of eps, in order, without repeats.
func endpointAddrs(eps []endpoint) []netip.Addr {
	var out []netip.Addr
	for _, e := range eps {
		if ap, err := netip.ParseAddrPort(e.addr); err == nil && !slices.Contains(out, ap.Addr()) {
			out = append(out, ap.Addr())
		}
	}
	return out
}

// addrStrings returns the addresses as text.
func addrStrings(addrs []netip.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
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
// runs a TLS handshake on each connected one, recording the connect steps in
// conns and the TLS steps in tlss, each in address order. IPv6 addresses
// are skipped when the host has no global IPv6 route (unless the network
// lists them as routable). The address slots are taken first, in address
// order, so that measurements never wait for each other in a circle.
func (p *Probe) connectAll(ctx context.Context, conns, tlss *recorder, addrs []netip.Addr, port, host, sni string, alpn []string) []endpoint {
	var dial []netip.Addr
	for _, a := range addrs {
		if p.canDial(a) {
			dial = append(dial, a)
		}
	}
	releases := make([]func(), len(dial))
	slotErrs := make([]error, len(dial))
	byAddr := make([]int, len(dial))
	for i := range byAddr {
		byAddr[i] = i
	}
	slices.SortFunc(byAddr, func(i, j int) int { return dial[i].Compare(dial[j]) })
	for _, i := range byAddr {
		releases[i], slotErrs[i] = p.slots.acquire(ctx, dial[i])
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
			ep.conn = p.connect(ctx, &connSteps[i], ep.addr, host, releases[i], slotErrs[i])
			if ep.conn != nil && sni != "" {
				ep.tls = p.handshake(ctx, &tlsSteps[i], ep.conn, sni, alpn)
			}
			eps[i] = ep
		}(i, a)
	}
	wg.Wait()
	for i := range dial {
		conns.add(connSteps[i].steps...)
	}
	for i := range dial {
		tlss.add(tlsSteps[i].steps...)
	}
	return eps
}

// connect dials addr over TCP and records the step. release gives the
// address's slot back (slotErr: the slot could not be taken); the returned
// connection gives it back when closed. The step's time starts once the
// slot is taken: waiting for one is never a timeout of the network.
func (p *Probe) connect(ctx context.Context, rec *recorder, addr, host string, release func(), slotErr error) net.Conn {
	step := newStep(model.OpConnect, addr, host)
	if slotErr != nil {
		finish(&step, slotErr)
		rec.add(step)
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	conn, err := p.net.Dial(cctx, "tcp", addr)
	finish(&step, err)
	rec.add(step)
	if err != nil {
		release()
		return nil
	}
	return &slotConn{Conn: conn, release: release}
}

// dialFirst connects to the addresses in order until one connects (and
// completes the TLS handshake when sni is set), recording every attempt.
func (p *Probe) dialFirst(ctx context.Context, rec *recorder, addrs []netip.Addr, port, host, sni string, alpn []string) net.Conn {
	for _, a := range addrs {
		if !p.canDial(a) {
			continue
		}
		release, err := p.slots.acquire(ctx, a)
		conn := p.connect(ctx, rec, net.JoinHostPort(a.String(), port), host, release, err)
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
