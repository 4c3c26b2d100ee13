package emunet

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/firewatch/firewatch/internal/lab"
	"github.com/firewatch/firewatch/internal/lab/policy"
	"github.com/firewatch/firewatch/internal/lab/scenario"
)

// loopback returns the loopback address that stands for the lab address a
// on sockets: 192.0.2.x is 127.1.2.x, 198.51.100.x is 127.2.100.x and
// 203.0.113.x is 127.3.113.x.
func loopback(a netip.Addr) (netip.Addr, bool) {
	b := a.Unmap().As4()
	var code byte
	switch {
	case b[0] == 192 && b[1] == 0 && b[2] == 2:
		code = 1
	case b[0] == 198 && b[1] == 51 && b[2] == 100:
		code = 2
	case b[0] == 203 && b[1] == 0 && b[2] == 113:
		code = 3
	default:
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte{127, code, b[2], b[3]}), true
}

// fromLoopback is the inverse of loopback.
func fromLoopback(a netip.Addr) (netip.Addr, bool) {
	b := a.Unmap().As4()
	if b[0] != 127 {
		return netip.Addr{}, false
	}
	switch b[1] {
	case 1:
		return netip.AddrFrom4([4]byte{192, 0, 2, b[3]}), b[2] == 2
	case 2:
		return netip.AddrFrom4([4]byte{198, 51, 100, b[3]}), b[2] == 100
	case 3:
		return netip.AddrFrom4([4]byte{203, 0, 113, b[3]}), b[2] == 113
	}
	return netip.Addr{}, false
}

// labAddr returns the lab address of a loopback socket address.
func labAddr(a net.Addr) net.Addr {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a
	}
	ap := ta.AddrPort()
	if la, ok := fromLoopback(ap.Addr()); ok {
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(la, ap.Port()))
	}
	return a
}

// conn is a loopback TCP connection that names its lab addresses.
type conn struct {
	*net.TCPConn
	local, remote net.Addr
	link          *limiter // the vantage's link speed; nil: loopback's
}

// Read reads at the link's speed.
func (c *conn) Read(p []byte) (int, error) {
	if c.link != nil && len(p) > c.link.burst {
		p = p[:c.link.burst]
	}
	k, err := c.TCPConn.Read(p)
	if k > 0 && c.link != nil {
		c.link.wait(context.Background(), k)
	}
	return k, err
}

func (c *conn) LocalAddr() net.Addr  { return c.local }
func (c *conn) RemoteAddr() net.Addr { return c.remote }

// binder opens the services' sockets on the emulated network.
type binder struct{ n *Net }

// Listen listens on a loopback port for the lab address addr.
func (b binder) Listen(network, addr string) (net.Listener, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("emunet: listen %s: %w", addr, err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b.n.mu.Lock()
	defer b.n.mu.Unlock()
	if _, dup := b.n.tcp[ap]; dup {
		ln.Close()
		return nil, fmt.Errorf("emunet: listen %s: %w", addr, syscall.EADDRINUSE)
	}
	b.n.tcp[ap] = ln.Addr().String()
	go func() { <-b.n.ctx.Done(); ln.Close() }()
	return &listener{Listener: ln, addr: net.TCPAddrFromAddrPort(ap)}, nil
}

// ListenPacket binds an emulated UDP socket at the lab address addr.
func (b binder) ListenPacket(network, addr string) (net.PacketConn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("emunet: listen %s: %w", addr, err)
	}
	return b.n.bindUDP(ap, netip.AddrPort{})
}

// listener hands out connections that name their lab addresses.
type listener struct {
	net.Listener
	addr net.Addr
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &conn{TCPConn: c.(*net.TCPConn), local: l.addr, remote: labAddr(c.RemoteAddr())}, nil
}

func (l *listener) Addr() net.Addr { return l.addr }

// dialer returns the DialContext of a vantage at src.
func (n *Net) dialer(src netip.Addr) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		switch network {
		case "udp", "udp4":
			ap, err := netip.ParseAddrPort(addr)
			if err != nil {
				return nil, &net.OpError{Op: "dial", Net: network, Err: err}
			}
			return n.bindUDP(netip.AddrPortFrom(src, 0), ap)
		case "tcp", "tcp4":
			c, err := n.dialTCP(ctx, src, addr)
			if err != nil {
				return nil, err
			}
			if n.opts.LinkRate > 0 {
				burst := 64 << 10
				c.link = &limiter{rate.NewLimiter(rate.Limit(n.opts.LinkRate), burst), burst}
			}
			return c, nil
		}
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("emunet: network %q not emulated", network)}
	}
}

// opErr is the error a dial to addr fails with.
func opErr(addr netip.AddrPort, err error) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(addr), Err: err}
}

// dialTCP connects src to addr through the censor.
func (n *Net) dialTCP(ctx context.Context, src netip.Addr, addr string) (*conn, error) {
	dst, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("emunet: %q is not an address", addr)}
	}
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	if n.unreachable(src, dst.Addr()) {
		n.faultf("outside cannot reach %s (control: unreachable)", dst)
		return nil, n.blackhole(ctx, dst)
	}
	if !crosses(src, dst.Addr()) {
		return n.dialDirect(ctx, src, dst)
	}
	f := &flow{src: src, dst: dst}
	var r *scenario.Rule
	f.div, r = n.pol.Divert(dst, n.roll)
	f.trustedCA = r != nil && r.TLSMITM != nil && r.TLSMITM.Trusted()
	if f.div == policy.Forward {
		if r := n.pol.Drop(dst, n.roll); r != nil {
			n.logf("drop %s -> %s", src, dst)
			return nil, n.blackhole(ctx, dst)
		}
		if r := n.pol.Throttle(dst.Addr(), n.roll); r != nil {
			f.limit = n.limiter(r)
		}
	}
	f.inspect = slices.Contains(n.pol.InspectPorts(), dst.Port())
	if f.div == policy.Forward && f.limit[0] == nil && !f.inspect {
		return n.dialDirect(ctx, src, dst)
	}
	if f.div == policy.Forward {
		if _, err := n.upstream(dst); err != nil {
			return nil, err
		}
	}
	return n.dialFlow(ctx, f)
}

// blackhole blocks until ctx ends, as a connect whose packets are dropped.
func (n *Net) blackhole(ctx context.Context, dst netip.AddrPort) error {
	select {
	case <-ctx.Done():
		return opErr(dst, ctx.Err())
	case <-n.ctx.Done():
		return opErr(dst, errClosed)
	}
}

// upstream returns the loopback address of the server at dst, or the error
// a connect to it gets: refused by a host without that service,
// unreachable where no host is (the outside vantage is a host: with
// control: down nothing listens there).
func (n *Net) upstream(dst netip.AddrPort) (string, error) {
	n.mu.Lock()
	real, ok := n.tcp[dst]
	hostKnown := false
	for ap := range n.tcp {
		if ap.Addr() == dst.Addr() {
			hostKnown = true
			break
		}
	}
	n.mu.Unlock()
	if ok {
		return real, nil
	}
	if _, isHost := n.sc.HostByIP(dst.Addr()); isHost || hostKnown || dst.Addr() == lab.OutsideAddr {
		return "", opErr(dst, os.NewSyscallError("connect", syscall.ECONNREFUSED))
	}
	return "", opErr(dst, os.NewSyscallError("connect", syscall.EHOSTUNREACH))
}

// dialDirect connects src to the server at dst with no censor between.
func (n *Net) dialDirect(ctx context.Context, src netip.Addr, dst netip.AddrPort) (*conn, error) {
	real, err := n.upstream(dst)
	if err != nil {
		return nil, err
	}
	return n.dialLoopback(ctx, src, real, dst)
}

// dialLoopback opens a loopback connection from src's loopback address.
func (n *Net) dialLoopback(ctx context.Context, src netip.Addr, real string, dst netip.AddrPort) (*conn, error) {
	lsrc, ok := loopback(src)
	if !ok {
		return nil, opErr(dst, fmt.Errorf("emunet: %s is not a lab address", src))
	}
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(lsrc, 0))}
	c, err := d.DialContext(ctx, "tcp4", real)
	if err != nil {
		return nil, opErr(dst, err)
	}
	return &conn{TCPConn: c.(*net.TCPConn), local: labAddr(c.LocalAddr()), remote: net.TCPAddrFromAddrPort(dst)}, nil
}

// flow is a TCP connection the censor looks at: the client's end is
// connected to the router, which applies the policy and reaches the server.
type flow struct {
	src netip.Addr
	dst netip.AddrPort
	div policy.Diversion
	// trustedCA: a MITM diversion by a ca: rogue-trusted rule.
	trustedCA bool
	limit     [2]*limiter // toward the server, toward the client
	inspect   bool        // reset, keyword-drop or dns-tcp rules look at the stream
	conns     []net.Conn
	mu        sync.Mutex
}

func (f *flow) hold(c net.Conn) {
	f.mu.Lock()
	f.conns = append(f.conns, c)
	f.mu.Unlock()
}

func (f *flow) abort() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
}

// dialFlow connects the client to the router, which serves the flow.
func (n *Net) dialFlow(ctx context.Context, f *flow) (*conn, error) {
	n.mu.Lock()
	n.nextFlow++
	id := n.nextFlow
	n.flows[id] = f
	n.mu.Unlock()
	c, err := n.dialLoopback(ctx, f.src, n.router.Addr().String(), f.dst)
	if err != nil {
		n.mu.Lock()
		delete(n.flows, id)
		n.mu.Unlock()
		return nil, err
	}
	var pre [8]byte
	binary.BigEndian.PutUint64(pre[:], id)
	if _, err := c.Write(pre[:]); err != nil {
		c.Close()
		return nil, opErr(f.dst, err)
	}
	return c, nil
}

// route accepts the flows' connections and serves each.
func (n *Net) route(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.serveFlow(c.(*net.TCPConn))
		}()
	}
}

// serveFlow applies the policy to one flow.
func (n *Net) serveFlow(tc *net.TCPConn) {
	defer tc.Close()
	var pre [8]byte
	tc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(tc, pre[:]); err != nil {
		return
	}
	tc.SetReadDeadline(time.Time{})
	id := binary.BigEndian.Uint64(pre[:])
	n.mu.Lock()
	f := n.flows[id] // kept until the flow ends, so that Close ends it
	n.mu.Unlock()
	if f == nil {
		return
	}
	defer func() {
		n.mu.Lock()
		delete(n.flows, id)
		n.mu.Unlock()
	}()
	c := &conn{TCPConn: tc, local: net.TCPAddrFromAddrPort(f.dst), remote: labAddr(tc.RemoteAddr())}
	f.hold(c)
	var head []byte
	exempt := false
	if f.inspect {
		var stopped bool
		head, stopped, exempt = n.inspectStart(c, f)
		if stopped {
			return
		}
	}
	client := &headConn{conn: c, head: head}
	switch f.div {
	case policy.MITM:
		if f.trustedCA {
			n.proxies.MITMTrusted(client, f.dst)
		} else {
			n.proxies.MITM(client, f.dst)
		}
		return
	case policy.Strip:
		n.proxies.Strip(client, f.dst)
		return
	case policy.HTTP:
		n.proxies.HTTP(client, f.dst)
		return
	}
	real, err := n.upstream(f.dst)
	if err != nil {
		reset(c)
		return
	}
	up, err := n.dialLoopback(n.ctx, f.src, real, f.dst)
	if err != nil {
		reset(c)
		return
	}
	defer up.Close()
	f.hold(up)
	n.relay(f, client, up, f.inspect && !exempt)
}

// inspectStart reads the start of the stream until the reset,
// keyword-drop and dns-tcp rules can decide, as the kernel censor holds the first
// payload packets. It returns the bytes read, whether the flow was reset or
// dropped (then it has ended), and whether the rules' probability spared it.
func (n *Net) inspectStart(c *conn, f *flow) (head []byte, stopped, exempt bool) {
	buf := make([]byte, 0, 4096)
	chunk := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	for reads := 0; ; reads++ {
		k, err := c.Read(chunk)
		buf = append(buf, chunk[:k]...)
		m, complete := n.pol.Inspect(f.dst.Port(), buf)
		if m.Rule != nil {
			if n.roll(m.Rule.P()) {
				n.logf("%s %q in %s %s -> %s", m.Label(), m.Keyword, m.Where, f.src, f.dst)
				if m.Drop() {
					n.silence(c)
					return nil, true, false
				}
				reset(c)
				return nil, true, false
			}
			return buf, false, true
		}
		// the kernel holds two payload packets at most
		if complete || err != nil || reads >= 1 && len(buf) >= 2*1448 || len(buf) >= 16384 {
			return buf, false, false
		}
	}
}

// silence is a flow whose packets the censor drops from now on: the client
// hears nothing more (no data, no FIN, no RST) until it gives up.
func (n *Net) silence(c *conn) {
	stop := context.AfterFunc(n.ctx, func() { c.Close() })
	defer stop()
	c.SetReadDeadline(time.Time{})
	io.Copy(io.Discard, c.TCPConn)
}

// relay copies both ways; with inspect, every later chunk from the client
// is looked at by those rules too (the kernel looks at every packet).
func (n *Net) relay(f *flow, client *headConn, up *conn, inspect bool) {
	var dropped atomic.Bool // a keyword-drop or dns-tcp drop rule silenced the flow
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			k, err := client.Read(buf)
			if k > 0 {
				if inspect {
					if m, _ := n.pol.Inspect(f.dst.Port(), buf[:k]); m.Drop() {
						n.logf("%s %q in %s %s -> %s", m.Label(), m.Keyword, m.Where, f.src, f.dst)
						dropped.Store(true)
						up.Close()
						io.Copy(io.Discard, client.conn.TCPConn)
						return
					} else if m.Rule != nil {
						n.logf("%s %q in %s %s -> %s", m.Label(), m.Keyword, m.Where, f.src, f.dst)
						reset(client.conn)
						reset(up)
						return
					}
				}
				if werr := f.limit[0].wait(n.ctx, k); werr != nil {
					return
				}
				if _, werr := up.Write(buf[:k]); werr != nil {
					reset(client.conn)
					return
				}
			}
			if err != nil {
				up.CloseWrite()
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			size := len(buf)
			if f.limit[1] != nil {
				size = min(size, f.limit[1].burst)
			}
			k, err := up.Read(buf[:size])
			if dropped.Load() {
				return
			}
			if k > 0 {
				if werr := f.limit[1].wait(n.ctx, k); werr != nil {
					return
				}
				if _, werr := client.Write(buf[:k]); werr != nil {
					reset(up)
					return
				}
			}
			if err != nil {
				if isReset(err) {
					reset(client.conn)
				} else {
					client.CloseWrite()
				}
				return
			}
		}
	}()
	wg.Wait()
}

// headConn is the client's end of a flow whose first bytes were already read.
type headConn struct {
	*conn
	mu   sync.Mutex
	head []byte
}

func (h *headConn) Read(p []byte) (int, error) {
	h.mu.Lock()
	if len(h.head) > 0 {
		k := copy(p, h.head)
		h.head = h.head[k:]
		h.mu.Unlock()
		return k, nil
	}
	h.mu.Unlock()
	return h.conn.Read(p)
}

// reset closes c so that its peer gets a TCP RST.
func reset(c *conn) {
	c.SetLinger(0)
	c.Close()
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

// limiter is a token bucket: one direction of a throttled flow, or a
// vantage's link.
type limiter struct {
	l     *rate.Limiter
	burst int
}

// wait blocks until k bytes may pass (a nil limiter lets everything pass).
func (l *limiter) wait(ctx context.Context, k int) error {
	if l == nil {
		return nil
	}
	for k > 0 {
		c := min(k, l.burst)
		if err := l.l.WaitN(ctx, c); err != nil {
			return err
		}
		k -= c
	}
	return nil
}

// limiter returns the two buckets of a flow a throttle rule limits: its
// rate (times Options.ThrottleScale) in bytes per second, and the kernel
// censor's burst (a quarter second, at least four full-sized packets). The
// kernel's nftables limit is one bucket for every flow the rule matches;
// here each flow has its own, so that expectations measured at once do not
// slow each other down.
func (n *Net) limiter(r *scenario.Rule) [2]*limiter {
	scale := n.opts.ThrottleScale
	if scale <= 0 {
		scale = 1
	}
	perSec := max(int64(float64(r.Throttle.Rate)*scale)/8, 1)
	burst := int(max(perSec/4, 4*1514))
	return [2]*limiter{
		{rate.NewLimiter(rate.Limit(perSec), burst), burst},
		{rate.NewLimiter(rate.Limit(perSec), burst), burst},
	}
}
