package trace

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/firewatch/firewatch/internal/netx"
	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
)

// Exchange kinds replayed by the real prober.
const (
	ExchangeDNS  = "dns"  // a DNS query over UDP, sent with the TTL
	ExchangeHTTP = "http" // an HTTP request sent with the TTL after a normal handshake
	ExchangeTLS  = "tls"  // a TLS ClientHello sent with the TTL after a normal handshake
	ExchangeSYN  = "syn"  // the TCP SYN itself sent with the TTL
)

// Exchange is the triggering exchange the real prober replays.
type Exchange struct {
	Kind    string
	Server  netip.AddrPort
	Name    string // DNS: the queried name
	QType   uint16 // DNS: the query type (0: A)
	Request []byte // HTTP: the request bytes
	SNI     string // TLS: the server name
}

// DefaultWait is how long each probe listens for what comes back.
const DefaultWait = time.Second

// RawProber is the real Prober: raw sockets read ICMP errors and TCP
// segments; the probes themselves are ordinary sockets with IP_TTL set.
type RawProber struct {
	ex   Exchange
	net  *netx.Network
	wait time.Duration
	icmp *icmpWatch
	tcp  *tcpWatch
}

// NewProber opens the raw sockets (ErrNeedRaw without CAP_NET_RAW). wait
// is how long each probe listens (0: DefaultWait). Close it after use.
func NewProber(ex Exchange, n *netx.Network, wait time.Duration) (*RawProber, error) {
	if !ex.Server.Addr().Is4() {
		return nil, fmt.Errorf("trace: %v: only IPv4 servers can be traced", ex.Server)
	}
	switch ex.Kind {
	case ExchangeDNS, ExchangeHTTP, ExchangeTLS, ExchangeSYN:
	default:
		return nil, fmt.Errorf("trace: unknown exchange %q", ex.Kind)
	}
	if wait <= 0 {
		wait = DefaultWait
	}
	w, err := openICMP()
	if err != nil {
		return nil, err
	}
	p := &RawProber{ex: ex, net: n, wait: wait, icmp: w}
	if ex.Kind == ExchangeHTTP || ex.Kind == ExchangeTLS {
		if p.tcp, err = openTCPWatch(); err != nil {
			w.close()
			return nil, err
		}
	}
	return p, nil
}

// Close releases the raw sockets.
func (p *RawProber) Close() {
	p.icmp.close()
	if p.tcp != nil {
		p.tcp.close()
	}
}

// Path sends a UDP datagram to port 33434+ttl of the server.
func (p *RawProber) Path(ctx context.Context, ttl int) Observation {
	dst := netip.AddrPortFrom(p.ex.Server.Addr(), uint16(33434+ttl))
	return p.udp(ctx, ttl, dst, []byte("firewatch trace"), nil)
}

// Replay sends the triggering exchange with the TTL.
func (p *RawProber) Replay(ctx context.Context, ttl int) Observation {
	switch p.ex.Kind {
	case ExchangeDNS:
		return p.replayDNS(ctx, ttl)
	case ExchangeSYN:
		return p.replaySYN(ctx, ttl)
	default:
		return p.replayTCP(ctx, ttl)
	}
}

func (p *RawProber) replayDNS(ctx context.Context, ttl int) Observation {
	q := new(dns.Msg)
	qt := p.ex.QType
	if qt == 0 {
		qt = dns.TypeA
	}
	q.SetQuestion(dns.Fqdn(p.ex.Name), qt)
	q.RecursionDesired = true
	b, err := q.Pack()
	if err != nil {
		return Observation{Err: fmt.Errorf("dns query for %q: %w", p.ex.Name, err)}
	}
	return p.udp(ctx, ttl, p.ex.Server, b, func(resp []byte, from netip.Addr) (Answer, bool) {
		var m dns.Msg
		if m.Unpack(resp) != nil || m.Id != q.Id || !m.Response {
			return Answer{}, false
		}
		return dnsAnswer(&m, from), true
	})
}

// dnsAnswer describes a DNS response by its rcode and sorted addresses.
func dnsAnswer(m *dns.Msg, from netip.Addr) Answer {
	var vals []string
	for _, rr := range m.Answer {
		switch a := rr.(type) {
		case *dns.A:
			vals = append(vals, a.A.String())
		case *dns.AAAA:
			vals = append(vals, a.AAAA.String())
		case *dns.CNAME:
			vals = append(vals, "CNAME "+a.Target)
		}
	}
	slices.Sort(vals)
	rc := dns.RcodeToString[m.Rcode]
	d := strings.TrimSpace(rc + " " + strings.Join(vals, " "))
	return Answer{Digest: "dns " + d, Summary: fmt.Sprintf("dns %s from %s", d, from)}
}

// udp sends payload to dst from a fresh socket with the TTL and collects,
// for the wait, ICMP errors quoting it and (when parse is set) answers.
func (p *RawProber) udp(ctx context.Context, ttl int, dst netip.AddrPort, payload []byte, parse func([]byte, netip.Addr) (Answer, bool)) Observation {
	pc, err := p.net.Listen(ctx, "udp4", "0.0.0.0:0")
	if err != nil {
		return Observation{Err: err}
	}
	defer pc.Close()
	if err := ipv4.NewPacketConn(pc).SetTTL(ttl); err != nil {
		return Observation{Err: fmt.Errorf("set ttl: %w", err)}
	}
	lport := uint16(0)
	if ua, ok := pc.LocalAddr().(*net.UDPAddr); ok {
		lport = uint16(ua.Port)
	}
	evs, unsub := p.icmp.subscribe(flow{proto: syscall.IPPROTO_UDP, port: lport, dst: dst.Addr()})
	defer unsub()
	if _, err := pc.WriteTo(payload, net.UDPAddrFromAddrPort(dst)); err != nil {
		return Observation{Err: fmt.Errorf("send to %v: %w", dst, err)}
	}
	deadline := time.Now().Add(p.wait)
	var o Observation
	var mu sync.Mutex
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		_ = pc.SetReadDeadline(deadline)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			ua, ok := from.(*net.UDPAddr)
			if !ok {
				continue
			}
			src := ua.AddrPort().Addr().Unmap()
			mu.Lock()
			if parse == nil {
				if src == dst.Addr() {
					o.Reached = true
				}
			} else if a, ok := parse(buf[:n], src); ok {
				o.Answers = append(o.Answers, a)
			}
			mu.Unlock()
		}
	}()
	p.collectICMP(ctx, evs, deadline, dst.Addr(), parse != nil, &o, &mu)
	<-readDone
	return o
}

// collectICMP records, until deadline, the ICMP errors arriving on evs.
// service says whether evs quote the exchange itself (not the path probe).
func (p *RawProber) collectICMP(ctx context.Context, evs <-chan icmpEvent, deadline time.Time, dst netip.Addr, service bool, o *Observation, mu *sync.Mutex) {
	receiveUntil(ctx, deadline, evs, func(ev icmpEvent) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case ev.exceeded && !o.Router.IsValid():
			o.Router = ev.from
		case !ev.exceeded && ev.from == dst:
			o.Reached = true // port unreachable from the server itself
			o.NoService = service
		}
	})
}

// receiveUntil hands f what arrives on ch until deadline or ctx ends.
func receiveUntil[T any](ctx context.Context, deadline time.Time, ch <-chan T, f func(T)) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			return
		case v := <-ch:
			f(v)
		}
	}
}

// replaySYN connects with the TTL set on the SYN: a SYN-ACK (or the
// server's RST) means the server was reached.
func (p *RawProber) replaySYN(ctx context.Context, ttl int) Observation {
	evs, unsub := p.icmp.subscribe(flow{proto: syscall.IPPROTO_TCP, dst: p.ex.Server.Addr()})
	defer unsub()
	var o Observation
	var mu sync.Mutex
	deadline := time.Now().Add(p.wait)
	d := net.Dialer{Deadline: deadline, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_TTL, ttl) })
		return errors.Join(err, serr)
	}}
	connected := make(chan struct{})
	go func() {
		defer close(connected)
		c, err := d.DialContext(ctx, "tcp4", p.ex.Server.String())
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			o.Reached = true
			o.Answers = append(o.Answers, Answer{Digest: "syn-ack", Summary: "syn-ack from " + p.ex.Server.String()})
			c.Close()
		} else if errors.Is(err, syscall.ECONNREFUSED) {
			o.Reached = true
			o.Answers = append(o.Answers, Answer{Digest: "refused", Summary: "connection refused by " + p.ex.Server.String()})
		}
	}()
	p.collectICMP(ctx, evs, deadline, p.ex.Server.Addr(), false, &o, &mu)
	<-connected
	mu.Lock()
	defer mu.Unlock()
	return o
}

// replayTCP connects normally, then sends the request (HTTP) or the
// ClientHello (TLS) with the TTL and watches every segment coming back.
func (p *RawProber) replayTCP(ctx context.Context, ttl int) Observation {
	dctx, cancel := context.WithTimeout(ctx, p.wait+5*time.Second)
	defer cancel()
	c, err := p.net.Dial(dctx, "tcp4", p.ex.Server.String())
	if err != nil {
		// The replay needs a normal handshake first: without one there is
		// nothing to replay (the verdict saw it succeed).
		return Observation{Err: fmt.Errorf("connect to %v with a full TTL: %w", p.ex.Server, err)}
	}
	defer c.Close()
	la, ok := c.LocalAddr().(*net.TCPAddr)
	if !ok {
		return Observation{Err: fmt.Errorf("trace: %T is not a TCP connection", c)}
	}
	lport := uint16(la.Port)
	segs, unsubT := p.tcp.subscribe(lport, p.ex.Server.Addr())
	defer unsubT()
	evs, unsub := p.icmp.subscribe(flow{proto: syscall.IPPROTO_TCP, port: lport, dst: p.ex.Server.Addr()})
	defer unsub()
	ipc := ipv4.NewConn(c)
	if err := ipc.SetTTL(ttl); err != nil {
		return Observation{Err: fmt.Errorf("set ttl: %w", err)}
	}
	deadline := time.Now().Add(p.wait)
	_ = c.SetDeadline(deadline)
	switch p.ex.Kind {
	case ExchangeHTTP:
		_, _ = c.Write(p.ex.Request)
	case ExchangeTLS:
		go func() {
			tc := tls.Client(c, &tls.Config{ServerName: p.ex.SNI, InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}) //nolint:gosec // only the ClientHello matters
			_ = tc.Handshake()
		}()
	}
	var o Observation
	var mu sync.Mutex
	segDone := make(chan struct{})
	go func() {
		defer close(segDone)
		data := false
		receiveUntil(ctx, deadline, segs, func(s segment) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case s.flags&tcpRST != 0:
				o.Answers = append(o.Answers, Answer{Reset: true, Digest: "rst", Summary: fmt.Sprintf("rst from %s (ip ttl %d)", p.ex.Server, s.ttl)})
			case len(s.payload) > 0 && !data:
				data = true
				o.Answers = append(o.Answers, payloadAnswer(p.ex.Kind, s.payload, p.ex.Server))
			}
		})
	}()
	p.collectICMP(ctx, evs, deadline, p.ex.Server.Addr(), false, &o, &mu)
	<-segDone
	// Close with a full TTL so that the server learns of it.
	_ = ipc.SetTTL(64)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	mu.Lock()
	defer mu.Unlock()
	return o
}

// payloadAnswer describes the first data segment of a response: for HTTP
// the status line, Location and the start of the body (not the Date).
func payloadAnswer(kind string, b []byte, from netip.AddrPort) Answer {
	if kind == ExchangeTLS {
		what := "tls data"
		if len(b) > 0 && b[0] == 22 {
			what = "tls handshake"
		} else if len(b) > 0 && b[0] == 21 {
			what = "tls alert"
		}
		return Answer{Digest: what, Summary: what + " from " + from.String()}
	}
	head, body, _ := bytes.Cut(b, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	status := lines[0]
	var loc string
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, "location") {
			loc = strings.TrimSpace(v)
		}
	}
	body = body[:min(len(body), 256)]
	sum := sha256.Sum256(append([]byte(status+"\n"+loc+"\n"), body...))
	s := status
	if loc != "" {
		s += " → " + loc
	}
	return Answer{Digest: "http " + hex.EncodeToString(sum[:8]), Summary: fmt.Sprintf("%s from %s", s, from)}
}

const tcpRST = 0x04

type segment struct {
	flags   byte
	ttl     int
	payload []byte
}

type tcpKey struct {
	lport  uint16
	remote netip.Addr
}

// tcpWatch reads every TCP segment arriving at the host (a raw socket gets
// a copy, also of those the kernel's socket no longer wants, e.g. after a
// reset) and hands those of our connections to their subscriber.
type tcpWatch struct {
	c    *ipv4.RawConn
	mu   sync.Mutex
	subs map[tcpKey]chan segment
	done chan struct{}
}

func openTCPWatch() (*tcpWatch, error) {
	pc, err := net.ListenPacket("ip4:tcp", "0.0.0.0")
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return nil, ErrNeedRaw
		}
		return nil, fmt.Errorf("trace: raw tcp socket: %w", err)
	}
	rc, err := ipv4.NewRawConn(pc)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("trace: raw tcp socket: %w", err)
	}
	w := &tcpWatch{c: rc, subs: map[tcpKey]chan segment{}, done: make(chan struct{})}
	go w.loop()
	return w, nil
}

func (w *tcpWatch) close() {
	w.c.Close()
	<-w.done
}

func (w *tcpWatch) subscribe(lport uint16, remote netip.Addr) (<-chan segment, func()) {
	ch := make(chan segment, 64)
	k := tcpKey{lport, remote}
	w.mu.Lock()
	w.subs[k] = ch
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		delete(w.subs, k)
		w.mu.Unlock()
	}
}

func (w *tcpWatch) loop() {
	defer close(w.done)
	buf := make([]byte, 1<<16)
	for {
		h, payload, _, err := w.c.ReadFrom(buf)
		if err != nil {
			return
		}
		src, ok := netip.AddrFromSlice(h.Src.To4())
		if !ok || len(payload) < 20 {
			continue
		}
		off := int(payload[12]>>4) * 4
		if off < 20 || off > len(payload) {
			continue
		}
		k := tcpKey{binary.BigEndian.Uint16(payload[2:]), src}
		w.mu.Lock()
		ch := w.subs[k]
		w.mu.Unlock()
		if ch == nil {
			continue
		}
		s := segment{flags: payload[13], ttl: h.TTL, payload: append([]byte(nil), payload[off:]...)}
		select {
		case ch <- s:
		default:
		}
	}
}
