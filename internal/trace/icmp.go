package trace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// ErrNeedRaw is returned when the process may not open raw sockets.
var ErrNeedRaw = errors.New("firewatch trace needs root or CAP_NET_RAW (raw sockets read the ICMP time exceeded of each hop and the censor's packets): run with sudo")

// icmpEvent is an ICMP error quoting one of our packets.
type icmpEvent struct {
	from     netip.Addr
	exceeded bool // time exceeded (else destination unreachable)
}

// flow names a packet we sent: protocol, our port, the destination.
type flow struct {
	proto int
	port  uint16
	dst   netip.Addr
}

// icmpWatch reads every ICMP error arriving at the host and hands those
// quoting one of our flows to its subscriber.
type icmpWatch struct {
	c    *icmp.PacketConn
	mu   sync.Mutex
	subs map[flow]chan icmpEvent
	done chan struct{}
}

func openICMP() (*icmpWatch, error) {
	c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return nil, ErrNeedRaw
		}
		return nil, fmt.Errorf("trace: icmp socket: %w", err)
	}
	w := &icmpWatch{c: c, subs: map[flow]chan icmpEvent{}, done: make(chan struct{})}
	go w.loop()
	return w, nil
}

func (w *icmpWatch) close() {
	w.c.Close()
	<-w.done
}

// subscribe returns the channel of ICMP errors quoting f, and a function
// that ends the subscription.
func (w *icmpWatch) subscribe(f flow) (<-chan icmpEvent, func()) {
	ch := make(chan icmpEvent, 16)
	w.mu.Lock()
	w.subs[f] = ch
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		delete(w.subs, f)
		w.mu.Unlock()
	}
}

func (w *icmpWatch) loop() {
	defer close(w.done)
	buf := make([]byte, 1500)
	for {
		n, peer, err := w.c.ReadFrom(buf)
		if err != nil {
			return
		}
		ev, f, ok := parseICMPError(buf[:n], peer)
		if !ok {
			continue
		}
		w.mu.Lock()
		ch := w.subs[f]
		if ch == nil { // a subscriber for any port of the destination
			ch = w.subs[flow{proto: f.proto, dst: f.dst}]
		}
		w.mu.Unlock()
		if ch != nil {
			select {
			case ch <- ev:
			default:
			}
		}
	}
}

// parseICMPError parses an ICMP time exceeded or destination unreachable
// message and the flow of the packet it quotes.
func parseICMPError(b []byte, peer net.Addr) (icmpEvent, flow, bool) {
	m, err := icmp.ParseMessage(1, b)
	if err != nil {
		return icmpEvent{}, flow{}, false
	}
	var data []byte
	ev := icmpEvent{}
	switch body := m.Body.(type) {
	case *icmp.TimeExceeded:
		data, ev.exceeded = body.Data, true
	case *icmp.DstUnreach:
		data = body.Data
	default:
		return icmpEvent{}, flow{}, false
	}
	ip, ok := peer.(*net.IPAddr)
	if !ok {
		return icmpEvent{}, flow{}, false
	}
	ev.from, _ = netip.AddrFromSlice(ip.IP)
	ev.from = ev.from.Unmap()
	f, ok := quotedFlow(data)
	return ev, f, ok
}

// quotedFlow reads the protocol, source port and destination of the IPv4
// header and first 8 bytes quoted by an ICMP error.
func quotedFlow(data []byte) (flow, bool) {
	h, err := ipv4.ParseHeader(data)
	if err != nil || len(data) < h.Len+4 {
		return flow{}, false
	}
	dst, ok := netip.AddrFromSlice(h.Dst.To4())
	if !ok {
		return flow{}, false
	}
	return flow{proto: h.Protocol, port: binary.BigEndian.Uint16(data[h.Len:]), dst: dst}, true
}

// CheckRaw returns ErrNeedRaw unless the process may open raw sockets.
func CheckRaw() error {
	c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return ErrNeedRaw
		}
		return fmt.Errorf("trace: icmp socket: %w", err)
	}
	return c.Close()
}
