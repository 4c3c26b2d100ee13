package keywords

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/netx"
	"github.com/firewatch/firewatch/internal/probe/probetest"
	"github.com/firewatch/firewatch/internal/target"
	"github.com/miekg/dns"
)

// resettingServer serves HTTP on loopback and resets every connection whose
// request head contains a keyword, as an in-path censor would.
func resettingServer(t *testing.T, keywords ...string) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				var head strings.Builder
				for {
					l, err := br.ReadString('\n')
					if err != nil {
						return
					}
					head.WriteString(l)
					if l == "\r\n" {
						break
					}
				}
				for _, k := range keywords {
					if strings.Contains(strings.ToLower(head.String()), k) {
						c.(*net.TCPConn).SetLinger(0)
						return
					}
				}
				c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 27\r\nConnection: close\r\n\r\n<title>News</title> hello\r\n"))
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// fakeControl answers every variant with a 200 page from addr.
type fakeControl struct{ addr string }

func (f fakeControl) Measure(_ context.Context, t target.Target, _ []string) (*model.Measurement, error) {
	st := model.Step{Operation: model.OpHTTPRoundTrip, Address: f.addr, HTTP: &model.HTTPData{URL: t.String(), Status: 200, Title: "News"}}
	tl := model.Step{Operation: model.OpTLSHandshake, Address: f.addr}
	return &model.Measurement{Target: t.String(), Steps: []model.Step{st, tl}}, nil
}

func TestTesterIsolatesOnLoopback(t *testing.T) {
	addr := resettingServer(t, "falun", "tibet")
	tr := &Tester{Base: Base{Addr: addr, Host: "news.example", Path: "/"}, Network: &netx.Network{},
		Control: fakeControl{addr.String()}, Timeout: 2 * time.Second}
	got, err := Isolate(context.Background(), tr, FieldPath, "/search?q=weather+falun+cats+tibet")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"falun", "tibet"}) {
		t.Errorf("keywords %q, want [falun tibet]", got)
	}
	steps := tr.Steps()
	if len(steps) < 5 || steps[0].Operation != model.OpKeywordTest || !steps[0].Keyword.Blocked || steps[0].Failure == nil {
		t.Fatalf("steps %+v", steps[:min(len(steps), 2)])
	}
	ev := Evasions(context.Background(), tr, FieldHost, "www.falundafa.org")
	for _, e := range ev {
		// the server lower-cases the head: only the mutations hiding the word evade; none here
		if e.Evades {
			t.Errorf("%s evades a censor that matches the whole head case-insensitively", e.Mutation)
		}
	}
}

func TestClientHelloGetsAServerHello(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	addr := netip.MustParseAddrPort(srv.Listener.Addr().String())
	for _, m := range []string{"", MutCase, MutSNISplit, MutTLSRecordFrag, MutTrailingDot} {
		s := tlsExchange(context.Background(), &netx.Network{}, addr, "www.example.org", m, 2*time.Second)
		want := "handshake"
		if m == MutTrailingDot {
			want = "alert" // Go's server refuses a name ending in a dot: an answer all the same
		}
		if s.TLS != want {
			t.Errorf("mutation %q: %s, want tls %s", m, s, want)
		}
	}
}

// dnsControl resolves every name to 203.0.113.9 outside.
type dnsControl struct{}

func (dnsControl) Measure(_ context.Context, t target.Target, _ []string) (*model.Measurement, error) {
	st := model.Step{Operation: model.OpResolve, Hostname: t.Host, DNS: &model.DNSData{Resolver: "system", QueryType: "A",
		Responses: []model.DNSResponse{{Rcode: "NOERROR", Answers: []model.DNSAnswer{{Name: t.Host, Type: "A", Value: "203.0.113.9"}}}}}}
	return &model.Measurement{Target: t.String(), Steps: []model.Step{st}}, nil
}

func TestTesterDNSWordsOnLoopback(t *testing.T) {
	// a resolver that lies (NXDOMAIN) about names holding "tibet"
	addr := probetest.ServeDNS(t, func(w dns.ResponseWriter, q *dns.Msg) {
		r := probetest.Reply(q, "203.0.113.9")
		if strings.Contains(strings.ToLower(q.Question[0].Name), "tibet") {
			r.Rcode, r.Answer = dns.RcodeNameError, nil
		}
		_ = w.WriteMsg(r)
	})
	tr := &Tester{Base: Base{Resolver: netip.MustParseAddrPort(addr), Name: "example.com"}, Network: &netx.Network{},
		Control: dnsControl{}, Timeout: time.Second, DNSWait: 50 * time.Millisecond}
	tpl, err := ParseTemplate(FieldDNS, "{}.example.com")
	if err != nil {
		t.Fatal(err)
	}
	res := TestWords(context.Background(), tr, tpl, []string{"weather", "freetibet", "cats"}, 2)
	want := []string{model.StatusOK, model.StatusBlocked, model.StatusOK}
	for i, r := range res {
		if r.Status != want[i] {
			t.Errorf("%s: %s %v, want %s", r.Word, r.Status, r.Methods, want[i])
		}
	}
	if len(res[1].Methods) != 1 || res[1].Methods[0] != model.MethodDNSNXDomain {
		t.Errorf("methods %v, want [dns.nxdomain]", res[1].Methods)
	}
}
