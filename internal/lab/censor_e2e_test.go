package lab

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// End-to-end checks of each censor technique through the full topology,
// with plain clients in the inside and outside namespaces.

// dnsAnswers sends one query for name to server from ns and collects every
// response that arrives within wait, in order of arrival.
func dnsAnswers(t *testing.T, ns, server, name string, wait time.Duration) []*dns.Msg {
	t.Helper()
	var pc net.PacketConn
	if err := InNetns(ns, func() (err error) {
		pc, err = net.ListenPacket("udp4", ":0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeA)
	b, _ := q.Pack()
	to, err := net.ResolveUDPAddr("udp4", server)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.WriteTo(b, to); err != nil {
		t.Fatal(err)
	}
	var out []*dns.Msg
	deadline := time.Now().Add(wait)
	buf := make([]byte, 4096)
	for {
		_ = pc.SetReadDeadline(deadline)
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			return out
		}
		m := new(dns.Msg)
		if m.Unpack(buf[:n]) == nil && m.Id == q.Id {
			out = append(out, m)
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

func TestCensorDNSInjection(t *testing.T) {
	st := sharedLab(t)
	t.Run("race: forged answer first, genuine later", func(t *testing.T) {
		ms := dnsAnswers(t, tn.Inside, st.Resolvers.Public, "www.facebook.com", time.Second)
		if len(ms) < 2 || firstA(ms[0]) != "203.0.113.50" || firstA(ms[len(ms)-1]) != "203.0.113.40" {
			t.Errorf("inside: got %d answers %v, want 203.0.113.50 then 203.0.113.40", len(ms), answers(ms))
		}
	})
	t.Run("clean name: one answer", func(t *testing.T) {
		ms := dnsAnswers(t, tn.Inside, st.Resolvers.Public, "www.skype.com", 500*time.Millisecond)
		if len(ms) != 1 || firstA(ms[0]) != "203.0.113.10" {
			t.Errorf("got %v, want one answer 203.0.113.10", answers(ms))
		}
	})
	t.Run("outside sees only the genuine answer", func(t *testing.T) {
		ms := dnsAnswers(t, tn.Outside, st.Resolvers.Public, "www.facebook.com", 500*time.Millisecond)
		if len(ms) != 1 || firstA(ms[0]) != "203.0.113.40" {
			t.Errorf("got %v, want one answer 203.0.113.40", answers(ms))
		}
	})
	t.Run("address running no DNS server answers", func(t *testing.T) {
		ms := dnsAnswers(t, tn.Inside, "203.0.113.11:53", "www.facebook.com", 500*time.Millisecond)
		if len(ms) == 0 || firstA(ms[0]) != "203.0.113.50" {
			t.Errorf("got %v, want a forged 203.0.113.50", answers(ms))
		}
	})
	t.Run("ISP resolver relays the injected answer", func(t *testing.T) {
		r, err := QueryIn(tn.Inside, st.Resolvers.ISP, "facebook.com", 3*time.Second)
		if err != nil || firstA(r) != "203.0.113.50" {
			t.Errorf("got %v %v, want 203.0.113.50", r, err)
		}
	})
	t.Run("nxdomain", func(t *testing.T) {
		r, err := QueryIn(tn.Inside, st.Resolvers.ISP, "www.youtube.com", 3*time.Second)
		if err != nil || r.Rcode != dns.RcodeNameError {
			t.Errorf("inside: %v %v, want NXDOMAIN", r, err)
		}
		r, err = QueryIn(tn.Outside, st.Resolvers.Public, "www.youtube.com", 3*time.Second)
		if err != nil || firstA(r) != "203.0.113.60" {
			t.Errorf("outside: %v %v, want 203.0.113.60", r, err)
		}
	})
}

func answers(ms []*dns.Msg) []string {
	var s []string
	for _, m := range ms {
		s = append(s, dns.RcodeToString[m.Rcode]+":"+firstA(m))
	}
	return s
}

func TestCensorDrop(t *testing.T) {
	sharedLab(t)
	start := time.Now()
	if c, err := DialIn(tn.Inside, "203.0.113.30:993", 1500*time.Millisecond); err == nil {
		c.Close()
		t.Errorf("inside connected to a blackholed port")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Errorf("inside: %v after %v, want a timeout", err, time.Since(start))
	}
	for _, c := range []struct{ ns, addr string }{{tn.Outside, "203.0.113.30:993"}, {tn.Inside, "203.0.113.30:443"}} {
		conn, err := DialIn(c.ns, c.addr, 2*time.Second)
		if err != nil {
			t.Errorf("%s → %s: %v, want a connection", c.ns, c.addr, err)
			continue
		}
		conn.Close()
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "reset") || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF))
}

func TestCensorReset(t *testing.T) {
	st := sharedLab(t)
	get := func(ns string) error {
		c := HTTPClientIn(ns, 3*time.Second)
		req, _ := http.NewRequest("GET", "http://203.0.113.90/", nil)
		req.Host = "www.falundafa.org"
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(tn.Inside); !isReset(err) {
		t.Errorf("http keyword inside: %v, want a reset", err)
	}
	if err := get(tn.Outside); err != nil {
		t.Errorf("http keyword outside: %v", err)
	}
	hs := func(ns string, pool *x509.CertPool) error {
		c, err := DialIn(ns, "203.0.113.90:443", 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		return tls.Client(c, &tls.Config{ServerName: "www.falundafa.org", RootCAs: pool}).Handshake()
	}
	if err := hs(tn.Inside, trustPool(t, st.Trust.Inside)); !isReset(err) {
		t.Errorf("sni keyword inside: %v, want a reset", err)
	}
	if err := hs(tn.Outside, trustPool(t, st.Trust.Outside)); err != nil {
		t.Errorf("sni keyword outside: %v", err)
	}
}

// chainRoot returns the subject CN of the CA that the server's chain names as issuer.
func issuerOf(t *testing.T, ns, addr, name string, starttls bool) string {
	t.Helper()
	c, err := DialIn(ns, addr, 2*time.Second)
	if err != nil {
		t.Fatalf("%s %s: %v", ns, addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if starttls {
		r := bufio.NewReader(c)
		if l, err := r.ReadString('\n'); err != nil || !strings.Contains(l, "STARTTLS") {
			t.Fatalf("banner %q %v", l, err)
		}
		io.WriteString(c, "a STARTTLS\r\n")
		if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "a OK") {
			t.Fatalf("STARTTLS: %q %v", l, err)
		}
	}
	tc := tls.Client(c, &tls.Config{ServerName: name, InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("%s %s handshake: %v", ns, addr, err)
	}
	return tc.ConnectionState().PeerCertificates[0].Issuer.CommonName
}

func TestCensorMITM(t *testing.T) {
	sharedLab(t)
	public := issuerOf(t, tn.Outside, "203.0.113.20:443", "mail.example.com", false)
	cases := []struct {
		ns, addr string
		starttls bool
		rogue    bool
	}{
		{tn.Inside, "203.0.113.20:993", false, true},
		{tn.Inside, "203.0.113.20:143", true, true},
		{tn.Inside, "203.0.113.20:443", false, false},
		{tn.Outside, "203.0.113.20:993", false, false},
		{tn.Outside, "203.0.113.20:143", true, false},
	}
	for _, c := range cases {
		got := issuerOf(t, c.ns, c.addr, "mail.example.com", c.starttls)
		if (got != public) != c.rogue {
			t.Errorf("%s %s: issuer %q (public CA is %q), want rogue=%v", c.ns, c.addr, got, public, c.rogue)
		}
	}
}

func TestCensorHTTPAnswers(t *testing.T) {
	sharedLab(t)
	get := func(ns, ip, host string) (*http.Response, []byte, error) {
		c := HTTPClientIn(ns, 3*time.Second)
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		req, _ := http.NewRequest("GET", "http://"+ip+"/", nil)
		req.Host = host
		resp, err := c.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}
	resp, _, err := get(tn.Inside, "203.0.113.61", "www.example.org")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != "http://warning.example/" {
		t.Errorf("redirect: got %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body, err := get(tn.Inside, "203.0.113.62", "www.example.net")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Blocked") {
		t.Errorf("blockpage: got %d %q", resp.StatusCode, body)
	}
	_, body, err = get(tn.Outside, "203.0.113.62", "www.example.net")
	if err != nil || strings.Contains(string(body), "Blocked") {
		t.Errorf("outside got the block page: %v %q", err, body)
	}
}

// rate downloads url from ns for at most d and returns bytes per second.
func rate(t *testing.T, ns, url string, d time.Duration) float64 {
	t.Helper()
	c := HTTPClientIn(ns, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	return float64(n) / time.Since(start).Seconds()
}

func TestCensorThrottle(t *testing.T) {
	sharedLab(t)
	slow := rate(t, tn.Inside, "http://203.0.113.70/big.bin", 2*time.Second)
	fast := rate(t, tn.Inside, "http://203.0.113.71/big.bin", 2*time.Second)
	t.Logf("throttled %.0f B/s, unthrottled %.0f B/s", slow, fast)
	if slow > fast/10 {
		t.Errorf("throttled transfer %.0f B/s is not far slower than %.0f B/s", slow, fast)
	}
}
