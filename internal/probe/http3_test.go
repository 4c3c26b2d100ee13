package probe

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/quic-go/quic-go/http3"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
)

// listenSamePort opens a UDP socket and a TCP listener on one loopback port.
func listenSamePort(t *testing.T) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 50 {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp4", pc.LocalAddr().String())
		if err == nil {
			t.Cleanup(func() { pc.Close(); ln.Close() })
			return pc, ln
		}
		pc.Close()
	}
	t.Fatal("no port free on both UDP and TCP")
	return nil, nil
}

// h3Site serves https on a TCP listener (advertising altSvc when set) and
// HTTP/3 on pc (when not nil), both with cert.
func h3Site(t *testing.T, cert tls.Certificate, ln net.Listener, pc net.PacketConn, altSvc string) {
	t.Helper()
	conf := &tls.Config{Certificates: []tls.Certificate{cert}}
	tcp := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if altSvc != "" {
			w.Header().Set("Alt-Svc", altSvc)
		}
		io.WriteString(w, "<title>over TCP</title>")
	})}
	go tcp.Serve(tls.NewListener(ln, conf))
	t.Cleanup(func() { tcp.Close() })
	if pc == nil {
		return
	}
	h3 := &http3.Server{TLSConfig: http3.ConfigureTLSConfig(conf), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "h3-test")
		fmt.Fprintf(w, "<title>over %s</title>", r.Proto)
	})}
	go h3.Serve(pc)
	t.Cleanup(func() { h3.Close() })
}

// blackhole is a UDP socket that reads and drops every datagram: a QUIC
// server behind a censor that drops UDP.
func blackhole(t *testing.T) net.PacketConn {
	t.Helper()
	pc, _ := listenSamePort(t)
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return pc
}

func TestHTTP3(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	asked := newEnv(t, func(c *Config) { c.HTTP3 = true })
	cert := e.ca.Leaf(t, "www.site.test")

	t.Run("advertised", func(t *testing.T) {
		t.Parallel()
		pc, ln := listenSamePort(t)
		p := port(ln.Addr().String())
		h3Site(t, cert, ln, pc, `h3-29=":1", h3=":`+p+`"; ma=86400`)
		m := e.measure(t, "https://www.site.test:"+p+"/")
		qs, hs := steps(m, model.OpQUICHandshake), steps(m, model.OpHTTP3)
		if len(qs) != 1 || qs[0].Failure != nil || len(hs) != 1 || hs[0].Failure != nil {
			t.Fatalf("want one completed QUIC handshake and HTTP/3 request:\n%s", dump(m))
		}
		d := qs[0].TLS
		if !d.Verified || d.ALPN != http3.NextProtoH3 || d.Version != "TLSv1.3" || len(d.Chain) != 2 || qs[0].Address != "127.0.0.1:"+p {
			t.Errorf("quic_handshake %s: %+v", qs[0].Address, d)
		}
		h := hs[0].HTTP
		if h.Status != 200 || h.Title != "over HTTP/3.0" || h.Headers["Server"] != "h3-test" || h.BodySHA256 == "" {
			t.Errorf("http3_round_trip: %+v", h)
		}
		if tcp := steps(m, model.OpHTTPRoundTrip); len(tcp) != 1 || tcp[0].HTTP.Headers["Alt-Svc"] == "" {
			t.Errorf("the TCP hop should record Alt-Svc:\n%s", dump(m))
		}
	})
	t.Run("advertised on another port", func(t *testing.T) {
		t.Parallel()
		_, ln := listenSamePort(t)
		pc, _ := listenSamePort(t)
		alt := port(pc.LocalAddr().String())
		h3Site(t, cert, ln, pc, `h3=":`+alt+`"`)
		m := e.measure(t, "https://www.site.test:"+port(ln.Addr().String())+"/")
		if qs := steps(m, model.OpQUICHandshake); len(qs) != 1 || qs[0].Address != "127.0.0.1:"+alt || qs[0].Failure != nil {
			t.Fatalf("want a QUIC handshake on the advertised port %s:\n%s", alt, dump(m))
		}
	})
	t.Run("not advertised", func(t *testing.T) {
		t.Parallel()
		pc, ln := listenSamePort(t)
		h3Site(t, cert, ln, pc, "")
		m := e.measure(t, "https://www.site.test:"+port(ln.Addr().String())+"/")
		if n := len(steps(m, model.OpQUICHandshake)) + len(steps(m, model.OpHTTP3)); n != 0 {
			t.Fatalf("HTTP/3 measured without Alt-Svc or --http3:\n%s", dump(m))
		}
	})
	t.Run("asked", func(t *testing.T) {
		t.Parallel()
		pc, ln := listenSamePort(t)
		h3Site(t, cert, ln, pc, "")
		m := asked.measure(t, "https://www.site.test:"+port(ln.Addr().String())+"/")
		if hs := steps(m, model.OpHTTP3); len(hs) != 1 || hs[0].Failure != nil || hs[0].HTTP.Status != 200 {
			t.Fatalf("want an HTTP/3 request when asked:\n%s", dump(m))
		}
	})
	t.Run("UDP dropped", func(t *testing.T) {
		t.Parallel()
		pc := blackhole(t)
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		h3Site(t, cert, ln, nil, `h3=":`+port(pc.LocalAddr().String())+`"`)
		m := e.measure(t, "https://www.site.test:"+port(ln.Addr().String())+"/")
		qs := steps(m, model.OpQUICHandshake)
		if len(qs) != 1 || failureOf(qs[0]) != failure.GenericTimeout || len(steps(m, model.OpHTTP3)) != 0 {
			t.Fatalf("want one QUIC handshake timing out and no HTTP/3 request:\n%s", dump(m))
		}
		if tcp := steps(m, model.OpHTTPRoundTrip); len(tcp) != 1 || tcp[0].HTTP.Status != 200 {
			t.Errorf("TCP HTTPS should still work:\n%s", dump(m))
		}
	})
	t.Run("wrong certificate", func(t *testing.T) {
		t.Parallel()
		pc, ln := listenSamePort(t)
		h3Site(t, e.ca.Leaf(t, "other.example"), ln, pc, `h3=":`+port(ln.Addr().String())+`"`)
		m := e.measure(t, "https://www.site.test:"+port(ln.Addr().String())+"/")
		qs := steps(m, model.OpQUICHandshake)
		if len(qs) != 1 || qs[0].Failure != nil || qs[0].TLS.Verified || qs[0].TLS.VerifyError == nil || *qs[0].TLS.VerifyError != failure.SSLInvalidHostname {
			t.Fatalf("want a completed handshake whose chain does not verify for the name:\n%s", dump(m))
		}
	})
}

func TestParseAltSvcH3(t *testing.T) {
	tests := []struct {
		in   string
		host string
		port int
		ok   bool
	}{
		{`h3=":443"; ma=2592000`, "", 443, true},
		{`h3-29=":8443", h3="alt.example:4433"`, "alt.example", 4433, true},
		{`h2=":443"`, "", 0, false},
		{`clear`, "", 0, false},
		{`h3=:443`, "", 0, false},
		{`h3=":0"`, "", 0, false},
		{`h3=":99999"`, "", 0, false},
		{`h3="[2001:db8::1]:443"`, "2001:db8::1", 443, true},
		{``, "", 0, false},
	}
	for _, tc := range tests {
		h, p, ok := ParseAltSvcH3(tc.in)
		if h != tc.host || p != tc.port || ok != tc.ok {
			t.Errorf("ParseAltSvcH3(%q) = %q, %d, %v; want %q, %d, %v", tc.in, h, p, ok, tc.host, tc.port, tc.ok)
		}
	}
}

func FuzzParseAltSvcH3(f *testing.F) {
	for _, s := range []string{`h3=":443"; ma=2592000`, `h3-29=":8443", h3="alt.example:4433"`, `clear`, `h3="[::1]:1"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h, p, ok := ParseAltSvcH3(v)
		if ok && (p < 1 || p > 65535) || !ok && (h != "" || p != 0) {
			t.Fatalf("ParseAltSvcH3(%q) = %q, %d, %v", v, h, p, ok)
		}
	})
}
