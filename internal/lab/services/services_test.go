package services

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/firewatch/firewatch/internal/lab/pki"
	"github.com/firewatch/firewatch/internal/lab/scenario"
)

var testHosts = []scenario.Host{
	{
		Names: []string{"www.skype.com", "skype.com"}, IP: netip.MustParseAddr("203.0.113.10"),
		Services: []string{"http", "https"},
		Pages: map[string]scenario.Page{
			"/":               {Title: "Skype", Body: "Download Skype for Windows"},
			"/SkypeSetup.exe": {Size: 100000, Seed: "official"},
			"/gone":           {Title: "Gone", Status: 410},
		},
		Inside: &scenario.InsideBehavior{Redirect: "http://skype.tom.example/"},
	},
	{
		Names: []string{"mail.example.com"}, IP: netip.MustParseAddr("203.0.113.20"),
		Services: []string{"imap", "imaps", "smtp", "smtps", "submission", "pop3", "pop3s", "dns"},
	},
}

// inside is the test's "inside network": the loopback address clients bind to.
var inside = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}

type testServer struct {
	addrs map[string]string // "host service" → address
	ca    *pki.CA
	roots *x509.CertPool
}

func startTest(t testing.TB) *testServer {
	t.Helper()
	ca, err := pki.New("public")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ls, err := Start(ctx, Config{
		Hosts:  testHosts,
		Inside: inside,
		Certificate: func(h scenario.Host) (tls.Certificate, error) {
			return ca.Leaf(h.Names, []netip.Addr{h.IP})
		},
		Addr: func(scenario.Host, string, int) string { return "127.0.0.1:0" },
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{addrs: map[string]string{}, ca: ca, roots: ca.Pool()}
	for _, l := range ls {
		s.addrs[l.Host+" "+l.Service] = l.Addr.String()
	}
	return s
}

func client(from string) *http.Client {
	d := &net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	return &http.Client{
		Transport:     &http.Transport{DialContext: d.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       5 * time.Second,
	}
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestWeb(t *testing.T) {
	s := startTest(t)
	base := "http://" + s.addrs["www.skype.com http"]
	out := client("127.0.0.1")
	cases := []struct {
		path   string
		status int
		want   string
	}{
		{"/", 200, "<title>Skype</title>"},
		{"/nosuch", 404, "Not Found"},
		{"/gone", 410, "<title>Gone</title>"},
	}
	for _, c := range cases {
		resp, body := get(t, out, base+c.path)
		if resp.StatusCode != c.status || !strings.Contains(body, c.want) {
			t.Errorf("GET %s: got %d %q, want %d containing %q", c.path, resp.StatusCode, body, c.status, c.want)
		}
	}
	resp, body := get(t, out, base+"/SkypeSetup.exe")
	want, _ := io.ReadAll(scenario.FileBytes("official", 100000))
	if resp.ContentLength != 100000 || sha256.Sum256([]byte(body)) != sha256.Sum256(want) {
		t.Errorf("file: length %d, content differs from FileBytes(official)", resp.ContentLength)
	}
}

func TestWebInsideRedirect(t *testing.T) {
	s := startTest(t)
	for _, scheme := range []string{"http", "https"} {
		url := scheme + "://" + s.addrs["www.skype.com "+scheme] + "/"
		in, out := client("127.0.0.2"), client("127.0.0.1")
		for _, c := range []*http.Client{in, out} {
			c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: s.roots, ServerName: "www.skype.com"}
		}
		resp, _ := get(t, in, url)
		if resp.StatusCode != 302 || resp.Header.Get("Location") != "http://skype.tom.example/" {
			t.Errorf("%s inside: got %d %q, want 302 to the look-alike", scheme, resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, body := get(t, out, url)
		if resp.StatusCode != 200 || !strings.Contains(body, "Download Skype") {
			t.Errorf("%s outside: got %d %q", scheme, resp.StatusCode, body)
		}
	}
}

func TestIsInside(t *testing.T) {
	p := []netip.Prefix{netip.MustParsePrefix("198.51.100.0/29")}
	cases := map[string]bool{
		"198.51.100.2:1234": true, "198.51.100.9:80": false, "[::ffff:198.51.100.3]:1": true,
		"198.51.100.4": true, "garbage": false, "": false,
	}
	for in, want := range cases {
		if got := IsInside(in, p); got != want {
			t.Errorf("IsInside(%q) = %v, want %v", in, got, want)
		}
	}
}

// dialog drives a line protocol: each step sends a line ("" sends nothing)
// and reads lines until one starts with the wanted prefix.
type step struct{ send, want string }

func run(t *testing.T, c net.Conn, r *bufio.Reader, steps []step) {
	t.Helper()
	for _, s := range steps {
		if s.send != "" {
			if _, err := io.WriteString(c, s.send+"\r\n"); err != nil {
				t.Fatalf("send %q: %v", s.send, err)
			}
		}
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("after %q: %v (want %q)", s.send, err, s.want)
			}
			if strings.HasPrefix(l, s.want) {
				break
			}
		}
	}
}

func TestMailStartTLS(t *testing.T) {
	s := startTest(t)
	cases := []struct {
		svc      string
		before   []step
		after    []step
		implicit bool
	}{
		{"imap", []step{{"", "* OK [CAPABILITY IMAP4rev1 STARTTLS"}, {"a CAPABILITY", "a OK"}, {"b STARTTLS", "b OK"}},
			[]step{{"c CAPABILITY", "* CAPABILITY IMAP4rev1 AUTH=PLAIN"}, {"d LOGOUT", "d OK"}}, false},
		{"smtp", []step{{"", "220 mail.example.com"}, {"EHLO probe", "250-STARTTLS"}, {"", "250 "}, {"STARTTLS", "220 "}},
			[]step{{"EHLO probe", "250 8BITMIME"}, {"QUIT", "221"}}, false},
		{"submission", []step{{"", "220 "}, {"EHLO probe", "250-STARTTLS"}, {"", "250 "}, {"STARTTLS", "220 "}},
			[]step{{"NOOP", "250"}, {"QUIT", "221"}}, false},
		{"pop3", []step{{"", "+OK"}, {"CAPA", "STLS"}, {"", "."}, {"STLS", "+OK"}},
			[]step{{"CAPA", "USER"}, {"", "."}, {"QUIT", "+OK"}}, false},
		{"imaps", nil, []step{{"", "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN]"}, {"x LOGOUT", "* BYE"}}, true},
		{"smtps", nil, []step{{"", "220 "}, {"EHLO p", "250-AUTH"}, {"QUIT", "221"}}, true},
		{"pop3s", nil, []step{{"", "+OK"}, {"QUIT", "+OK"}}, true},
	}
	for _, c := range cases {
		t.Run(c.svc, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", s.addrs["mail.example.com "+c.svc], 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			var nc net.Conn = conn
			r := bufio.NewReader(conn)
			run(t, nc, r, c.before)
			tc := tls.Client(conn, &tls.Config{RootCAs: s.roots, ServerName: "mail.example.com"})
			if err := tc.Handshake(); err != nil {
				t.Fatalf("TLS: %v", err)
			}
			run(t, tc, bufio.NewReader(tc), c.after)
		})
	}
}

func TestMailErrors(t *testing.T) {
	s := startTest(t)
	conn, err := net.Dial("tcp", s.addrs["mail.example.com imap"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	run(t, conn, r, []step{{"", "* OK"}, {"(bad", "* BAD"}, {"a", "a BAD"}, {"a FETCH 1", "a BAD"}, {"a LOGIN x y", "a NO"}})
	// A line longer than the limit ends the session.
	io.WriteString(conn, strings.Repeat("x", maxLine+10)+"\r\n")
	if l, err := r.ReadString('\n'); err == nil {
		t.Errorf("session survived an over-long line: %q", l)
	}
}

func TestAuthority(t *testing.T) {
	a := NewAuthority(testHosts, 0)
	cases := []struct {
		q     string
		qtype uint16
		rcode int
		n     int
	}{
		{"www.skype.com.", dns.TypeA, dns.RcodeSuccess, 1},
		{"SKYPE.com", dns.TypeA, dns.RcodeSuccess, 1},
		{"skype.com.", dns.TypeAAAA, dns.RcodeSuccess, 0},
		{"nosuch.example.", dns.TypeA, dns.RcodeNameError, 0},
		{"sub.skype.com.", dns.TypeA, dns.RcodeNameError, 0},
	}
	for _, c := range cases {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(c.q), c.qtype)
		r := a.Answer(m)
		if r.Rcode != c.rcode || len(r.Answer) != c.n || !r.Authoritative {
			t.Errorf("%s %s: rcode %s, %d answers, aa %v; want %s, %d, aa", c.q, dns.TypeToString[c.qtype],
				dns.RcodeToString[r.Rcode], len(r.Answer), r.Authoritative, dns.RcodeToString[c.rcode], c.n)
		}
	}
}

func TestDNSOverTheWireAndForwarder(t *testing.T) {
	s := startTest(t)
	auth := s.addrs["mail.example.com dns"]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fwd := &Forwarder{Upstream: auth, Delay: 20 * time.Millisecond}
	fa, err := StartDNS(ctx, "127.0.0.1:0", fwd)
	if err != nil {
		t.Fatal(err)
	}
	for _, server := range []string{auth, fa.String()} {
		for _, netw := range []string{"udp", "tcp"} {
			c := &dns.Client{Net: netw, Timeout: 2 * time.Second}
			m := new(dns.Msg)
			m.SetQuestion("skype.com.", dns.TypeA)
			start := time.Now()
			r, _, err := c.Exchange(m, server)
			if err != nil {
				t.Fatalf("%s %s: %v", netw, server, err)
			}
			if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "203.0.113.10" {
				t.Errorf("%s %s: answer %v", netw, server, r.Answer)
			}
			if server == fa.String() && (time.Since(start) < fwd.Delay || !r.RecursionAvailable) {
				t.Errorf("forwarder: answered in %v (want ≥ %v), ra=%v", time.Since(start), fwd.Delay, r.RecursionAvailable)
			}
		}
	}
	// An upstream that does not answer gives SERVFAIL.
	dead := &Forwarder{Upstream: "127.0.0.1:9", Timeout: 200 * time.Millisecond}
	da, err := StartDNS(ctx, "127.0.0.1:0", dead)
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	m.SetQuestion("skype.com.", dns.TypeA)
	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, da.String())
	if err != nil || r.Rcode != dns.RcodeServerFailure {
		t.Errorf("dead upstream: %v %v, want SERVFAIL", r, err)
	}
}

func TestStartErrors(t *testing.T) {
	ctx := context.Background()
	h := testHosts[1]
	if _, err := Start(ctx, Config{Hosts: []scenario.Host{h}}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("no certificate: %v", err)
	}
	bad := scenario.Host{Names: []string{"x.example"}, IP: h.IP, Services: []string{"gopher"}}
	if _, err := Start(ctx, Config{Hosts: []scenario.Host{bad}, Addr: func(scenario.Host, string, int) string { return "127.0.0.1:0" }}); err == nil {
		t.Errorf("unknown service accepted")
	}
	if Ports["imaps"] != 993 || strconv.Itoa(Ports["smtps"]) != "465" {
		t.Errorf("ports table wrong")
	}
}

// TestWebPageRedirect: a redirect page answers inside and outside clients
// alike, with 302 unless it names another redirect status.
func TestWebPageRedirect(t *testing.T) {
	w := &Web{Inside: inside, Host: scenario.Host{
		Names: []string{"a.example"}, IP: netip.MustParseAddr("203.0.113.140"),
		Pages: map[string]scenario.Page{
			"/chain": {Redirect: "http://b.example/chain"},
			"/moved": {Redirect: "https://c.example/", Status: 301},
			"/":      {Title: "A"},
		},
	}}
	cases := []struct {
		path, from string
		status     int
		location   string
	}{
		{"/chain", "127.0.0.1:4000", 302, "http://b.example/chain"},
		{"/chain", "127.0.0.2:4000", 302, "http://b.example/chain"},
		{"/moved", "127.0.0.1:4000", 301, "https://c.example/"},
		{"/moved", "127.0.0.2:4000", 301, "https://c.example/"},
		{"/", "127.0.0.2:4000", 200, ""},
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodGet, "http://a.example"+c.path, nil)
		r.RemoteAddr = c.from
		rw := httptest.NewRecorder()
		w.ServeHTTP(rw, r)
		if rw.Code != c.status || rw.Header().Get("Location") != c.location {
			t.Errorf("GET %s from %s: got %d Location %q, want %d %q", c.path, c.from, rw.Code, rw.Header().Get("Location"), c.status, c.location)
		}
	}
}
