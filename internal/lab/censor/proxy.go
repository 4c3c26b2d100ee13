package censor

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
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
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			dst.Close()
		}
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
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// hostNames returns the scenario names of the host at a, or its address.
func (e *engine) hostNames(a netip.Addr) []string {
	if h, ok := e.byIP[a]; ok {
		return h.Names
	}
	return nil
}

// starttls describes the plaintext upgrade of a mail protocol.
type starttls struct {
	proto string
	// command reports whether a client line asks for TLS, and returns the tag
	// the final server answer carries (IMAP) or "".
	command func(line string) (tag string, ok bool)
	// final reports whether a server line ends the answer, and whether it accepts.
	final func(tag, line string) (done, ok bool)
}

var starttlsByPort = map[uint16]*starttls{
	143: {proto: "imap",
		command: func(l string) (string, bool) {
			f := strings.Fields(l)
			if len(f) == 2 && strings.EqualFold(f[1], "STARTTLS") {
				return f[0], true
			}
			return "", false
		},
		final: func(tag, l string) (bool, bool) {
			f := strings.Fields(l)
			if len(f) >= 2 && f[0] == tag {
				return true, strings.EqualFold(f[1], "OK")
			}
			return false, false
		}},
	110: {proto: "pop3",
		command: func(l string) (string, bool) { return "", strings.EqualFold(strings.TrimSpace(l), "STLS") },
		final: func(_, l string) (bool, bool) {
			return true, strings.HasPrefix(l, "+OK")
		}},
}

func init() {
	smtp := &starttls{proto: "smtp",
		command: func(l string) (string, bool) { return "", strings.EqualFold(strings.TrimSpace(l), "STARTTLS") },
		final: func(_, l string) (bool, bool) {
			if len(l) >= 4 && l[3] == '-' {
				return false, false
			}
			return true, strings.HasPrefix(l, "220")
		}}
	starttlsByPort[25] = smtp
	starttlsByPort[587] = smtp
}

// serveMITM handles a connection diverted by a tls-mitm rule.
func (e *engine) serveMITM(c net.Conn) {
	defer c.Close()
	dst, err := originalDst(c)
	if err != nil {
		e.logf("mitm: %v", err)
		return
	}
	up, err := net.DialTimeout("tcp4", dst.String(), 10*time.Second)
	if err != nil {
		e.logf("mitm: dial %s: %v", dst, err)
		resetConn(c)
		return
	}
	defer up.Close()
	if st, ok := starttlsByPort[dst.Port()]; ok {
		if !e.plainUntilSTARTTLS(c, up, st) {
			return
		}
	}
	e.mitmTLS(c, up, dst)
}

// plainUntilSTARTTLS relays plaintext until the client asks for TLS and the
// server accepts. It reports whether TLS should start now; when it returns
// false, the connection has been relayed to its end.
func (e *engine) plainUntilSTARTTLS(c, up net.Conn, st *starttls) bool {
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
				c.(*net.TCPConn).CloseWrite()
				return
			}
			if tag != nil {
				if done, ok := st.final(*tag, strings.TrimRight(line, "\r\n")); done {
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
			up.(*net.TCPConn).CloseWrite()
			<-serverDone
			return false
		}
		tag, ask := st.command(strings.TrimRight(line, "\r\n"))
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
			e.logf("mitm %s STARTTLS accepted: intercepting", st.proto)
			return true
		}
	}
}

// mitmTLS terminates the client's TLS with a rogue certificate and relays to
// a genuine TLS connection with the server.
func (e *engine) mitmTLS(c, up net.Conn, dst netip.AddrPort) {
	names := e.hostNames(dst.Addr())
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
			cert, err := e.cfg.RogueCA.Leaf(n, ips)
			if err != nil {
				return nil, err
			}
			return &cert, nil
		},
	}
	tc := tls.Server(c, cfg)
	tc.SetDeadline(time.Now().Add(15 * time.Second))
	if err := tc.Handshake(); err != nil {
		e.logf("mitm %s: client handshake: %v", dst, err)
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
		e.logf("mitm %s: server handshake: %v", dst, err)
		return
	}
	tu.SetDeadline(time.Time{})
	e.logf("mitm %s sni=%q: intercepting with the rogue CA", dst, sni)
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

// recorder remembers every byte read through it.
type recorder struct {
	r   io.Reader
	buf bytes.Buffer
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.buf.Write(p[:n])
	return n, err
}

// serveHTTP handles a plain HTTP connection diverted by an http-redirect or
// http-blockpage rule: it answers for matching hosts and relays the rest.
func (e *engine) serveHTTP(c net.Conn) {
	defer c.Close()
	dst, err := originalDst(c)
	if err != nil {
		e.logf("http: %v", err)
		return
	}
	rec := &recorder{r: c}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	req, err := http.ReadRequest(bufio.NewReaderSize(rec, 16384))
	c.SetReadDeadline(time.Time{})
	if err != nil {
		return
	}
	host := strings.ToLower(req.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	// keyword resets apply to diverted connections too
	line := strings.ToLower(req.Method + " " + req.RequestURI + " " + req.Proto)
	for _, r := range e.resets {
		if r.Reset.Has("http") {
			if kw, ok := matchKeyword(r.Reset.Keywords, line, host); ok && e.roll(r.P()) {
				e.logf("reset %q in http (proxy) -> %s", kw, dst)
				resetConn(c)
				return
			}
		}
	}
	for _, r := range e.httpRs {
		switch {
		case r.HTTPRedirect != nil && hostIn(r.HTTPRedirect.Hosts, host):
			if !e.roll(r.P()) {
				continue
			}
			e.logf("http-redirect %s -> %s", host, r.HTTPRedirect.To)
			fmt.Fprintf(c, "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", r.HTTPRedirect.To)
			return
		case r.HTTPBlockpage != nil && hostIn(r.HTTPBlockpage.Hosts, host):
			if !e.roll(r.P()) {
				continue
			}
			bp := r.HTTPBlockpage
			body := fmt.Sprintf("<!DOCTYPE html>\n<html><head><title>%s</title></head><body><h1>%s</h1><p>%s</p></body></html>\n",
				html.EscapeString(bp.Title), html.EscapeString(bp.Title), html.EscapeString(bp.Body))
			e.logf("http-blockpage %s status %d", host, bp.Status)
			fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
				bp.Status, http.StatusText(bp.Status), len(body), body)
			return
		}
	}
	up, err := net.DialTimeout("tcp4", dst.String(), 10*time.Second)
	if err != nil {
		resetConn(c)
		return
	}
	if _, err := up.Write(rec.buf.Bytes()); err != nil {
		up.Close()
		return
	}
	relay(c, up)
}

func hostIn(hosts []string, host string) bool {
	for _, h := range hosts {
		if h == host {
			return true
		}
	}
	return false
}
