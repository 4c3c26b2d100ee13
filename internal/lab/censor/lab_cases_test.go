package censor

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsAnswers sends one query from the client namespace to server and returns
// every response that arrives within wait, in order.
func dnsAnswers(t *testing.T, server, name string, wait time.Duration) []*dns.Msg {
	t.Helper()
	var pc net.PacketConn
	if err := inNS(nsClient, func() (err error) { pc, err = net.ListenPacket("udp4", "0.0.0.0:0"); return }); err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var q dns.Msg
	q.SetQuestion(dns.Fqdn(name), dns.TypeA)
	b, _ := q.Pack()
	dst := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(server))
	if _, err := pc.WriteTo(b, dst); err != nil {
		t.Fatal(err)
	}
	var out []*dns.Msg
	deadline := time.Now().Add(wait)
	buf := make([]byte, 1500)
	for {
		pc.SetReadDeadline(deadline)
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return out
			}
			continue // e.g. ICMP port unreachable
		}
		var m dns.Msg
		if m.Unpack(buf[:n]) == nil && m.Id == q.Id {
			out = append(out, &m)
		}
	}
}

func firstA(m *dns.Msg) string {
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String()
		}
	}
	return ""
}

func TestLabDNS(t *testing.T) {
	labFixture(t)
	cases := []struct {
		name, server, qname string
		want                []string // first A (or rcode name) of each answer, in order
	}{
		{"race", "203.0.113.53:53", "www.facebook.com", []string{"203.0.113.50", genuineAnswer}},
		{"clean", "203.0.113.53:53", "clean.example", []string{genuineAnswer}},
		{"nxdomain race", "203.0.113.53:53", "youtube.com", []string{"NXDOMAIN", genuineAnswer}},
		{"replace", "203.0.113.53:53", "replace.example", []string{"127.0.0.2"}},
		{"no dns server", "203.0.113.54:53", "facebook.com", []string{"203.0.113.50"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msgs := dnsAnswers(t, c.server, c.qname, 400*time.Millisecond)
			var got []string
			for _, m := range msgs {
				if m.Rcode != dns.RcodeSuccess {
					got = append(got, dns.RcodeToString[m.Rcode])
				} else {
					got = append(got, firstA(m))
				}
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Fatalf("got answers %v, want %v", got, c.want)
			}
		})
	}
}

func TestLabDropTimesOut(t *testing.T) {
	labFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := dialIn(ctx, nsClient, "tcp4", "203.0.113.30:80")
	if err == nil {
		c.Close()
		t.Fatal("connected to a blackholed address")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("got %v, want a timeout", err)
		}
	}
}

// TestLabKeywordDrop checks that a keyword-drop keyword silences the
// connection for good: the client's retransmissions (which the hold rules
// let pass after two packets) get no answer, no RST and no FIN either.
func TestLabKeywordDrop(t *testing.T) {
	labFixture(t)
	for name, c := range map[string]struct{ addr, req string }{
		"http host keyword": {"203.0.113.92:80", "GET / HTTP/1.1\r\nHost: www.dropme.example\r\n\r\n"},
		"clean http passes": {"203.0.113.92:80", "GET / HTTP/1.1\r\nHost: clean.example\r\nConnection: close\r\n\r\n"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn, err := dialIn(ctx, nsClient, "tcp4", c.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			io.WriteString(conn, c.req)
			conn.SetReadDeadline(time.Now().Add(3 * time.Second)) // several retransmissions
			b, err := io.ReadAll(conn)
			var ne net.Error
			timedOut := errors.As(err, &ne) && ne.Timeout()
			if strings.Contains(name, "clean") {
				if err != nil || !strings.Contains(string(b), "genuine") {
					t.Fatalf("got %q, %v; want the genuine page", b, err)
				}
				return
			}
			if !timedOut || len(b) != 0 {
				t.Fatalf("got %q, %v; want nothing until the read times out", b, err)
			}
		})
	}
	t.Run("sni keyword", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := dialIn(ctx, nsClient, "tcp4", "203.0.113.92:443")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		tc := tls.Client(c, &tls.Config{ServerName: "www.dropme.example", InsecureSkipVerify: true})
		tc.SetDeadline(time.Now().Add(3 * time.Second))
		err = tc.Handshake()
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("got %v, want a timeout", err)
		}
	})
}

// TestLabDNSTCP checks the dns-tcp rules on a resolver across the censor:
// a reset name gets an RST (the query split over two packets too, and a
// second query on a clean connection), a dropped name silence, a clean
// name its answer, and the same names over UDP their genuine answers.
func TestLabDNSTCP(t *testing.T) {
	labFixture(t)
	const resolver = "203.0.113.55:53"
	query := func(name string) []byte {
		var q dns.Msg
		q.SetQuestion(dns.Fqdn(name), dns.TypeA)
		b, _ := q.Pack()
		return append([]byte{byte(len(b) >> 8), byte(len(b))}, b...)
	}
	// ask writes each part of the stream in its own packet and reads one response.
	ask := func(t *testing.T, c net.Conn, parts ...[]byte) (*dns.Msg, error) {
		t.Helper()
		for i, p := range parts {
			if i > 0 {
				time.Sleep(50 * time.Millisecond) // its own segment (TCP_NODELAY)
			}
			if _, err := c.Write(p); err != nil {
				return nil, err
			}
		}
		c.SetReadDeadline(time.Now().Add(3 * time.Second)) // several retransmissions
		return (&dns.Conn{Conn: c}).ReadMsg()
	}
	dial := func(t *testing.T) net.Conn {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := dialIn(ctx, nsClient, "tcp4", resolver)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	isReset := func(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
	isTimeout := func(err error) bool {
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout()
	}
	cut := query("www.cutdns.example")
	for name, c := range map[string]struct {
		parts [][]byte
		want  string // "answer", "reset" or "timeout"
	}{
		"reset name":          {[][]byte{cut}, "reset"},
		"reset name split":    {[][]byte{cut[:9], cut[9:]}, "reset"},
		"reset length apart":  {[][]byte{cut[:2], cut[2:]}, "reset"},
		"dropped name":        {[][]byte{query("www.quietdns.example")}, "timeout"},
		"below the exact one": {[][]byte{query("a.www.quietdns.example")}, "answer"},
		"clean name":          {[][]byte{query("clean.example")}, "answer"},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := ask(t, dial(t), c.parts...)
			switch {
			case c.want == "answer" && (err != nil || firstA(m) != genuineAnswer):
				t.Fatalf("got %v, %v; want the genuine answer", m, err)
			case c.want == "reset" && !isReset(err):
				t.Fatalf("got %v, %v; want a reset", m, err)
			case c.want == "timeout" && !isTimeout(err):
				t.Fatalf("got %v, %v; want nothing until the read times out", m, err)
			}
		})
	}
	t.Run("second query of a connection", func(t *testing.T) {
		c := dial(t)
		if m, err := ask(t, c, query("clean.example")); err != nil || firstA(m) != genuineAnswer {
			t.Fatalf("first query: got %v, %v; want the genuine answer", m, err)
		}
		if m, err := ask(t, c, cut); !isReset(err) {
			t.Fatalf("second query: got %v, %v; want a reset", m, err)
		}
	})
	t.Run("udp untouched", func(t *testing.T) {
		for _, name := range []string{"www.cutdns.example", "www.quietdns.example"} {
			msgs := dnsAnswers(t, resolver, name, 300*time.Millisecond)
			if len(msgs) != 1 || firstA(msgs[0]) != genuineAnswer {
				t.Errorf("%s over UDP: got %v, want the genuine answer alone", name, msgs)
			}
		}
	})
}

func TestLabReset(t *testing.T) {
	labFixture(t)
	hc := clientHTTP()
	t.Run("clean http passes", func(t *testing.T) {
		resp, err := hc.Get("http://203.0.113.91/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "genuine") {
			t.Fatalf("got %q", b)
		}
	})
	for name, req := range map[string]string{
		"http host keyword":         "GET / HTTP/1.1\r\nHost: www.falun.example\r\n\r\n",
		"http request line keyword": "GET /about/FALUN HTTP/1.1\r\nHost: clean.example\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := dialIn(ctx, nsClient, "tcp4", "203.0.113.90:80")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, req)
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			b, err := io.ReadAll(c)
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("got %q, %v; want connection reset", b, err)
			}
		})
	}
	t.Run("sni keyword", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := dialIn(ctx, nsClient, "tcp4", "203.0.113.90:443")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		tc := tls.Client(c, &tls.Config{ServerName: "www.falun.example", InsecureSkipVerify: true})
		tc.SetDeadline(time.Now().Add(3 * time.Second))
		err = tc.Handshake()
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("got %v, want connection reset", err)
		}
	})
	split := func(t *testing.T, addr, sni string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := dialIn(ctx, nsClient, "tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		hello := clientHello(t, sni)
		c.Write(hello[:60]) // the SNI is in the second packet
		time.Sleep(30 * time.Millisecond)
		c.Write(hello[60:])
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 5)
		_, err = io.ReadFull(c, buf)
		return buf, err
	}
	t.Run("sni keyword split over two packets", func(t *testing.T) {
		if _, err := split(t, "203.0.113.90:443", "www.falun.example"); !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("got %v, want connection reset", err)
		}
	})
	t.Run("clean sni split over two packets", func(t *testing.T) {
		b, err := split(t, "203.0.113.91:443", "clean.example")
		if err != nil || b[0] != 0x16 {
			t.Fatalf("got %x, %v; want a ServerHello", b, err)
		}
	})
	t.Run("clean sni passes", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := dialIn(ctx, nsClient, "tcp4", "203.0.113.91:443")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		tc := tls.Client(c, &tls.Config{ServerName: "clean.example", RootCAs: fix.public.Pool()})
		tc.SetDeadline(time.Now().Add(3 * time.Second))
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
	})
}

// tlsChain dials addr from the client and returns the presented chain.
func tlsChain(t *testing.T, addr, name string) []*x509.Certificate {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := dialIn(ctx, nsClient, "tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc := tls.Client(c, &tls.Config{ServerName: name, InsecureSkipVerify: true})
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return tc.ConnectionState().PeerCertificates
}

func verifiesWith(chain []*x509.Certificate, name string, pool *x509.CertPool) bool {
	_, err := chain[0].Verify(x509.VerifyOptions{DNSName: name, Roots: pool})
	return err == nil
}

func TestLabMITM(t *testing.T) {
	f := labFixture(t)
	t.Run("993 rogue", func(t *testing.T) {
		chain := tlsChain(t, "203.0.113.20:993", "mail.example")
		if verifiesWith(chain, "mail.example", f.public.Pool()) || !verifiesWith(chain, "mail.example", f.rogue.Pool()) {
			t.Fatalf("chain on 993 issued by %q, want the rogue CA", chain[0].Issuer)
		}
	})
	t.Run("443 genuine", func(t *testing.T) {
		chain := tlsChain(t, "203.0.113.20:443", "mail.example")
		if !verifiesWith(chain, "mail.example", f.public.Pool()) {
			t.Fatalf("chain on 443 issued by %q, want the public CA", chain[0].Issuer)
		}
	})
	t.Run("443 trusted rogue on a diverted address", func(t *testing.T) {
		// ca: rogue-trusted has a CA of its own: the untrusted rogue CA of
		// the rule on 203.0.113.20 does not verify it, nor the reverse.
		chain := tlsChain(t, "203.0.113.21:443", "mitm443.example")
		if !verifiesWith(chain, "mitm443.example", f.rogueTrusted.Pool()) || verifiesWith(chain, "mitm443.example", f.rogue.Pool()) {
			t.Fatalf("chain on 203.0.113.21:443 issued by %q, want the trusted rogue CA only", chain[0].Issuer)
		}
		if chain := tlsChain(t, "203.0.113.20:993", "mail.example"); verifiesWith(chain, "mail.example", f.rogueTrusted.Pool()) {
			t.Fatalf("the untrusted interception on 993 verifies with the trusted rogue CA")
		}
	})
	t.Run("sni keyword on a diverted address", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := dialIn(ctx, nsClient, "tcp4", "203.0.113.21:443")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		tc := tls.Client(c, &tls.Config{ServerName: "falun.mitm443.example", InsecureSkipVerify: true})
		tc.SetDeadline(time.Now().Add(3 * time.Second))
		if err := tc.Handshake(); !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("got %v, want connection reset", err)
		}
	})
	t.Run("143 starttls rogue", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := dialIn(ctx, nsClient, "tcp4", "203.0.113.20:143")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(c)
		if l, _ := r.ReadString('\n'); !strings.Contains(l, "genuine ready") {
			t.Fatalf("got greeting %q", l)
		}
		io.WriteString(c, "a1 STARTTLS\r\n")
		if l, _ := r.ReadString('\n'); !strings.HasPrefix(l, "a1 OK") {
			t.Fatalf("got %q, want a1 OK", l)
		}
		tc := tls.Client(c, &tls.Config{ServerName: "mail.example", InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		chain := tc.ConnectionState().PeerCertificates
		if !verifiesWith(chain, "mail.example", f.rogue.Pool()) {
			t.Fatalf("STARTTLS chain issued by %q, want the rogue CA", chain[0].Issuer)
		}
		io.WriteString(tc, "a2 NOOP\r\n")
		if l, _ := bufio.NewReader(tc).ReadString('\n'); !strings.Contains(l, "a2 OK NOOP genuine") {
			t.Fatalf("got %q after TLS, want the genuine server's answer", l)
		}
	})
}

func TestLabHTTP(t *testing.T) {
	labFixture(t)
	hc := clientHTTP()
	t.Run("redirect", func(t *testing.T) {
		req, _ := newRequest("http://203.0.113.61/", "www.example.org")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 302 || resp.Header.Get("Location") != "http://warning.example/" {
			t.Fatalf("got %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("blockpage", func(t *testing.T) {
		req, _ := newRequest("http://203.0.113.62/", "www.example.net")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 451 || !strings.Contains(string(b), "<title>Blocked</title>") {
			t.Fatalf("got %d %q", resp.StatusCode, b)
		}
	})
	t.Run("other host on a diverted address is relayed", func(t *testing.T) {
		req, _ := newRequest("http://203.0.113.62/", "other.example")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "genuine other.example") {
			t.Fatalf("got %d %q", resp.StatusCode, b)
		}
	})
}

// TestLabHTTPProxy: the http-proxy rules' proxy in the kernel censor
// relays a page unchanged, or with the script before </body> and a
// Content-Length that fits.
func TestLabHTTPProxy(t *testing.T) {
	labFixture(t)
	hc := clientHTTP()
	for _, c := range []struct {
		name, addr, host, want string
	}{
		{"no rewrite", "203.0.113.65", "www.plainproxy.example", "<html><body><p>genuine www.plainproxy.example</p></body></html>\n"},
		{"inject", "203.0.113.66", "www.injproxy.example", "<html><body><p>genuine www.injproxy.example</p><script>injected()</script></body></html>\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for i := 0; i < 2; i++ { // the second request on the kept-alive connection too
				req, _ := newRequest("http://"+c.addr+"/page", c.host)
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != c.want || resp.ContentLength != int64(len(b)) {
					t.Fatalf("request %d: got %q (Content-Length %d, %v), want %q", i, b, resp.ContentLength, err, c.want)
				}
			}
		})
	}
}

func TestLabThrottle(t *testing.T) {
	labFixture(t)
	hc := clientHTTP()
	fetch := func(url string) time.Duration {
		start := time.Now()
		resp, err := hc.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != 100000 {
			t.Fatalf("got %d bytes, %v", n, err)
		}
		return time.Since(start)
	}
	fast := fetch("http://203.0.113.71/big?n=100000")
	slow := fetch("http://203.0.113.70/big?n=100000")
	t.Logf("100 kB unthrottled %v, throttled to 400kbps %v", fast, slow)
	if slow < 400*time.Millisecond || slow < 5*fast {
		t.Fatalf("throttled transfer took %v, unthrottled %v: want far slower", slow, fast)
	}
}

func newRequest(url, host string) (*http.Request, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return nil, err
	}
	req.Host = host
	return req, nil
}
