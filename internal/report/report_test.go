package report

import (
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/model"
)

func str(s string) *string { return &s }

func TestText(t *testing.T) {
	t.Parallel()
	m := &model.Measurement{
		Target: "https://www.example.com/",
		Status: model.StatusBlocked,
		Steps: []model.Step{
			{Operation: model.OpDNSRoundTrip, Address: "192.0.2.53:53", DNS: &model.DNSData{Resolver: "udp://192.0.2.53:53", QueryType: "A", Responses: []model.DNSResponse{
				{ArrivalMS: 3, Rcode: "NOERROR", Answers: []model.DNSAnswer{{Type: "A", Value: "10.0.0.1"}}, Failure: str("dns_bogon_error")},
				{ArrivalMS: 40, Rcode: "NOERROR", Answers: []model.DNSAnswer{{Type: "A", Value: "93.184.216.34"}}},
			}, Bogons: []string{"10.0.0.1"}}, Failure: str("dns_bogon_error")},
			{Operation: model.OpConnect, Address: "93.184.216.34:443"},
			{Operation: model.OpTLSHandshake, Address: "93.184.216.34:443", Failure: str("connection_reset"), TLS: &model.TLSData{ServerName: "www.example.com"}},
		},
		Methods: []string{model.MethodDNSInjected, model.MethodTLSReset},
		Verdict: &model.Verdict{Evidence: []model.Evidence{{Method: model.MethodTLSReset, Lines: []string{"reset after ClientHello"}}}, Confidence: &model.Confidence{Agreed: 3, Tries: 3}},
	}
	var b strings.Builder
	Text(&b, m)
	out := b.String()
	for _, want := range []string{
		"https://www.example.com/",
		"dns_round_trip", "#1@3ms 10.0.0.1", "#2@40ms 93.184.216.34", "bogons: 10.0.0.1",
		"connect", "FAILED connection_reset",
		"status: blocked (dns.injected, tls.reset) [3/3 tries agree]",
		"reset after ClientHello",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}

	ok := &model.Measurement{Target: "http://a.example/", Status: model.StatusOK, Methods: []string{}}
	b.Reset()
	Text(&b, ok)
	if !strings.Contains(b.String(), "status: ok\n") {
		t.Errorf("ok report:\n%s", b.String())
	}
}
