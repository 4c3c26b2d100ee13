package probe

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/probe/probetest"
	"github.com/firewatch/firewatch/internal/target"
	"github.com/miekg/dns"
)

func TestDoH(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var wire []byte
				switch {
				case r.Method != method:
					w.WriteHeader(http.StatusMethodNotAllowed)
					return
				case r.Method == http.MethodPost:
					wire, _ = io.ReadAll(r.Body)
				default:
					wire, _ = decodeB64URL(r.URL.Query().Get("dns"))
				}
				q := new(dns.Msg)
				if q.Unpack(wire) != nil {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				resp, _ := probetest.Answer(q)[0].Pack()
				w.Header().Set("Content-Type", "application/dns-message")
				w.Write(resp)
			}))
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{e.ca.Leaf(t, "127.0.0.1")}}
			srv.StartTLS()
			t.Cleanup(srv.Close)
			p, err := New(Config{Network: e.p.net, Resolvers: []string{srv.URL + "/dns-query"}, Timeout: e.p.cfg.Timeout})
			if err != nil {
				t.Fatal(err)
			}
			ts, _ := target.Parse("http://www.site.test:" + port(probetest.ClosedPort(t)) + "/")
			m := p.Measure(t.Context(), ts[0], Extra{})
			ss := steps(m, model.OpDNSRoundTrip)
			if len(ss) != 2 || ss[0].Failure != nil || len(ss[0].DNS.Responses) != 1 || ss[0].DNS.Responses[0].Answers[0].Value != "127.0.0.1" || ss[0].DNS.Responses[0].From != srv.Listener.Addr().String() {
				t.Errorf("want the A answer over DoH:\n%s", dump(m))
			}
			if len(steps(m, model.OpConnect)) != 1 {
				t.Errorf("want one connect:\n%s", dump(m))
			}
		})
	}
}

func TestExtra(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }))
	t.Cleanup(srv.Close)
	ts, _ := target.Parse("http://www.site.test:" + port(srv.Listener.Addr().String()) + "/")
	m := e.p.Measure(t.Context(), ts[0], Extra{Addrs: []string{"127.0.0.1", "127.0.0.3", "10.0.0.1"}})
	var addrs []string
	for _, s := range steps(m, model.OpConnect) {
		addrs = append(addrs, s.Address)
	}
	want := []string{"127.0.0.1:" + port(srv.Listener.Addr().String()), "127.0.0.3:" + port(srv.Listener.Addr().String()), "127.0.0.3:443"}
	if len(addrs) != len(want) {
		t.Fatalf("connects %v, want %v (bogon 10.0.0.1 never connected)", addrs, want)
	}
	for i := range want {
		if addrs[i] != want[i] {
			t.Errorf("connect %d to %s, want %s", i, addrs[i], want[i])
		}
	}
}
