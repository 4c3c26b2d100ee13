package policy

import (
	"crypto/tls"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/miekg/dns"
)

// clientHello captures the first flight of a crypto/tls client.
func clientHello(t testing.TB, sni string) []byte {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		c := tls.Client(a, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		c.Handshake()
	}()
	buf := make([]byte, 16384)
	b.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _ := b.Read(buf)
	b.Close()
	a.Close()
	return buf[:n]
}

func TestParseSNI(t *testing.T) {
	hello := clientHello(t, "www.FaLun.example")
	got, err := parseSNI(hello)
	if err != nil || got != "www.falun.example" {
		t.Fatalf("got %q, %v", got, err)
	}
	if got, err := parseSNI(clientHello(t, "")); err != nil || got != "" {
		t.Fatalf("no SNI: got %q, %v", got, err)
	}
	if _, err := parseSNI([]byte("GET / HTTP/1.1\r\n")); err == nil {
		t.Error("HTTP parsed as a ClientHello")
	}
	for i := 0; i < len(hello); i += 7 {
		parseSNI(hello[:i]) // must not panic
	}
}

func TestStreamStates(t *testing.T) {
	hello := clientHello(t, "www.falun.example")
	if s, st := sniOf(hello); st != streamDone || s != "www.falun.example" {
		t.Errorf("whole hello: got %q %d", s, st)
	}
	if _, st := sniOf(hello[:60]); st != streamIncomplete {
		t.Errorf("60 bytes of a hello: got state %d, want incomplete", st)
	}
	if _, st := sniOf([]byte("GET / HTTP/1.1")); st != streamOther {
		t.Errorf("HTTP: got state %d", st)
	}
	if !mayBecomeHTTP([]byte("GE")) || mayBecomeHTTP([]byte("GET ")) || mayBecomeHTTP([]byte("XY")) {
		t.Error("mayBecomeHTTP")
	}
	if httpHeadComplete([]byte("GET / HTTP/1.1\r\nHost: a\r\n")) || !httpHeadComplete([]byte("GET / HTTP/1.1\r\n\r\n")) {
		t.Error("httpHeadComplete")
	}
}

func TestHTTPRequestParts(t *testing.T) {
	line, host, ok := httpRequestParts([]byte("GET /FaLun?q=1 HTTP/1.1\r\nUser-Agent: x\r\nHOST: Www.Example.org\r\n\r\nbody host: nope"))
	if !ok || line != "get /falun?q=1 http/1.1" || host != "www.example.org" {
		t.Fatalf("got %q %q %v", line, host, ok)
	}
	if _, _, ok := httpRequestParts([]byte("\x16\x03\x01")); ok {
		t.Error("TLS parsed as HTTP")
	}
	if kw, ok := matchKeyword([]string{"falun"}, line, host); !ok || kw != "falun" {
		t.Errorf("keyword not found")
	}
	if _, ok := matchKeyword([]string{"falun"}, "get / http/1.1", "clean.example"); ok {
		t.Errorf("keyword found in a clean request")
	}
}

func TestForgeDNS(t *testing.T) {
	rule := &scenario.DNSInject{NamePatterns: scenario.NamePatterns{Names: []string{"facebook.com"}}, Answers: []netip.Addr{netip.MustParseAddr("203.0.113.50"), netip.MustParseAddr("::1")}, Mode: "race"}
	nx := &scenario.DNSInject{NamePatterns: scenario.NamePatterns{Names: []string{"youtube.com"}}, Rcode: "nxdomain"}
	query := func(name string, qt uint16) []byte {
		var q dns.Msg
		q.SetQuestion(name, qt)
		q.Id = 4242
		b, _ := q.Pack()
		return b
	}
	b, name, ok := ForgeDNS(query("www.facebook.com.", dns.TypeA), rule)
	if !ok || name != "www.facebook.com." {
		t.Fatalf("not forged: %q", name)
	}
	var m dns.Msg
	if err := m.Unpack(b); err != nil || m.Id != 4242 || !m.Response || len(m.Answer) != 1 || firstA(&m) != "203.0.113.50" {
		t.Fatalf("got %v %v", &m, err)
	}
	b, _, _ = ForgeDNS(query("www.facebook.com.", dns.TypeAAAA), rule)
	m.Unpack(b)
	if len(m.Answer) != 1 || m.Answer[0].(*dns.AAAA).AAAA.String() != "::1" {
		t.Fatalf("AAAA: got %v", m.Answer)
	}
	b, _, ok = ForgeDNS(query("youtube.com.", dns.TypeA), nx)
	m.Unpack(b)
	if !ok || m.Rcode != dns.RcodeNameError || len(m.Answer) != 0 {
		t.Fatalf("nxdomain: got %v", &m)
	}
	if _, name, ok := ForgeDNS(query("notfacebook.com.", dns.TypeA), rule); ok || name == "" {
		t.Errorf("forged for an unrelated name")
	}
	if _, name, _ := ForgeDNS([]byte("garbage"), rule); name != "" {
		t.Errorf("garbage accepted")
	}
}

func FuzzParseSNI(f *testing.F) {
	f.Add(clientHello(f, "www.falun.example"))
	f.Add([]byte{0x16, 0x03, 0x01, 0, 4, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		parseSNI(b)
		if s, st := sniOf(b); st != streamDone && s != "" {
			t.Fatalf("SNI %q from an undecided stream", s)
		}
	})
}

func FuzzHTTPRequestParts(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		httpRequestParts(b)
		httpHeadComplete(b)
		if mayBecomeHTTP(b) && looksLikeHTTP(b) {
			t.Fatal("both a method prefix and a method")
		}
	})
}

func FuzzForgeDNS(f *testing.F) {
	var q dns.Msg
	q.SetQuestion("www.facebook.com.", dns.TypeA)
	b, _ := q.Pack()
	f.Add(b)
	rule := &scenario.DNSInject{NamePatterns: scenario.NamePatterns{Names: []string{"facebook.com"}}, Answers: []netip.Addr{netip.MustParseAddr("203.0.113.50")}}
	f.Fuzz(func(t *testing.T, b []byte) { ForgeDNS(b, rule) })
}

func firstA(m *dns.Msg) string {
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String()
		}
	}
	return ""
}
