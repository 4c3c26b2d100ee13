package censor

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/firewatch/firewatch/internal/lab/pki"
	"github.com/firewatch/firewatch/internal/lab/policy"
)

// soOriginalDst is SO_ORIGINAL_DST from linux/netfilter_ipv4.h.
const soOriginalDst = 80

// originalDst returns the destination a redirected connection was sent to.
func originalDst(c net.Conn) (netip.AddrPort, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return netip.AddrPort{}, errors.New("censor: not a TCP connection")
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, err
	}
	var ap netip.AddrPort
	var serr error
	err = rc.Control(func(fd uintptr) {
		m, err := unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, soOriginalDst)
		if err != nil {
			serr = err
			return
		}
		// struct sockaddr_in: family(2) port(2, big endian) addr(4)
		port := uint16(m.Multiaddr[2])<<8 | uint16(m.Multiaddr[3])
		ap = netip.AddrPortFrom(netip.AddrFrom4([4]byte(m.Multiaddr[4:8])), port)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return ap, fmt.Errorf("censor: SO_ORIGINAL_DST: %w", err)
	}
	return ap, nil
}

// relay copies both ways until both directions end.
func relay(a, b net.Conn) {
	var wg sync.WaitGroup
	cp := func(dst, src net.Conn) {
		defer wg.Done()
		io.Copy(dst, src)
		closeWrite(dst)
	}
	wg.Add(2)
	go cp(a, b)
	go cp(b, a)
	wg.Wait()
	a.Close()
	b.Close()
}

// resetConn closes c so that the peer gets a TCP RST.
func resetConn(c net.Conn) {
	if tc, ok := c.(interface{ SetLinger(int) error }); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// closeWrite shuts down c's writing side (a FIN), or closes it when it
// cannot half-close.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}

// Proxies are the censor's userspace interceptors of diverted TCP flows:
// TLS interception, STARTTLS stripping and the HTTP proxy. The kernel
// censor hands them the connections nftables redirected to it; the
// emulated network (internal/lab/emunet) hands them its own.
type Proxies struct {
	Policy  *policy.Policy
	RogueCA *pki.CA // signs the MITM certificates of rules with ca: rogue (trusted by nobody)
	// RogueTrustedCA signs those of rules with ca: rogue-trusted (trusted
	// inside); a CA of its own, so that the untrusted interception stays
	// untrusted in the same lab.
	RogueTrustedCA *pki.CA
	// Dial connects to the flow's real destination.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	Roll policy.Roll          // the rules' probabilities; nil: always
	Logf func(string, ...any) // one line per intervention; nil discards
}

func (x *Proxies) logf(format string, args ...any) {
	if x.Logf != nil {
		x.Logf(format, args...)
	}
}

func (x *Proxies) roll(p float64) bool {
	if x.Roll == nil {
		return true
	}
	return x.Roll(p)
}

func (x *Proxies) dial(dst netip.AddrPort) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if x.Dial != nil {
		return x.Dial(ctx, "tcp4", dst.String())
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp4", dst.String())
}

// diverted runs serve on a connection nftables redirected to a proxy.
func (e *engine) diverted(what string, serve func(net.Conn, netip.AddrPort)) func(net.Conn) {
	return func(c net.Conn) {
		dst, err := originalDst(c)
		if err != nil {
			e.logf("%s: %v", what, err)
			c.Close()
			return
		}
		serve(c, dst)
	}
}

// MITM handles a connection to dst diverted by a tls-mitm rule: plaintext
// up to STARTTLS where the port speaks it, then TLS terminated with a
// certificate of the rogue CA and relayed to a genuine TLS connection.
func (x *Proxies) MITM(c net.Conn, dst netip.AddrPort) { x.mitm(c, dst, x.RogueCA) }

// MITMTrusted is MITM for a rule with ca: rogue-trusted.
func (x *Proxies) MITMTrusted(c net.Conn, dst netip.AddrPort) { x.mitm(c, dst, x.RogueTrustedCA) }

func (x *Proxies) mitm(c net.Conn, dst netip.AddrPort, ca *pki.CA) {
	defer c.Close()
	up, err := x.dial(dst)
	if err != nil {
		x.logf("mitm: dial %s: %v", dst, err)
		resetConn(c)
		return
	}
	defer up.Close()
	if st := policy.STARTTLS(dst.Port()); st != nil {
		if !x.plainUntilSTARTTLS(c, up, st) {
			return
		}
	}
	x.mitmTLS(c, up, dst, ca)
}

// plainUntilSTARTTLS relays plaintext until the client asks for TLS and the
// server accepts. It reports whether TLS should start now; when it returns
// false, the connection has been relayed to its end.
func (x *Proxies) plainUntilSTARTTLS(c, up net.Conn, st *policy.Upgrade) bool {
	var pending atomic.Pointer[string] // tag of an outstanding upgrade request
	upgrade := make(chan bool, 1)
	stop := make(chan struct{})
	serverDone := make(chan struct{})
	// server -> client, line by line
	go func() {
		defer close(serverDone)
		sr := bufio.NewReader(up)
		for {
			line, err := sr.ReadString('\n')
			// Look at the request before relaying the line: once the client
			// has the line it may ask for TLS, and the line must not be
			// taken for the answer to a request that came after it.
			tag := pending.Load()
			if line != "" {
				if _, werr := io.WriteString(c, line); werr != nil {
					return
				}
			}
			if err != nil {
				closeWrite(c)
				return
			}
			if tag != nil {
				if done, ok := st.Final(*tag, strings.TrimRight(line, "\r\n")); done {
					pending.Store(nil)
					upgrade <- ok
					if ok {
						return
					}
				}
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	cr := bufio.NewReader(c)
	for {
		line, err := cr.ReadString('\n')
		if err != nil {
			if line != "" {
				io.WriteString(up, line)
			}
			closeWrite(up)
			<-serverDone
			return false
		}
		tag, ask := st.Command(strings.TrimRight(line, "\r\n"))
		if ask {
			pending.Store(&tag)
		}
		if _, err := io.WriteString(up, line); err != nil {
			return false
		}
		if !ask {
			continue
		}
		var ok bool
		select {
		case ok = <-upgrade:
		case <-serverDone:
			// The reader may have sent the verdict and ended at once:
			// both cases are ready then, and select picks either.
			select {
			case ok = <-upgrade:
			default:
				return false
			}
		}
		if ok {
			<-serverDone
			if cr.Buffered() > 0 {
				return false // client pipelined data after STARTTLS: give up
			}
			x.logf("mitm %s STARTTLS accepted: intercepting", st.Proto)
			return true
		}
	}
}

// mitmTLS terminates the client's TLS with a rogue certificate and relays to
// a genuine TLS connection with the server.
func (x *Proxies) mitmTLS(c, up net.Conn, dst netip.AddrPort, ca *pki.CA) {
	names := x.Policy.HostNames(dst.Addr())
	var sni string
	cfg := &tls.Config{
		GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
			sni = hi.ServerName
			n := names
			if sni != "" {
				n = []string{sni}
			}
			var ips []netip.Addr
			if len(n) == 0 {
				ips = []netip.Addr{dst.Addr()}
			}
			cert, err := ca.Leaf(n, ips)
			if err != nil {
				return nil, err
			}
			return &cert, nil
		},
	}
	tc := tls.Server(c, cfg)
	tc.SetDeadline(time.Now().Add(15 * time.Second))
	if err := tc.Handshake(); err != nil {
		x.logf("mitm %s: client handshake: %v", dst, err)
		return
	}
	tc.SetDeadline(time.Time{})
	serverName := sni
	if serverName == "" && len(names) > 0 {
		serverName = names[0]
	}
	tu := tls.Client(up, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
	tu.SetDeadline(time.Now().Add(15 * time.Second))
	if err := tu.Handshake(); err != nil {
		x.logf("mitm %s: server handshake: %v", dst, err)
		return
	}
	tu.SetDeadline(time.Time{})
	x.logf("mitm %s sni=%q: intercepting with %s", dst, sni, ca.Cert.Subject.CommonName)
	relayTLS(tc, tu)
}

func relayTLS(a, b *tls.Conn) {
	var wg sync.WaitGroup
	cp := func(dst, src *tls.Conn) {
		defer wg.Done()
		io.Copy(dst, src)
		dst.CloseWrite()
	}
	wg.Add(2)
	go cp(a, b)
	go cp(b, a)
	wg.Wait()
}
