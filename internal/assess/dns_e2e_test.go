package assess

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/firewatch/firewatch/internal/probe"
	"github.com/firewatch/firewatch/internal/probe/probetest"
	"github.com/firewatch/firewatch/internal/target"
)

// splitDNS answers A queries from a fixed table (NXDOMAIN otherwise).
func splitDNS(t *testing.T, table map[string]string) string {
	t.Helper()
	return "udp://" + probetest.ServeDNS(t, func(w dns.ResponseWriter, q *dns.Msg) {
		name := strings.TrimSuffix(strings.ToLower(q.Question[0].Name), ".")
		ip, ok := table[name]
		switch {
		case !ok:
			m := probetest.Reply(q)
			m.Rcode = dns.RcodeNameError
			w.WriteMsg(m)
		case q.Question[0].Qtype == dns.TypeA:
			w.WriteMsg(probetest.Reply(q, ip))
		default:
			w.WriteMsg(probetest.Reply(q))
		}
	})
}

// serveTLSAt serves a page over TLS with cert at addr.
func serveTLSAt(t *testing.T, ln net.Listener, cert tls.Certificate, title string) {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, "<html><title>"+title+"</title>"+strings.Repeat("x", 500)+"</html>")
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
}

// TestDNSDecisionEndToEnd: the inside resolver gives other addresses than
// the control's; a CDN-like edge with a valid certificate is ok, an
// unrelated host is dns.inconsistent.
func TestDNSDecisionEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	ca := probetest.NewCA(t, "genuine root")
	// The genuine site on 127.0.0.1:P; an edge on 127.0.0.2:P; an unrelated host on 127.0.0.3:P.
	lns := probetest.ListenSamePort(t, "127.0.0.1", "127.0.0.2", "127.0.0.3")
	port := port(lns[0].Addr().String())
	serveTLSAt(t, lns[0], ca.Leaf(t, "www.cdn.test", "www.poisoned.test"), "CDN")
	serveTLSAt(t, lns[1], ca.Leaf(t, "www.cdn.test"), "CDN")
	serveTLSAt(t, lns[2], ca.Leaf(t, "unrelated.test"), "Unrelated")

	outside := splitDNS(t, map[string]string{"www.cdn.test": "127.0.0.1", "www.poisoned.test": "127.0.0.1"})
	inside := splitDNS(t, map[string]string{"www.cdn.test": "127.0.0.2", "www.poisoned.test": "127.0.0.3"})
	w := newWorld(t)
	// Replace the world's control with one using the outside resolver.
	cp, err := probe.New(probe.Config{Network: probetest.Network(t, ca.Pool(), ""), Resolvers: []string{outside}, Vantage: "control",
		Timeout: 3 * time.Second, InjectionWindow: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w.ctl = controlFor(t, cp)
	p, err := probe.New(probe.Config{Network: probetest.Network(t, ca.Pool(), ""), Resolvers: []string{inside},
		Timeout: 3 * time.Second, InjectionWindow: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a := &Assessor{Probe: p, Control: w.ctl, Retests: -1}
	for _, tt := range []struct{ host, want string }{
		{"www.cdn.test", "ok"},
		{"www.poisoned.test", "blocked dns.inconsistent"},
	} {
		ts, err := target.Parse("https://" + tt.host + ":" + port + "/")
		if err != nil {
			t.Fatal(err)
		}
		m := a.Assess(context.Background(), ts[0])
		got := strings.TrimSpace(m.Status + " " + strings.Join(m.Methods, " "))
		if got != tt.want {
			t.Errorf("%s: got %q, want %q; reason %q evidence %+v", tt.host, got, tt.want, m.Verdict.Reason, m.Verdict.Evidence)
		}
		if got != tt.want {
			b, _ := json.MarshalIndent(m, "", " ")
			t.Logf("%s", b)
		}
		for _, e := range m.Verdict.Evidence {
			t.Logf("%s: %s", e.Method, strings.Join(e.Lines, " | "))
		}
	}
}
