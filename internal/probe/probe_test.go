package probe

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/probe/probetest"
	"github.com/firewatch/firewatch/internal/target"
)

// env is a local test world: a DNS server and a probe resolving through it.
type env struct {
	dns *probetest.DNSServer
	ca  *probetest.CA
	p   *Probe
}

func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	e := &env{dns: probetest.NewDNSServer(t), ca: probetest.NewCA(t, "firewatch test root")}
	cfg := Config{
		Network:         probetest.Network(t, e.ca.Pool(), e.dns.Addr),
		Resolvers:       []string{"udp://" + e.dns.Addr},
		Timeout:         time.Second,
		InjectionWindow: 100 * time.Millisecond,
		MaxBodyBytes:    64 << 10,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	return e
}

func (e *env) measure(t *testing.T, raw string) *model.Measurement {
	t.Helper()
	ts, err := target.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	m := e.p.Measure(context.Background(), ts[0], Extra{})
	if m.Schema != model.SchemaVersion || m.ID == "" || m.Status != model.StatusMeasured || m.Methods == nil {
		t.Errorf("record header: schema %q id %q status %q methods %v", m.Schema, m.ID, m.Status, m.Methods)
	}
	return m
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func steps(m *model.Measurement, op string) []model.Step {
	var out []model.Step
	for _, s := range m.Steps {
		if s.Operation == op {
			out = append(out, s)
		}
	}
	return out
}

func failureOf(s model.Step) string {
	if s.Failure == nil {
		return ""
	}
	return *s.Failure
}

func dump(m *model.Measurement) string {
	var b strings.Builder
	for _, s := range m.Steps {
		fmt.Fprintf(&b, "  %s %s %s %q\n", s.Operation, s.Address, s.Hostname, failureOf(s))
	}
	return b.String()
}

func TestDNS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<title>ok</title>") }))
	t.Cleanup(srv.Close)
	p := port(srv.Listener.Addr().String())
	tests := []struct {
		name        string
		host        string
		wantFailure string
		wantResps   int
		wantConnect int
	}{
		{"plain", "www.site.test", "", 1, 1},
		{"injected twice", "inject.site.test", "", 2, 2},
		{"refused", "refused.site.test", failure.DNSRefused, 1, 0},
		{"nxdomain", "nx.site.test", failure.DNSNXDomain, 1, 0},
		{"servfail", "servfail.site.test", failure.DNSServfail, 1, 0},
		{"silent", "silent.site.test", failure.GenericTimeout, 0, 0},
		{"bogon", "bogon.site.test", failure.DNSBogon, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := e.measure(t, "http://"+tc.host+":"+p+"/")
			dnsSteps := steps(m, model.OpDNSRoundTrip)
			if len(dnsSteps) != 2 {
				t.Fatalf("got %d dns steps, want 2 (A, AAAA):\n%s", len(dnsSteps), dump(m))
			}
			a := dnsSteps[0]
			if a.DNS.QueryType != "A" {
				t.Fatalf("first dns step is %s, want A", a.DNS.QueryType)
			}
			if got := failureOf(a); got != tc.wantFailure {
				t.Errorf("A failure %q, want %q", got, tc.wantFailure)
			}
			if got := len(a.DNS.Responses); got != tc.wantResps {
				t.Errorf("got %d responses, want %d", got, tc.wantResps)
			}
			if got := len(steps(m, model.OpConnect)); got != tc.wantConnect {
				t.Errorf("got %d connect steps, want %d:\n%s", got, tc.wantConnect, dump(m))
			}
			if tc.name == "bogon" && (len(a.DNS.Bogons) != 1 || a.DNS.Bogons[0] != "10.10.10.10") {
				t.Errorf("bogons %v, want [10.10.10.10]", a.DNS.Bogons)
			}
			if tc.name == "injected twice" {
				r := a.DNS.Responses
				if r[0].Answers[0].Value != "127.0.0.2" || r[1].Answers[0].Value != "127.0.0.1" || r[1].ArrivalMS <= r[0].ArrivalMS {
					t.Errorf("responses %+v: want 127.0.0.2 then 127.0.0.1 later", r)
				}
			}
			if aaaa := dnsSteps[1]; tc.name == "plain" && (failureOf(aaaa) != "" || *aaaa.DNS.Responses[0].Failure != failure.DNSNoAnswer) {
				t.Errorf("AAAA step failure %q, want none (the response says %s)", failureOf(aaaa), failure.DNSNoAnswer)
			}
		})
	}
}

func TestSystemAndTCPResolvers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, op string
		res      func(dnsAddr string) []string
	}{
		{"system", model.OpResolve, func(string) []string { return nil }},
		{"tcp", model.OpDNSRoundTrip, func(a string) []string { return []string{"tcp://" + a} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var e *env
			e = newEnv(t, func(c *Config) { c.Resolvers = nil })
			e.p.resolvers = nil
			if r := tc.res(e.dns.Addr); r != nil {
				res, err := parseResolver(r[0])
				if err != nil {
					t.Fatal(err)
				}
				e.p.resolvers = append(e.p.resolvers, res)
			}
			m := e.measure(t, "http://www.site.test:"+port(probetest.ClosedPort(t))+"/")
			ss := steps(m, tc.op)
			if len(ss) != 2 || ss[0].DNS == nil || len(ss[0].DNS.Responses) != 1 || ss[0].Failure != nil {
				t.Fatalf("want 2 %s steps, A answered:\n%s", tc.op, dump(m))
			}
			if c := steps(m, model.OpConnect); len(c) != 1 || failureOf(c[0]) != failure.ConnectionRefused {
				t.Errorf("want one connect with connection_refused:\n%s", dump(m))
			}
		})
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	rogue := probetest.NewCA(t, "rogue root")
	start := func(cert func() []byte) string { return "" }
	_ = start
	tests := []struct {
		name      string
		ca        *probetest.CA
		certName  string
		wantVerif string
	}{
		{"trusted", e.ca, "www.site.test", ""},
		{"untrusted", rogue, "www.site.test", failure.SSLUnknownAuthority},
		{"wrong host", e.ca, "other.example", failure.SSLInvalidHostname},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "<html><head><title>Secure page</title>")
			}))
			cert := tc.ca.Leaf(t, tc.certName)
			srv.TLS = &tlsConfig(cert).Config
			srv.StartTLS()
			t.Cleanup(srv.Close)
			m := e.measure(t, "https://www.site.test:"+port(srv.Listener.Addr().String())+"/")
			hs := steps(m, model.OpTLSHandshake)
			if len(hs) != 1 || hs[0].Failure != nil {
				t.Fatalf("want one successful handshake:\n%s", dump(m))
			}
			d := hs[0].TLS
			if len(d.Chain) != 2 || d.Chain[1].Subject != tc.ca.Cert.Subject.String() {
				t.Errorf("chain %+v: want leaf and %s", d.Chain, tc.ca.Cert.Subject)
			}
			gotV := ""
			if d.VerifyError != nil {
				gotV = *d.VerifyError
			}
			if gotV != tc.wantVerif || d.Verified != (tc.wantVerif == "") {
				t.Errorf("verified %v error %q, want error %q", d.Verified, gotV, tc.wantVerif)
			}
			if d.Verified && (d.RootSubject != e.ca.Cert.Subject.String() || d.RootSHA256 == "") {
				t.Errorf("root %q %q, want the test root", d.RootSubject, d.RootSHA256)
			}
			if d.Version == "" || d.CipherSuite == "" {
				t.Errorf("version %q cipher %q", d.Version, d.CipherSuite)
			}
			hh := steps(m, model.OpHTTPRoundTrip)
			if len(hh) != 1 || hh[0].HTTP.Title != "Secure page" {
				t.Errorf("want one http step with the title:\n%s", dump(m))
			}
		})
	}
}

func TestHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.MaxRedirects = 5; c.Timeout = 500 * time.Millisecond })
	mux := http.NewServeMux()
	mux.HandleFunc("/r/", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(r.URL.Path, "/r/%d", &n)
		if n == 0 {
			http.Redirect(w, r, "http://other.site.test:"+port(r.Host)+"/final", http.StatusFound)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/r/%d", n-1), http.StatusMovedPermanently)
	})
	mux.HandleFunc("/to", func(w http.ResponseWriter, r *http.Request) {
		// two hops: www → mid → the URL in the query
		http.Redirect(w, r, "http://mid.site.test:"+port(r.Host)+"/via?"+r.URL.RawQuery, http.StatusFound)
	})
	mux.HandleFunc("/via", func(w http.ResponseWriter, r *http.Request) {
		to, _ := url.QueryUnescape(r.URL.RawQuery)
		http.Redirect(w, r, to, http.StatusFound)
	})
	mux.HandleFunc("/final", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<TITLE>Final &amp; done</TITLE>") })
	mux.HandleFunc("/bogon", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://10.10.34.34/blocked", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 4096)
		for {
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/file.bin", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, strings.Repeat("x", 100000)) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p := port(srv.Listener.Addr().String())

	t.Run("redirect chain", func(t *testing.T) {
		t.Parallel()
		m := e.measure(t, "http://www.site.test:"+p+"/r/2")
		hh := steps(m, model.OpHTTPRoundTrip)
		wantURLs := []string{"/r/2", "/r/1", "/r/0", "/final"}
		if len(hh) != len(wantURLs) {
			t.Fatalf("got %d hops, want %d:\n%s", len(hh), len(wantURLs), dump(m))
		}
		for i, h := range hh {
			if h.HTTP.Hop != i || !strings.HasSuffix(h.HTTP.URL, wantURLs[i]) || h.Failure != nil {
				t.Errorf("hop %d: %+v, want url ending %s", i, h.HTTP, wantURLs[i])
			}
		}
		if hh[3].HTTP.Title != "Final & done" || hh[3].HTTP.Status != 200 || hh[2].HTTP.Location == "" {
			t.Errorf("final hop %+v", hh[3].HTTP)
		}
		// The other host was resolved with the same resolver.
		var other bool
		for _, s := range steps(m, model.OpDNSRoundTrip) {
			other = other || s.Hostname == "other.site.test"
		}
		if !other {
			t.Errorf("redirect target not resolved:\n%s", dump(m))
		}
	})
	t.Run("a hop that cannot be reached fails the chain", func(t *testing.T) {
		t.Parallel()
		// Each redirect leads to a host the probe cannot reach: its DNS
		// says NXDOMAIN, nothing listens on its port, or it speaks no TLS.
		closed, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closedPort := port(closed.Addr().String())
		closed.Close()
		cases := []struct {
			name, to, want string
			op             string // the step that failed before the hop
		}{
			{"dns", "http://nx.site.test:" + p + "/", failure.DNSNXDomain, model.OpDNSRoundTrip},
			{"connect", "http://last.site.test:" + closedPort + "/", failure.ConnectionRefused, model.OpConnect},
			{"tls", "https://last.site.test:" + p + "/", failure.SSLFailedHandshake, model.OpTLSHandshake},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				m := e.measure(t, "http://www.site.test:"+p+"/to?"+url.QueryEscape(c.to))
				hh := steps(m, model.OpHTTPRoundTrip)
				if len(hh) != 3 {
					t.Fatalf("got %d hops, want 3 (two redirects, then the hop that failed):\n%s", len(hh), dump(m))
				}
				last := hh[2]
				if last.HTTP.Hop != 2 || last.HTTP.URL != c.to || failureOf(last) != c.want || last.Address != "" || last.HTTP.Status != 0 {
					t.Errorf("last hop: address %q, failure %q, %+v; want hop 2 of %s, no address, failure %s:\n%s",
						last.Address, failureOf(last), last.HTTP, c.to, c.want, dump(m))
				}
				var stopped bool
				for _, s := range steps(m, c.op) {
					stopped = stopped || failureOf(s) == c.want
				}
				if !stopped {
					t.Errorf("no %s step failed with %s:\n%s", c.op, c.want, dump(m))
				}
			})
		}
	})
	t.Run("redirect to a bogon literal is not followed", func(t *testing.T) {
		t.Parallel()
		m := e.measure(t, "http://www.site.test:"+p+"/bogon")
		hh := steps(m, model.OpHTTPRoundTrip)
		if len(hh) != 1 || !strings.Contains(hh[0].HTTP.Location, "10.10.34.34") || !strings.Contains(hh[0].HTTP.NotFollowed, "never connected to") {
			t.Errorf("got %d hops, want the one redirect recorded:\n%s", len(hh), dump(m))
		}
		for _, s := range steps(m, model.OpConnect) {
			if strings.HasPrefix(s.Address, "10.") {
				t.Errorf("connected to bogon %s:\n%s", s.Address, dump(m))
			}
		}
	})
	t.Run("redirect loop", func(t *testing.T) {
		t.Parallel()
		m := e.measure(t, "http://www.site.test:"+p+"/loop")
		hh := steps(m, model.OpHTTPRoundTrip)
		if len(hh) != 6 || failureOf(hh[5]) != failure.HTTPTooManyRedirects {
			t.Errorf("want 6 hops, the last %s:\n%s", failure.HTTPTooManyRedirects, dump(m))
		}
	})
	t.Run("endless body", func(t *testing.T) {
		t.Parallel()
		m := e.measure(t, "http://www.site.test:"+p+"/endless")
		hh := steps(m, model.OpHTTPRoundTrip)
		if len(hh) != 1 || hh[0].Failure != nil || !hh[0].HTTP.BodyTruncated || hh[0].HTTP.BodyLength != 64<<10 || len(hh[0].HTTP.BodyHead) != bodyHeadBytes {
			t.Errorf("want one truncated hop of 64 KiB:\n%s%+v", dump(m), hh)
		}
	})
	t.Run("download", func(t *testing.T) {
		t.Parallel()
		m := e.measure(t, "http://www.site.test:"+p+"/file.bin")
		dl := steps(m, model.OpDownload)
		if len(dl) != 1 || dl[0].Failure != nil || dl[0].Download.Size != 100000 || dl[0].Download.SHA256 == "" {
			t.Errorf("want one download of 100000 bytes:\n%s", dump(m))
		}
	})
	t.Run("never answers", func(t *testing.T) {
		t.Parallel()
		m := e.measure(t, "http://www.site.test:"+port(probetest.HangServer(t))+"/")
		hh := steps(m, model.OpHTTPRoundTrip)
		if len(hh) != 1 || failureOf(hh[0]) != failure.GenericTimeout {
			t.Errorf("want generic_timeout_error:\n%s", dump(m))
		}
	})
	t.Run("reset mid-body", func(t *testing.T) {
		t.Parallel()
		m := e.measure(t, "http://www.site.test:"+port(probetest.ResetServer(t))+"/")
		hh := steps(m, model.OpHTTPRoundTrip)
		if len(hh) != 1 || failureOf(hh[0]) != failure.ConnectionReset || hh[0].HTTP.Status != 200 {
			t.Errorf("want connection_reset after status 200:\n%s", dump(m))
		}
	})
	t.Run("endless header", func(t *testing.T) {
		t.Parallel()
		ln := probetest.Listen(t)
		probetest.Serve(ln, func(c net.Conn) {
			c.Write([]byte("HTTP/1.1 200 OK\r\n"))
			line := []byte("X-Junk: " + strings.Repeat("j", 1000) + "\r\n")
			for {
				if _, err := c.Write(line); err != nil {
					return
				}
			}
		})
		m := e.measure(t, "http://www.site.test:"+port(ln.Addr().String())+"/")
		hh := steps(m, model.OpHTTPRoundTrip)
		if len(hh) != 1 || failureOf(hh[0]) != failure.HTTPBadResponse {
			t.Errorf("want one hop failing with http_bad_response:\n%s", dump(m))
		}
	})
	t.Run("closed port", func(t *testing.T) {
		t.Parallel()
		m := e.measure(t, "http://www.site.test:"+port(probetest.ClosedPort(t))+"/")
		c := steps(m, model.OpConnect)
		if len(c) != 1 || failureOf(c[0]) != failure.ConnectionRefused || len(steps(m, model.OpHTTPRoundTrip)) != 0 {
			t.Errorf("want connection_refused and no http step:\n%s", dump(m))
		}
	})
}

func TestMail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	cert := e.ca.Leaf(t, "mail.site.test")
	tests := []struct {
		scheme     string
		srv        probetest.MailServer
		wantOps    []string
		wantFail   string // of the greeting
		wantOffers bool
	}{
		{"smtp", probetest.MailServer{Protocol: "smtp", StartTLS: true, Cert: &cert}, []string{"connect", "mail_greeting", "starttls", "tls_handshake"}, "", true},
		{"submission", probetest.MailServer{Protocol: "smtp"}, []string{"connect", "mail_greeting"}, "", false},
		{"imap", probetest.MailServer{Protocol: "imap", StartTLS: true, Cert: &cert}, []string{"connect", "mail_greeting", "starttls", "tls_handshake"}, "", true},
		{"imap", probetest.MailServer{Protocol: "imap"}, []string{"connect", "mail_greeting"}, "", false},
		{"pop3", probetest.MailServer{Protocol: "pop3", StartTLS: true, Cert: &cert}, []string{"connect", "mail_greeting", "starttls", "tls_handshake"}, "", true},
		{"pop3", probetest.MailServer{Protocol: "pop3"}, []string{"connect", "mail_greeting"}, "", false},
		{"imaps", probetest.MailServer{Protocol: "imap", Implicit: true, Cert: &cert}, []string{"connect", "tls_handshake", "mail_greeting"}, "", false},
		{"smtps", probetest.MailServer{Protocol: "smtp", Implicit: true, Cert: &cert}, []string{"connect", "tls_handshake", "mail_greeting"}, "", false},
		{"pop3s", probetest.MailServer{Protocol: "pop3", Implicit: true, Cert: &cert}, []string{"connect", "tls_handshake", "mail_greeting"}, "", false},
		{"smtp", probetest.MailServer{Protocol: "smtp", Garbage: true}, []string{"connect", "mail_greeting"}, failure.MailProtocolError, false},
		{"imap", probetest.MailServer{Protocol: "imap", Garbage: true}, []string{"connect", "mail_greeting"}, failure.MailProtocolError, false},
		{"pop3", probetest.MailServer{Protocol: "pop3", Garbage: true}, []string{"connect", "mail_greeting"}, failure.MailProtocolError, false},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("%s starttls=%v implicit=%v garbage=%v", tc.scheme, tc.srv.StartTLS, tc.srv.Implicit, tc.srv.Garbage)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			addr := tc.srv.Start(t)
			m := e.measure(t, tc.scheme+"://mail.site.test:"+port(addr))
			var ops []string
			for _, s := range m.Steps {
				if s.DNS == nil {
					ops = append(ops, s.Operation)
				}
			}
			if strings.Join(ops, ",") != strings.Join(tc.wantOps, ",") {
				t.Fatalf("ops %v, want %v:\n%s", ops, tc.wantOps, dump(m))
			}
			g := steps(m, model.OpMailGreeting)[0]
			if failureOf(g) != tc.wantFail || g.Mail.StartTLSOffered != tc.wantOffers || (tc.wantFail == "" && len(g.Mail.Capabilities) == 0) {
				t.Errorf("greeting %q %+v, want failure %q offered %v", failureOf(g), g.Mail, tc.wantFail, tc.wantOffers)
			}
			for _, s := range steps(m, model.OpTLSHandshake) {
				if s.Failure != nil || !s.TLS.Verified {
					t.Errorf("handshake %q verified %v:\n%s", failureOf(s), s.TLS.Verified, dump(m))
				}
			}
		})
	}
}
