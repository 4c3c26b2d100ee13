package trace

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/model"
)

func TestPlanFor(t *testing.T) {
	fail := "connection_reset"
	httpStep := model.Step{Operation: model.OpHTTPRoundTrip, Address: "203.0.113.30:80", Failure: &fail,
		HTTP: &model.HTTPData{URL: "http://news.example/falun?q=1", Method: "GET"}}
	tests := []struct {
		name     string
		m        model.Measurement
		wantErr  string // "" for a plan
		wantKind string
	}{
		{"ok target", model.Measurement{Target: "http://a.example/", Status: model.StatusOK}, "nothing to locate: http://a.example/ is ok, not blocked", ""},
		{"untraceable method", model.Measurement{Target: "https://a.example/", Status: model.StatusBlocked, Methods: []string{model.MethodTLSMITM}}, "which no single packet triggers", ""},
		{"http.reset", model.Measurement{Target: "http://news.example/falun?q=1", Status: model.StatusBlocked, Methods: []string{model.MethodHTTPReset}, Steps: []model.Step{httpStep}}, "", ExchangeHTTP},
		{"http.reset without a request", model.Measurement{Target: "http://x.example/", Status: model.StatusBlocked, Methods: []string{model.MethodHTTPReset}}, "no HTTP request", ""},
		{"tcp.timeout", model.Measurement{Target: "imaps://m.example/", Status: model.StatusBlocked, Methods: []string{model.MethodTCPTimeout},
			Steps: []model.Step{{Operation: model.OpConnect, Address: "203.0.113.9:993", Failure: &fail}}}, "", ExchangeSYN},
		{"dns.injected", model.Measurement{Target: "https://f.example/", Status: model.StatusBlocked, Methods: []string{model.MethodDNSInjected},
			Steps: []model.Step{{Operation: model.OpDNSRoundTrip, Hostname: "f.example", DNS: &model.DNSData{Resolver: "udp://192.0.2.53:53", QueryType: "A",
				Responses: []model.DNSResponse{{Rcode: "NOERROR"}, {Rcode: "NOERROR"}}}}}}, "", ExchangeDNS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := PlanFor(&tc.m)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrNothingToLocate) {
					t.Fatalf("err %v, want one containing %q wrapping ErrNothingToLocate", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Exchange.Kind != tc.wantKind {
				t.Errorf("exchange %q, want %q", p.Exchange.Kind, tc.wantKind)
			}
		})
	}
	// A redirect chain cut at its last hop traces that hop's request.
	hop0 := model.Step{Operation: model.OpHTTPRoundTrip, Address: "203.0.113.31:80",
		HTTP: &model.HTTPData{URL: "http://start.example/", Method: "GET", Status: 302}}
	last := httpStep
	last.HTTP = &model.HTTPData{URL: "http://news.example/falun?q=1", Method: "GET", Hop: 2}
	chain := model.Measurement{Target: "http://start.example/", Status: model.StatusBlocked, Methods: []string{model.MethodHTTPReset},
		Steps: []model.Step{hop0, {Operation: model.OpHTTPRoundTrip, Address: "203.0.113.32:80",
			HTTP: &model.HTTPData{URL: "http://mid.example/", Method: "GET", Status: 302, Hop: 1}}, last}}
	if p, err := PlanFor(&chain); err != nil || p.Host != "news.example" || p.Exchange.Server.String() != "203.0.113.30:80" {
		t.Errorf("chain cut at its last hop: plan %+v, %v; want news.example at 203.0.113.30:80", p, err)
	}
	p, _ := PlanFor(&tests[2].m)
	if want := "GET /falun?q=1 HTTP/1.1\r\nHost: news.example\r\n"; !strings.HasPrefix(string(p.Exchange.Request), want) {
		t.Errorf("request %q, want it to start with %q", p.Exchange.Request, want)
	}
}

func FuzzParseICMPError(f *testing.F) {
	// time exceeded quoting UDP 198.51.100.2:40000 -> 203.0.113.40:53
	f.Add([]byte{11, 0, 0, 0, 0, 0, 0, 0, 0x45, 0, 0, 28, 0, 0, 0, 0, 1, 17, 0, 0, 198, 51, 100, 2, 203, 0, 113, 40, 0x9c, 0x40, 0, 53, 0, 8, 0, 0})
	f.Add([]byte{3, 3, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, fl, ok := parseICMPError(b, &net.IPAddr{IP: net.IPv4(198, 51, 100, 1)})
		if ok && (!ev.from.IsValid() || !fl.dst.IsValid()) {
			t.Fatalf("ok with an invalid address: %+v %+v", ev, fl)
		}
	})
}
