package emunet

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/firewatch/firewatch/internal/lab/policy"
	"github.com/firewatch/firewatch/internal/lab/scenario"
)

// datagram is one UDP packet in flight.
type datagram struct {
	from netip.AddrPort
	data []byte
}

// packetConn is an emulated UDP socket: bound at a lab address, and
// connected when remote is valid (then it is a net.Conn as well).
type packetConn struct {
	n      *Net
	local  netip.AddrPort
	remote netip.AddrPort

	mu       sync.Mutex
	queue    []datagram
	closed   bool
	refused  bool // an ICMP port unreachable arrived (connected sockets)
	deadline time.Time
	wake     chan struct{} // closed when a datagram arrives, the deadline changes or the socket closes
}

// maxQueue bounds the datagrams waiting on one socket (more are dropped, as
// a full socket buffer does).
const maxQueue = 256

// bindUDP binds a UDP socket at local (port 0: an ephemeral port).
func (n *Net) bindUDP(local, remote netip.AddrPort) (*packetConn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ctx.Err() != nil {
		return nil, errClosed
	}
	if local.Port() == 0 {
		// an ephemeral port, as the kernel's range (32768-60999)
		const first, count = 32768, 28232
		start := int(n.nextFlow % count)
		n.nextFlow++
		for i := 0; i < count; i++ {
			ap := netip.AddrPortFrom(local.Addr(), uint16(first+(start+i)%count))
			if _, used := n.udp[ap]; !used {
				local = ap
				break
			}
		}
	}
	if local.Port() == 0 {
		return nil, &net.OpError{Op: "listen", Net: "udp", Addr: net.UDPAddrFromAddrPort(local), Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
	}
	if _, used := n.udp[local]; used {
		return nil, &net.OpError{Op: "listen", Net: "udp", Addr: net.UDPAddrFromAddrPort(local), Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
	}
	pc := &packetConn{n: n, local: local, remote: remote, wake: make(chan struct{})}
	n.udp[local] = pc
	return pc, nil
}

// listenPacket opens a UDP socket of a vantage at src.
func (n *Net) listenPacket(src netip.Addr, network, addr string) (net.PacketConn, error) {
	if network != "udp" && network != "udp4" {
		return nil, &net.OpError{Op: "listen", Net: network, Err: fmt.Errorf("emunet: network %q not emulated", network)}
	}
	port := 0
	if _, p, err := net.SplitHostPort(addr); err == nil && p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 0 || port > 65535 {
			return nil, &net.OpError{Op: "listen", Net: network, Err: fmt.Errorf("emunet: bad port in %q", addr)}
		}
	}
	return n.bindUDP(netip.AddrPortFrom(src, uint16(port)), netip.AddrPort{})
}

// sendUDP carries a datagram from src to dst through the censor: a DNS
// query for a name under a dns-inject rule gets the forged answer at once
// (and, in replace mode, no genuine one); a drop or quic-block rule
// swallows it, and so does the outside's path to a host it cannot reach.
func (n *Net) sendUDP(src, dst netip.AddrPort, b []byte) {
	if n.unreachable(src.Addr(), dst.Addr()) {
		return // the outside's path drops it (control: unreachable)
	}
	if crosses(src.Addr(), dst.Addr()) {
		if dst.Port() == 53 && n.pol.Has(scenario.KindDNSInject) {
			if q, ok := policy.ParseQuery(b); ok {
				if r := n.pol.DNS(q); r != nil {
					if resp, err := policy.ForgeAnswer(q, r.DNSInject); err == nil && n.roll(r.P()) {
						n.logf("dns-inject %s %s %s -> %s", q.Question[0].Name, r.DNSInject.Mode, src, dst)
						n.deliver(dst, src, resp)
						if r.DNSInject.Mode == scenario.ModeReplace {
							return
						}
					}
				}
			}
		}
		if n.pol.Drop(dst, n.roll) != nil {
			return
		}
		if r := n.pol.QUIC(dst, n.roll); r != nil {
			n.logf("quic-block %s -> %s", src, dst)
			return
		}
	}
	if !n.deliver(src, dst, b) && n.live(dst.Addr()) {
		// ICMP port unreachable: a connected socket reads ECONNREFUSED
		n.mu.Lock()
		pc := n.udp[src]
		n.mu.Unlock()
		if pc != nil && pc.remote == dst {
			pc.refuse()
		}
	}
}

// deliver queues a datagram on the socket bound at dst; false when none is.
func (n *Net) deliver(from, dst netip.AddrPort, b []byte) bool {
	n.mu.Lock()
	pc := n.udp[dst]
	n.mu.Unlock()
	if pc == nil {
		return false
	}
	pc.push(datagram{from: from, data: append([]byte(nil), b...)})
	return true
}

// live reports whether a host answers at a (with ICMP errors, at least):
// a scenario host, or an address where something listens.
func (n *Net) live(a netip.Addr) bool {
	if _, ok := n.sc.HostByIP(a); ok {
		return true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for ap := range n.udp {
		if ap.Addr() == a {
			return true
		}
	}
	for ap := range n.tcp {
		if ap.Addr() == a {
			return true
		}
	}
	return false
}

// refuse makes the next read fail with ECONNREFUSED.
func (c *packetConn) refuse() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refused = true
	c.signal()
}

func (c *packetConn) push(d datagram) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || len(c.queue) >= maxQueue {
		return
	}
	if c.remote.IsValid() && d.from != c.remote {
		return
	}
	c.queue = append(c.queue, d)
	c.signal()
}

// signal wakes the readers; the caller holds c.mu.
func (c *packetConn) signal() {
	close(c.wake)
	c.wake = make(chan struct{})
}

// ReadFrom implements net.PacketConn.
func (c *packetConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			d := c.queue[0]
			c.queue = c.queue[1:]
			c.mu.Unlock()
			return copy(p, d.data), net.UDPAddrFromAddrPort(d.from), nil
		}
		if c.closed {
			c.mu.Unlock()
			return 0, nil, c.opErr("read", net.ErrClosed)
		}
		if c.refused {
			c.refused = false
			c.mu.Unlock()
			return 0, nil, c.opErr("read", os.NewSyscallError("recvfrom", syscall.ECONNREFUSED))
		}
		dl, wake := c.deadline, c.wake
		c.mu.Unlock()
		if dl.IsZero() {
			<-wake
			continue
		}
		d := time.Until(dl)
		if d <= 0 {
			return 0, nil, c.opErr("read", os.ErrDeadlineExceeded)
		}
		t := time.NewTimer(d)
		select {
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// WriteTo implements net.PacketConn.
func (c *packetConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, c.opErr("write", fmt.Errorf("emunet: not a UDP address: %v", addr))
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return 0, c.opErr("write", net.ErrClosed)
	}
	dst := ua.AddrPort()
	c.n.sendUDP(c.local, netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port()), p)
	return len(p), nil
}

// Read and Write make a connected socket a net.Conn.
func (c *packetConn) Read(p []byte) (int, error) {
	k, _, err := c.ReadFrom(p)
	return k, err
}

func (c *packetConn) Write(p []byte) (int, error) {
	return c.WriteTo(p, net.UDPAddrFromAddrPort(c.remote))
}

// Close implements net.PacketConn.
func (c *packetConn) Close() error {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	c.closeLocked()
	return nil
}

// closeLocked closes the socket; the caller holds c.n.mu.
func (c *packetConn) closeLocked() {
	if c.n.udp[c.local] == c {
		delete(c.n.udp, c.local)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		c.signal()
	}
}

func (c *packetConn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.local) }

func (c *packetConn) RemoteAddr() net.Addr {
	if !c.remote.IsValid() {
		return nil
	}
	return net.UDPAddrFromAddrPort(c.remote)
}

func (c *packetConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

func (c *packetConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	c.signal()
	return nil
}

func (c *packetConn) SetWriteDeadline(time.Time) error { return nil }

// SetReadBuffer and SetWriteBuffer accept any size: the queue is bounded by
// datagrams (maxQueue), not bytes. quic-go asks for them.
func (c *packetConn) SetReadBuffer(int) error  { return nil }
func (c *packetConn) SetWriteBuffer(int) error { return nil }

func (c *packetConn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "udp", Addr: net.UDPAddrFromAddrPort(c.local), Err: err}
}
