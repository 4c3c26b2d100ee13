package lab

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/miekg/dns"
)

var (
	shared     *State
	sharedErr  error
	sharedOnce sync.Once
)

// sharedLab brings the lab up once per test binary with testdata/lab.yaml.
func sharedLab(t testing.TB) *State {
	t.Helper()
	needLab(t)
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		start := time.Now()
		shared, sharedErr = Up(ctx, Options{Scenario: "testdata/lab.yaml", Name: testLab, StateDir: testStateDir, Seed: 1, Control: true})
		t.Logf("lab up in %v", time.Since(start).Round(time.Millisecond))
	})
	if sharedErr != nil {
		t.Fatalf("lab up: %v", sharedErr)
	}
	return shared
}

func trustPool(t testing.TB, file string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		t.Fatalf("%s: no certificates", file)
	}
	return p
}

func vantageTrust(t *testing.T, st *State, ns string) *x509.CertPool {
	if ns == tn.Outside {
		return trustPool(t, st.Trust.Outside)
	}
	return trustPool(t, st.Trust.Inside)
}

func httpGet(t *testing.T, ns, url string, roots *x509.CertPool) (*http.Response, []byte, error) {
	t.Helper()
	c := HTTPClientIn(ns, 5*time.Second)
	c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: roots}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(url)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestLabWebFromBothVantages(t *testing.T) {
	st := sharedLab(t)
	for _, ns := range []string{tn.Inside, tn.Outside} {
		t.Run(ns, func(t *testing.T) {
			resp, body, err := httpGet(t, ns, "http://203.0.113.11/", nil)
			if err != nil {
				t.Fatalf("GET skype.tom.example: %v", err)
			}
			if resp.StatusCode != 200 || !bytes.Contains(body, []byte("skype.tom.example")) {
				t.Errorf("got %d %q, want 200 and a page naming skype.tom.example", resp.StatusCode, body)
			}
			// Genuine HTTPS with the lab's public CA, trusted by both vantages.
			c := HTTPClientIn(ns, 5*time.Second)
			c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: vantageTrust(t, st, ns), ServerName: "mail.example.com"}
			r2, err := c.Get("https://203.0.113.20/")
			if err != nil {
				t.Fatalf("https mail.example.com: %v", err)
			}
			r2.Body.Close()
			pub := trustPool(t, st.Trust.PublicCA)
			if _, err := r2.TLS.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pub, DNSName: "mail.example.com"}); err != nil {
				t.Errorf("https chain does not verify with the public CA alone: %v", err)
			}
		})
	}
}

func TestLabInsideRedirect(t *testing.T) {
	sharedLab(t)
	resp, _, err := httpGet(t, tn.Inside, "http://203.0.113.10/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "http://skype.tom.example/" {
		t.Errorf("inside: got %d Location %q, want 302 to http://skype.tom.example/", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body, err := httpGet(t, tn.Outside, "http://203.0.113.10/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("Download Skype")) {
		t.Errorf("outside: got %d %q, want 200 with the Skype page", resp.StatusCode, body)
	}
}

func TestLabDNS(t *testing.T) {
	st := sharedLab(t)
	cases := []struct {
		name, ns, server, q string
		rcode               int
		want                string
	}{
		{"isp resolver", tn.Inside, st.Resolvers.ISP, "www.skype.com", dns.RcodeSuccess, "203.0.113.10"},
		{"public resolver from outside", tn.Outside, st.Resolvers.Public, "mail.example.com", dns.RcodeSuccess, "203.0.113.20"},
		{"public resolver from inside", tn.Inside, st.Resolvers.Public, "mail.example.com", dns.RcodeSuccess, "203.0.113.20"},
		{"authoritative nxdomain", tn.Outside, st.Resolvers.Authoritative, "nosuch.example", dns.RcodeNameError, ""},
		{"host dns service", tn.Outside, "203.0.113.100:53", "www.skype.com", dns.RcodeSuccess, "203.0.113.10"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := QueryIn(c.ns, c.server, c.q, 3*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != c.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[c.rcode])
			}
			if c.want != "" {
				if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != c.want {
					t.Errorf("answer %v, want %s", r.Answer, c.want)
				}
			}
		})
	}
}

// TestLabTraceroute sends TTL-limited UDP probes from the inside and expects
// ICMP time-exceeded from each router hop, then port-unreachable from the host.
func TestLabTraceroute(t *testing.T) {
	sharedLab(t)
	var ic *icmp.PacketConn
	var uc net.PacketConn
	err := InNetns(tn.Inside, func() error {
		var err error
		if ic, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0"); err != nil {
			return err
		}
		uc, err = net.ListenPacket("udp4", "198.51.100.2:0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	defer uc.Close()
	pc := ipv4.NewPacketConn(uc)
	dst := &net.UDPAddr{IP: net.ParseIP("203.0.113.11"), Port: 33434}
	want := append(append([]string{}, hopStrings()...), "203.0.113.11")
	for ttl := 1; ttl <= len(want); ttl++ {
		if err := pc.SetTTL(ttl); err != nil {
			t.Fatal(err)
		}
		if _, err := uc.WriteTo([]byte("firewatch-traceroute"), dst); err != nil {
			t.Fatal(err)
		}
		from, typ := readICMP(t, ic)
		wantType := ipv4.ICMPTypeTimeExceeded
		if ttl == len(want) {
			wantType = ipv4.ICMPTypeDestinationUnreachable
		}
		if from != want[ttl-1] || typ != wantType {
			t.Errorf("ttl %d: got %v from %s, want %v from %s", ttl, typ, from, wantType, want[ttl-1])
		}
	}
}

func hopStrings() []string {
	var s []string
	for _, h := range Hops {
		s = append(s, h.String())
	}
	return s
}

func readICMP(t *testing.T, ic *icmp.PacketConn) (string, ipv4.ICMPType) {
	t.Helper()
	buf := make([]byte, 1500)
	_ = ic.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		n, from, err := ic.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no ICMP answer: %v", err)
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err != nil {
			continue
		}
		if typ, ok := m.Type.(ipv4.ICMPType); ok && (typ == ipv4.ICMPTypeTimeExceeded || typ == ipv4.ICMPTypeDestinationUnreachable) {
			return from.String(), typ
		}
	}
}

func TestLabMailStartTLS(t *testing.T) {
	st := sharedLab(t)
	// From outside (no censor): IMAP STARTTLS with the genuine chain.
	c, err := DialIn(tn.Outside, "203.0.113.20:143", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	banner, _ := r.ReadString('\n')
	if !strings.Contains(banner, "STARTTLS") {
		t.Fatalf("banner %q does not offer STARTTLS", banner)
	}
	io.WriteString(c, "a1 STARTTLS\r\n")
	if l, _ := r.ReadString('\n'); !strings.HasPrefix(l, "a1 OK") {
		t.Fatalf("STARTTLS answer %q", l)
	}
	tc := tls.Client(c, &tls.Config{RootCAs: trustPool(t, st.Trust.Outside), ServerName: "mail.example.com"})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	io.WriteString(tc, "a2 LOGOUT\r\n")
	tr := bufio.NewReader(tc)
	if l, _ := tr.ReadString('\n'); !strings.HasPrefix(l, "* BYE") {
		t.Errorf("LOGOUT answer %q", l)
	}
}

func TestLabExec(t *testing.T) {
	st := sharedLab(t)
	ctx := context.Background()
	code, err := Exec(ctx, testStateDir, ExecSpec{Argv: []string{"sh", "-c", "exit 7"}})
	if err != nil || code != 7 {
		t.Errorf("exit 7: got %d, %v", code, err)
	}
	var out bytes.Buffer
	code, err = Exec(ctx, testStateDir, ExecSpec{From: FromInside, Stdout: &out,
		Argv: []string{"sh", "-c", `echo "$SSL_CERT_FILE|$FIREWATCH_ROUTABLE"; cat /etc/resolv.conf`}})
	if err != nil || code != 0 {
		t.Fatalf("exec: %d %v", code, err)
	}
	if !strings.Contains(out.String(), st.Trust.Inside+"|"+Routable) || !strings.Contains(out.String(), "nameserver 198.51.100.3") {
		t.Errorf("inside environment: %q", out.String())
	}
	out.Reset()
	_, err = Exec(ctx, testStateDir, ExecSpec{From: FromOutside, Stdout: &out, Stdin: strings.NewReader("hello"),
		Argv: []string{"sh", "-c", `echo "$SSL_CERT_FILE"; cat /etc/resolv.conf; cat`}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), st.Trust.Outside) || !strings.Contains(out.String(), "nameserver 192.0.2.53") || !strings.HasSuffix(out.String(), "hello") {
		t.Errorf("outside environment: %q", out.String())
	}
}

func TestLabStatus(t *testing.T) {
	sharedLab(t)
	s, err := GetStatus(context.Background(), testLab, testStateDir)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Up {
		t.Errorf("status not up: %+v", Failed(s.Checks))
	}
}

func TestLabNoRouteOut(t *testing.T) {
	sharedLab(t)
	for _, ns := range tn.Namespaces() {
		_, err := DialIn(ns, "10.1.2.3:80", time.Second)
		if err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Errorf("%s: dial to a non-TEST-NET address: %v, want network unreachable", ns, err)
		}
	}
}

func TestLabControl(t *testing.T) {
	st := sharedLab(t)
	if st.ControlURL != "http://192.0.2.66:8080" {
		t.Fatalf("control URL %q", st.ControlURL)
	}
	for _, ns := range []string{tn.Outside, tn.Inside} {
		resp, body, err := httpGet(t, ns, st.ControlURL+"/metrics", nil)
		if err != nil {
			t.Fatalf("%s: %v", ns, err)
		}
		want := "control --listen 192.0.2.66:8080 --lab --resolver udp://192.0.2.53:53 --ca-file " + st.Trust.Outside
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), want) {
			t.Errorf("%s: got %d %q, want %q", ns, resp.StatusCode, body, want)
		}
		if ns == tn.Inside && !strings.Contains(string(body), "from 198.51.100.2:") {
			t.Errorf("the control should see the probe's own address: %q", body)
		}
	}
	var out bytes.Buffer
	if _, err := Exec(context.Background(), testStateDir, ExecSpec{Stdout: &out, Argv: []string{"sh", "-c", "echo $FIREWATCH_CONTROL"}}); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out.String()) != st.ControlURL {
		t.Errorf("FIREWATCH_CONTROL=%q", out.String())
	}
}

// TestLabControlUnreachable: the outside vantage loses every packet to a
// host with control: unreachable (TCP and DNS), while the inside reaches it.
func TestLabControlUnreachable(t *testing.T) {
	st := sharedLab(t)
	if len(st.ControlUnreachable) != 1 || st.ControlUnreachable[0] != "203.0.113.80" {
		t.Errorf("state control_unreachable %v, want [203.0.113.80]", st.ControlUnreachable)
	}
	if resp, _, err := httpGet(t, tn.Inside, "http://203.0.113.80/", nil); err != nil || resp.StatusCode != 200 {
		t.Errorf("inside: %v, want a 200", err)
	}
	if _, err := QueryIn(tn.Inside, "203.0.113.80:53", "far.example", 2*time.Second); err != nil {
		t.Errorf("inside DNS: %v", err)
	}
	start := time.Now()
	c, err := DialIn(tn.Outside, "203.0.113.80:80", time.Second)
	if err == nil {
		c.Close()
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || time.Since(start) < 900*time.Millisecond {
		t.Errorf("outside: %v after %s, want a timeout (packets dropped)", err, time.Since(start))
	}
	if _, err := QueryIn(tn.Outside, "203.0.113.80:53", "far.example", time.Second); err == nil {
		t.Error("outside DNS: got an answer, want none")
	}
	if resp, _, err := httpGet(t, tn.Outside, "http://203.0.113.10/", nil); err != nil || resp.StatusCode != 200 {
		t.Errorf("outside, another host: %v, want a 200", err)
	}
}

// BenchmarkLabThroughput downloads a 200 kB file from the inside across
// the three hops and the censor (no rule matches it).
func BenchmarkLabThroughput(b *testing.B) {
	sharedLab(b)
	c := HTTPClientIn(tn.Inside, 10*time.Second)
	b.SetBytes(200000)
	for b.Loop() {
		resp, err := c.Get("http://203.0.113.71/big.bin")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkLabDialInside measures a TCP handshake from the inside to a host
// across the censor.
func BenchmarkLabDialInside(b *testing.B) {
	sharedLab(b)
	for b.Loop() {
		c, err := DialIn(tn.Inside, "203.0.113.71:80", 2*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkLabUp measures `lab up` of testdata/lab.yaml with the control:
// namespaces, links, addresses, routes, daemons, censor rules and every
// service answering (the teardown is not timed).
func BenchmarkLabUp(b *testing.B) {
	needLab(b)
	if shared != nil {
		b.Skip("the shared lab is up")
	}
	for b.Loop() {
		st, err := Up(context.Background(), Options{Scenario: "testdata/lab.yaml", Name: testLab, StateDir: testStateDir, Seed: 1, Control: true})
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		_ = st
		if err := Down(context.Background(), testLab, testStateDir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
