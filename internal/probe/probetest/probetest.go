// Package probetest holds local servers for testing the probe and the code
// built on it: a DNS server that can answer twice, refuse, say NXDOMAIN or
// stay silent; certificate authorities; HTTP, TLS and mail servers that
// misbehave on purpose. Every server listens on 127.0.0.1 and stops with the
// test.
package probetest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/netx"
	"github.com/miekg/dns"
)

// Loopback is the routable list tests pass so that 127.0.0.0/8 answers are
// connected to instead of being bogons.
var Loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// DNS behaviours, chosen by the first label of the queried name.
const (
	NameInject  = "inject"  // an injected A (127.0.0.2) first, the genuine one (127.0.0.1) 20ms later
	NameLate    = "late"    // the genuine A (127.0.0.1) first, an injected one (127.0.0.2) LateGap later
	NameRefused = "refused" // REFUSED
	NameNX      = "nx"      // NXDOMAIN
	NameSilent  = "silent"  // no response at all
	NameBogon   = "bogon"   // A 10.10.10.10
	NameServ    = "servfail"
	NameMany    = "many"  // one answer with ManyAnswers A records, 127.1.0.0 onwards
	NameFlood   = "flood" // FloodResponses responses of FloodAnswers A records each, all distinct, 127.2.0.0 onwards
)

// Sizes of the NameMany and NameFlood answers.
const (
	ManyAnswers    = 3500
	FloodResponses = 5
	FloodAnswers   = 6
)

// LateGap is how long after the genuine answer the "late" name's injected
// answer comes: long after a loopback page has been fetched.
const LateGap = 300 * time.Millisecond

// DNSServer is a UDP and TCP DNS server on 127.0.0.1. Every A query is
// answered 127.0.0.1 unless the first label names a behaviour above; AAAA
// queries get an empty NOERROR.
type DNSServer struct {
	Addr string // ip:port (UDP and TCP)
	pc   net.PacketConn
	mu   sync.Mutex
	n    int
}

// Queries returns how many queries the server received.
func (s *DNSServer) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// NewDNSServer starts a DNS server, stopped by t.Cleanup.
func NewDNSServer(t testing.TB) *DNSServer {
	t.Helper()
	pc, ln := listenUDPAndTCP(t)
	s := &DNSServer{Addr: pc.LocalAddr().String(), pc: pc}
	tcp := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		s.count()
		for _, r := range Answer(q) {
			w.WriteMsg(r)
			break // TCP: one response
		}
	})}
	go tcp.ActivateAndServe()
	go s.serveUDP()
	t.Cleanup(func() { pc.Close(); tcp.Shutdown() })
	return s
}

func (s *DNSServer) count() {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
}

func (s *DNSServer) serveUDP() {
	buf := make([]byte, 65535)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		q := new(dns.Msg)
		if q.Unpack(buf[:n]) != nil {
			continue
		}
		s.count()
		go func() {
			gap := 20 * time.Millisecond
			if len(q.Question) > 0 && strings.HasPrefix(strings.ToLower(q.Question[0].Name), NameLate+".") {
				gap = LateGap
			}
			for i, r := range Answer(q) {
				if i > 0 {
					time.Sleep(gap)
				}
				wire, _ := r.Pack()
				s.pc.WriteTo(wire, from)
			}
		}()
	}
}

// Answer returns the responses the server sends to q, in order.
func Answer(q *dns.Msg) []*dns.Msg {
	if len(q.Question) == 0 {
		return nil
	}
	qq := q.Question[0]
	label := strings.ToLower(strings.SplitN(qq.Name, ".", 2)[0])
	reply := func(rcode int, ips ...string) *dns.Msg {
		r := new(dns.Msg)
		r.SetRcode(q, rcode)
		for _, ip := range ips {
			if qq.Qtype == dns.TypeA {
				r.Answer = append(r.Answer, &dns.A{Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)})
			}
		}
		return r
	}
	if qq.Qtype != dns.TypeA {
		if label == NameSilent {
			return nil
		}
		return []*dns.Msg{reply(dns.RcodeSuccess)}
	}
	switch label {
	case NameInject:
		return []*dns.Msg{reply(dns.RcodeSuccess, "127.0.0.2"), reply(dns.RcodeSuccess, "127.0.0.1")}
	case NameLate:
		return []*dns.Msg{reply(dns.RcodeSuccess, "127.0.0.1"), reply(dns.RcodeSuccess, "127.0.0.2")}
	case NameRefused:
		return []*dns.Msg{reply(dns.RcodeRefused)}
	case NameNX:
		return []*dns.Msg{reply(dns.RcodeNameError)}
	case NameServ:
		return []*dns.Msg{reply(dns.RcodeServerFailure)}
	case NameSilent:
		return nil
	case NameBogon:
		return []*dns.Msg{reply(dns.RcodeSuccess, "10.10.10.10")}
	case NameMany:
		r := reply(dns.RcodeSuccess, loopbackRange(127<<24|1<<16, ManyAnswers)...)
		r.Compress = true // to fit in one datagram
		return []*dns.Msg{r}
	case NameFlood:
		var out []*dns.Msg
		for i := range FloodResponses {
			out = append(out, reply(dns.RcodeSuccess, loopbackRange(127<<24|2<<16|uint32(i*FloodAnswers), FloodAnswers)...))
		}
		return out
	}
	return []*dns.Msg{reply(dns.RcodeSuccess, "127.0.0.1")}
}

// loopbackRange returns n consecutive IPv4 addresses from first.
func loopbackRange(first uint32, n int) []string {
	out := make([]string, n)
	for i := range out {
		a := first + uint32(i)
		out[i] = netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}).String()
	}
	return out
}

// ResolvConf writes a resolv.conf naming addr and returns its path.
func ResolvConf(t testing.TB, addr string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(p, []byte("nameserver "+addr+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// CA is a certificate authority created by a test.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
	PEM  []byte
}

// NewCA creates a CA named name.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"firewatch test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{Cert: cert, key: key, PEM: pemEncode(der)}
}

// Pool returns a pool holding the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// WriteFile writes the CA's PEM to a temporary file and returns its path.
func (ca *CA) WriteFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Leaf issues a server certificate for the names (DNS names or IPs).
func (ca *CA) Leaf(t testing.TB, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key}
}

// Network returns a loopback network for tests: 127.0.0.0/8 routable, the
// given roots, and a system resolver configuration naming dnsAddr (if set).
func Network(t testing.TB, roots *x509.CertPool, dnsAddr string) *netx.Network {
	t.Helper()
	n := &netx.Network{RootCAs: roots, Routable: Loopback}
	if dnsAddr != "" {
		n.SystemResolvConf = ResolvConf(t, dnsAddr)
	}
	return n
}

// samePortTries bounds the search for a port free in every protocol or on
// every address that must share it: the kernel hands out a port free for
// one socket, and another test may hold the same number elsewhere.
const samePortTries = 50

// listenUDPAndTCP returns a UDP socket and a TCP listener on the same port
// of 127.0.0.1, trying new ports while the TCP one is taken.
func listenUDPAndTCP(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	var err error
	for range samePortTries {
		var pc net.PacketConn
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var ln net.Listener
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
	}
	t.Fatalf("no port free for both UDP and TCP in %d tries: %v", samePortTries, err)
	return nil, nil
}

// ListenSamePort returns TCP listeners on one port shared by every host
// (loopback addresses such as 127.0.0.2), closed by t.Cleanup. It tries new
// ports while one of the hosts has the port taken.
func ListenSamePort(t testing.TB, hosts ...string) []net.Listener {
	t.Helper()
	var err error
	for range samePortTries {
		var lns []net.Listener
		if lns, err = listenAllOn(hosts); err == nil {
			t.Cleanup(func() {
				for _, ln := range lns {
					ln.Close()
				}
			})
			return lns
		}
	}
	t.Fatalf("no port free on all of %v in %d tries: %v", hosts, samePortTries, err)
	return nil
}

// listenAllOn listens on a kernel-chosen port of hosts[0], then on the same
// port of the others; on failure it closes what it opened.
func listenAllOn(hosts []string) ([]net.Listener, error) {
	var lns []net.Listener
	port := "0"
	for _, h := range hosts {
		ln, err := net.Listen("tcp", net.JoinHostPort(h, port))
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, err
		}
		lns = append(lns, ln)
		_, port, _ = net.SplitHostPort(ln.Addr().String())
	}
	return lns, nil
}

// Listen returns a TCP listener on 127.0.0.1:0 closed by t.Cleanup.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// Serve accepts connections on ln and runs handle on each in a goroutine.
func Serve(ln net.Listener, handle func(net.Conn)) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
}

// HangServer accepts connections and never answers. It returns its address.
func HangServer(t testing.TB) string {
	t.Helper()
	ln := Listen(t)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	Serve(ln, func(c net.Conn) { <-done })
	return ln.Addr().String()
}

// ResetServer reads a request, sends the start of a response and resets the
// connection. It returns its address.
func ResetServer(t testing.TB) string {
	t.Helper()
	ln := Listen(t)
	Serve(ln, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			l, err := br.ReadString('\n')
			if err != nil || l == "\r\n" {
				break
			}
		}
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n<html><title>partial"))
		time.Sleep(20 * time.Millisecond)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
	})
	return ln.Addr().String()
}

// ClosedPort returns a loopback address nothing listens on.
func ClosedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// ServeDNS serves h over UDP on a port of 127.0.0.1 until the test ends and
// returns the address (ip:port), the server already reading.
func ServeDNS(t testing.TB, h dns.HandlerFunc) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(started) }}
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// Reply answers q with the A records given (IPv4 addresses as text, TTL 60).
func Reply(q *dns.Msg, addrs ...string) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(q)
	for _, a := range addrs {
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
			A: net.ParseIP(a).To4()})
	}
	return m
}
