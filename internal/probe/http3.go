package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/target"
)

// http3 measures HTTP/3 for an https target when the site advertises it
// (an Alt-Svc h3 entry on a response of the target's origin) or when asked
// (Config.HTTP3, Extra.HTTP3): a quic_handshake step on every address
// (those the TCP steps dialed, or the alternative host's), then one
// http3_round_trip for the target URL on the first that completed. HTTP/3
// follows no redirect; the Location is recorded.
func (p *Probe) http3(ctx context.Context, rec *recorder, dc *dnsCache, t target.Target, addrs []netip.Addr, extra Extra) {
	host, port, ok := altSvcOf(rec.steps, t)
	if !ok {
		if !p.cfg.HTTP3 && !extra.HTTP3 {
			return
		}
		host, port = t.Host, t.Port
	}
	if host != t.Host {
		addrs, _ = p.capAddrs(rec, host, strconv.Itoa(port), p.lookup(ctx, rec, dc, host), nil)
	}
	var dial []netip.Addr
	for _, a := range addrs {
		if p.canDial(a) {
			dial = append(dial, a)
		}
	}
	conns := make([]*quicConn, len(dial))
	steps := make([]recorder, len(dial))
	var wg sync.WaitGroup
	for i, a := range dial {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conns[i] = p.quicHandshake(ctx, &steps[i], netip.AddrPortFrom(a, uint16(port)), t.Host)
		}()
	}
	wg.Wait()
	var first *quicConn
	for i := range dial {
		rec.add(steps[i].steps...)
		if c := conns[i]; c != nil {
			if first == nil {
				first = c
			} else {
				c.close()
			}
		}
	}
	if first != nil {
		p.roundTrip3(ctx, rec, first, t.URL)
		first.close()
	}
}

// altSvcOf returns the HTTP/3 alternative of t's origin that a recorded
// response advertised (Alt-Svc: h3=":443"), with the target's host when the
// entry names none.
func altSvcOf(steps []model.Step, t target.Target) (string, int, bool) {
	for _, s := range steps {
		if s.Operation != model.OpHTTPRoundTrip || s.HTTP == nil || s.Failure != nil {
			continue
		}
		u, err := url.Parse(s.HTTP.URL)
		if err != nil || u.Scheme != "https" || !strings.EqualFold(u.Hostname(), t.Host) || portOr(u, 443) != t.Port {
			continue
		}
		if host, port, ok := ParseAltSvcH3(s.HTTP.Headers["Alt-Svc"]); ok {
			if host == "" {
				host = t.Host
			}
			return strings.ToLower(host), port, true
		}
	}
	return "", 0, false
}

func portOr(u *url.URL, def int) int {
	if p, err := strconv.Atoi(u.Port()); err == nil {
		return p
	}
	return def
}

// ParseAltSvcH3 reads an Alt-Svc header value (RFC 7838) and returns the
// alternative authority of its first h3 entry: host ("" for the origin's)
// and port. "clear", a malformed value or no h3 entry give ok false.
func ParseAltSvcH3(v string) (host string, port int, ok bool) {
	for _, entry := range strings.Split(v, ",") {
		alt, _, _ := strings.Cut(entry, ";")
		proto, auth, found := strings.Cut(strings.TrimSpace(alt), "=")
		if !found || strings.TrimSpace(proto) != "h3" {
			continue
		}
		auth = strings.TrimSpace(auth)
		if len(auth) < 2 || auth[0] != '"' || auth[len(auth)-1] != '"' {
			continue
		}
		h, ps, err := net.SplitHostPort(auth[1 : len(auth)-1])
		if err != nil {
			continue
		}
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 || n > 65535 || strings.ContainsAny(h, "/ \"") {
			continue
		}
		return h, n, true
	}
	return "", 0, false
}

// quicConn is a completed QUIC handshake and the socket under it.
type quicConn struct {
	addr netip.AddrPort
	conn *quic.Conn
	tr   *quic.Transport
	pc   net.PacketConn
}

func (c *quicConn) close() {
	if c.conn != nil {
		c.conn.CloseWithError(0, "")
	}
	c.tr.Close()
	c.pc.Close()
}

// quietConn hides the socket's type from quic-go, so that it reads one
// datagram at a time and sizes the buffers without warning on stderr when
// the host caps them: the probe opens one short connection, not a server.
type quietConn struct{ net.PacketConn }

func (c quietConn) SetReadBuffer(n int) error {
	if b, ok := c.PacketConn.(interface{ SetReadBuffer(int) error }); ok {
		_ = b.SetReadBuffer(n)
	}
	return nil
}

func (c quietConn) SetWriteBuffer(n int) error {
	if b, ok := c.PacketConn.(interface{ SetWriteBuffer(int) error }); ok {
		_ = b.SetWriteBuffer(n)
	}
	return nil
}

// quicHandshake runs a QUIC handshake with SNI serverName (ALPN h3) to addr
// on a fresh UDP socket of the network and records it as a quic_handshake
// step with the chain (verified by hand afterwards, as for TLS over TCP).
func (p *Probe) quicHandshake(ctx context.Context, rec *recorder, addr netip.AddrPort, serverName string) *quicConn {
	step := newStep(model.OpQUICHandshake, addr.String(), serverName)
	data := &model.TLSData{ServerName: serverName, Chain: []model.Certificate{}}
	step.TLS = data
	pc, err := p.net.Listen(ctx, "udp", ":0")
	if err != nil {
		finish(&step, err)
		rec.add(step)
		return nil
	}
	var mu sync.Mutex
	var chain []*x509.Certificate
	cfg := &tls.Config{
		ServerName:         serverName,
		InsecureSkipVerify: true, // verified below, so that the chain is always recorded
		NextProtos:         []string{http3.NextProtoH3},
		MinVersion:         tls.VersionTLS13,
		VerifyConnection: func(cs tls.ConnectionState) error {
			mu.Lock()
			defer mu.Unlock()
			chain = cs.PeerCertificates
			return nil
		},
	}
	tr := &quic.Transport{Conn: quietConn{pc}}
	hctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	conn, err := tr.Dial(hctx, net.UDPAddrFromAddrPort(addr), cfg, &quic.Config{HandshakeIdleTimeout: p.cfg.Timeout, MaxIdleTimeout: p.cfg.Timeout})
	mu.Lock()
	for _, c := range chain {
		data.Chain = append(data.Chain, certRecord(c))
	}
	mu.Unlock()
	if err != nil {
		tr.Close()
		pc.Close()
		finish(&step, failure.Wrap(model.OpQUICHandshake, handshakeError(err)))
		rec.add(step)
		return nil
	}
	st := conn.ConnectionState().TLS
	data.Version = tlsVersions[st.Version]
	data.CipherSuite = tls.CipherSuiteName(st.CipherSuite)
	data.ALPN = st.NegotiatedProtocol
	p.verify(data, st.PeerCertificates, serverName)
	finish(&step, nil)
	rec.add(step)
	return &quicConn{addr: addr, conn: conn, tr: tr, pc: pc}
}

// roundTrip3 sends one GET for u over HTTP/3 on qc and records it.
func (p *Probe) roundTrip3(ctx context.Context, rec *recorder, qc *quicConn, u *url.URL) {
	step := newStep(model.OpHTTP3, qc.addr.String(), u.Hostname())
	data := &model.HTTPData{Hop: 0, URL: u.String(), Method: http.MethodGet}
	step.HTTP = data
	rctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := newRequest(rctx, u)
	if err != nil {
		finish(&step, err)
		rec.add(step)
		return
	}
	req.Close = false
	tr := &http3.Transport{MaxResponseHeaderBytes: maxHeaderBytes, DisableCompression: true}
	resp, err := tr.NewClientConn(qc.conn).RoundTrip(req)
	if err != nil {
		finish(&step, err)
		rec.add(step)
		return
	}
	defer resp.Body.Close()
	_, err = recordResponse(data, resp, u, p.cfg.MaxBodyBytes)
	finish(&step, err)
	rec.add(step)
}
