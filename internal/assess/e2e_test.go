package assess

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/control"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/netx"
	"github.com/firewatch/firewatch/internal/probe"
	"github.com/firewatch/firewatch/internal/probe/probetest"
	"github.com/firewatch/firewatch/internal/target"
)

// censor rewrites the inside's TCP dials on loopback, keeping the address
// the probe asked for as the connection's remote address, as an in-path
// device would.
type censor func(addr string) (redirect string, err error)

type asConn struct {
	net.Conn
	remote net.Addr
}

func (c asConn) RemoteAddr() net.Addr { return c.remote }

func (cs censor) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	to, err := cs(addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	if to == "" {
		return d.DialContext(ctx, network, addr)
	}
	c, err := d.DialContext(ctx, network, to)
	if err != nil {
		return nil, err
	}
	ra, _ := net.ResolveTCPAddr("tcp", addr)
	return asConn{Conn: c, remote: ra}, nil
}

// rstServer reads the first bytes (a ClientHello) and resets the connection.
func rstServer(t *testing.T) string {
	ln := probetest.Listen(t)
	probetest.Serve(ln, func(c net.Conn) {
		buf := make([]byte, 512)
		c.Read(buf)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
	})
	return ln.Addr().String()
}

type world struct {
	ca, rogue *probetest.CA
	dns       *probetest.DNSServer
	ctl       *control.Client
	https     string // 127.0.0.1:port of the genuine TLS site
	plain     string // 127.0.0.1:port of the genuine plain-HTTP site
	mitm      string // a TLS server with a rogue leaf for www.site.test
}

func newWorld(t *testing.T) *world {
	w := &world{ca: probetest.NewCA(t, "genuine root"), rogue: probetest.NewCA(t, "rogue root"), dns: probetest.NewDNSServer(t)}
	page := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, "<html><title>Site</title>"+strings.Repeat("content ", 200)+"</html>")
	})
	s := httptest.NewUnstartedServer(page)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{w.ca.Leaf(t, "www.site.test")}}
	s.StartTLS()
	t.Cleanup(s.Close)
	w.https = s.Listener.Addr().String()
	p := httptest.NewServer(page)
	t.Cleanup(p.Close)
	w.plain = p.Listener.Addr().String()
	m := httptest.NewUnstartedServer(page)
	m.TLS = &tls.Config{Certificates: []tls.Certificate{w.rogue.Leaf(t, "www.site.test")}}
	m.StartTLS()
	t.Cleanup(m.Close)
	w.mitm = m.Listener.Addr().String()

	cp, err := probe.New(probe.Config{Network: probetest.Network(t, w.ca.Pool(), w.dns.Addr), Vantage: "control", Timeout: 3 * time.Second, InjectionWindow: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w.ctl = controlFor(t, cp)
	return w
}

// controlFor serves a control measuring with p on loopback.
func controlFor(t *testing.T, p *probe.Probe) *control.Client {
	srv, err := control.NewServer(control.Config{Probe: p, Network: &netx.Network{Routable: probetest.Loopback}, AllowLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	cs := httptest.NewServer(srv)
	t.Cleanup(cs.Close)
	return &control.Client{URL: cs.URL}
}

// assessor is an Assessor with a real probe inside; serial picks the
// schedule before issue 9.
func (w *world) assessor(t *testing.T, trustRogue bool, cs censor, serial ...bool) *Assessor {
	sr := len(serial) > 0 && serial[0]
	n := probetest.Network(t, w.ca.Pool(), w.dns.Addr)
	if trustRogue {
		pool := w.ca.Pool()
		pool.AddCert(w.rogue.Cert)
		n.RootCAs = pool
	}
	if cs != nil {
		n.DialContext = cs.dial
	}
	p, err := probe.New(probe.Config{Network: n, Timeout: 3 * time.Second, InjectionWindow: 100 * time.Millisecond, Serial: sr})
	if err != nil {
		t.Fatal(err)
	}
	return &Assessor{Probe: p, Control: w.ctl, Retests: -1, Serial: sr}
}

func port(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

// TestLoopbackEndToEnd runs real probes inside and in the control on
// loopback, with an emulated in-path censor on the inside's dials.
func TestLoopbackEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	w := newWorld(t)
	httpsURL := "https://www.site.test:" + port(w.https) + "/"
	plainURL := "http://www.site.test:" + port(w.plain) + "/"
	only := func(addr string, f func() (string, error)) censor {
		return func(a string) (string, error) {
			if a == addr {
				return f()
			}
			return "", nil
		}
	}
	mailCert := w.ca.Leaf(t, "mail.site.test")
	rogueMail := w.rogue.Leaf(t, "mail.site.test")
	imap := probetest.MailServer{Protocol: "imap", StartTLS: true, Cert: &mailCert}.Start(t)
	imapStripped := probetest.MailServer{Protocol: "imap"}.Start(t)
	imapMITM := probetest.MailServer{Protocol: "imap", StartTLS: true, Cert: &rogueMail}.Start(t)
	smtp := probetest.MailServer{Protocol: "smtp", StartTLS: true, Cert: &mailCert}.Start(t)
	smtpMITM := probetest.MailServer{Protocol: "smtp", StartTLS: true, Cert: &rogueMail}.Start(t)
	imapURL := "imap://mail.site.test:" + port(imap) + "/"
	smtpURL := "smtp://mail.site.test:" + port(smtp) + "/"
	serve := func(h http.HandlerFunc) string {
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		return s.Listener.Addr().String()
	}
	blockpage := serve(func(rw http.ResponseWriter, r *http.Request) {
		rw.WriteHeader(http.StatusForbidden)
		io.WriteString(rw, "<html><title>Forbidden</title>no</html>")
	})
	// Transparent proxies in the path of plain HTTP: one relays the page
	// (adding a Via header), one inserts a script into it.
	proxy := func(inject string) string {
		return serve(func(rw http.ResponseWriter, r *http.Request) {
			resp, err := http.Get("http://" + w.plain + r.URL.Path)
			if err != nil {
				http.Error(rw, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			rw.Header().Set("Via", "1.1 isp-proxy")
			io.WriteString(rw, strings.Replace(string(body), "</html>", inject+"</html>", 1))
		})
	}
	relay, injector := proxy(""), proxy(`<script src="http://198.51.100.77/i.js"></script>`)
	lookalike := serve(func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, "<title>Site</title>") })
	redirector := serve(func(rw http.ResponseWriter, r *http.Request) {
		http.Redirect(rw, r, "http://lookalike.site.test:"+port(lookalike)+"/", http.StatusFound)
	})
	file := func(content string) string {
		return serve(func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, content) })
	}
	genuineFile := file(strings.Repeat("genuine installer ", 1000))
	modifiedFile := file(strings.Repeat("modified installer ", 1000))
	fileURL := "http://www.site.test:" + port(genuineFile) + "/setup.exe"
	big := "<html><title>Big</title>" + strings.Repeat("0123456789abcdef", 5*1024) + "</html>" // 80 KiB
	bigFast := serve(func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, big) })
	bigSlow := serve(func(rw http.ResponseWriter, r *http.Request) {
		// The same page at ~160 kB/s: a throttled path.
		rw.Header().Set("Content-Length", fmt.Sprint(len(big)))
		for i := 0; i < len(big); i += 8192 {
			io.WriteString(rw, big[i:min(i+8192, len(big))])
			rw.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
		}
	})
	bigURL := "http://www.site.test:" + port(bigFast) + "/"
	rst := rstServer(t)
	reset := probetest.ResetServer(t)
	tests := []struct {
		name, target string
		rogue        bool
		cs           censor
		want         string
	}{
		{"healthy https", httpsURL, false, nil, "ok"},
		{"healthy http", plainURL, false, nil, "ok"},
		{"injected", "https://inject.site.test:" + port(w.https) + "/", false, nil, "blocked dns.injected"},
		{"rogue trusted CA", httpsURL, true, only(w.https, func() (string, error) { return w.mitm, nil }), "blocked tls.mitm"},
		{"untrusted MITM", httpsURL, false, only(w.https, func() (string, error) { return w.mitm, nil }), "blocked tls.mitm"},
		{"tcp reset", httpsURL, false, only(w.https, func() (string, error) { return "", syscall.ECONNREFUSED }), "blocked tcp.reset"},
		{"sni reset", httpsURL, false, only(w.https, func() (string, error) { return rst, nil }), "blocked tls.reset"},
		{"http reset", plainURL, false, only(w.plain, func() (string, error) { return reset, nil }), "blocked http.reset"},
		{"http blockpage", plainURL, false, only(w.plain, func() (string, error) { return blockpage, nil }), "blocked http.blockpage"},
		{"transparent proxy", plainURL, false, only(w.plain, func() (string, error) { return relay, nil }), "ok"},
		{"script injected", plainURL, false, only(w.plain, func() (string, error) { return injector, nil }), "blocked http.tampered"},
		{"http redirect", plainURL, false, only(w.plain, func() (string, error) { return redirector, nil }), "blocked http.redirect"},
		{"healthy download", fileURL, false, nil, "ok"},
		{"download tampered", fileURL, false, only(genuineFile, func() (string, error) { return modifiedFile, nil }), "blocked download.tampered"},
		{"throttled", bigURL, false, only(bigFast, func() (string, error) { return bigSlow, nil }), "blocked throttled"},
		{"healthy imap", imapURL, false, nil, "ok"},
		{"healthy smtp", smtpURL, false, nil, "ok"},
		{"imap stripped", imapURL, false, only(imap, func() (string, error) { return imapStripped, nil }), "blocked tls.stripped"},
		{"imap MITM", imapURL, false, only(imap, func() (string, error) { return imapMITM, nil }), "blocked tls.mitm"},
		{"smtp MITM", smtpURL, false, only(smtp, func() (string, error) { return smtpMITM, nil }), "blocked tls.mitm"},
		{"imap blackholed", imapURL, false, only(imap, func() (string, error) { return "", syscall.ETIMEDOUT }), "blocked tcp.timeout"},
		{"down everywhere", "https://www.site.test:" + port(probetest.ClosedPort(t)) + "/", false, nil, "down"},
	}
	for _, schedule := range []string{"parallel", "serial"} {
		for _, tt := range tests {
			t.Run(schedule+"/"+tt.name, func(t *testing.T) {
				ts, err := target.Parse(tt.target)
				if err != nil {
					t.Fatal(err)
				}
				m := w.assessor(t, tt.rogue, tt.cs, schedule == "serial").Assess(context.Background(), ts[0])
				got := strings.TrimSpace(m.Status + " " + strings.Join(m.Methods, " "))
				if got != tt.want || m.Verdict.Weak {
					t.Errorf("got %q (weak %v), want %q\nreason: %s\nevidence: %+v", got, m.Verdict.Weak, tt.want, m.Verdict.Reason, m.Verdict.Evidence)
					for _, s := range m.Steps {
						f := ""
						if s.Failure != nil {
							f = *s.Failure
						}
						t.Logf("  inside %s %s %s %s", s.Operation, s.Address, s.Hostname, f)
					}
					if m.Control != nil {
						for _, s := range m.Control.Steps {
							f := ""
							if s.Failure != nil {
								f = *s.Failure
							}
							t.Logf("  control %s %s %s %s", s.Operation, s.Address, s.Hostname, f)
						}
					}
				}
				for _, e := range m.Verdict.Evidence {
					t.Logf("%s: %s", e.Method, strings.Join(e.Lines, " | "))
				}
				if m.Status == model.StatusBlocked && len(m.Verdict.Evidence) == 0 {
					t.Error("blocked without evidence")
				}
			})
		}
	}
}
