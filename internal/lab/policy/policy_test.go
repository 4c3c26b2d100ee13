package policy

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/miekg/dns"
)

const policyScenario = `name: p
hosts:
  - {names: [www.falun.example], ip: 203.0.113.10, services: [http, https]}
  - {names: [mail.example], ip: 203.0.113.20, services: [imap, smtp]}
  - {names: [blocked.example], ip: 203.0.113.30, services: [http]}
  - {names: [moved.example], ip: 203.0.113.31, services: [http]}
  - {names: [slow.example], ip: 203.0.113.40, services: [http]}
  - {names: [proxied.example], ip: 203.0.113.50, services: [http, https]}
censor:
  - reset: {keywords: [falun]}
  - tls-mitm: {ips: [203.0.113.20], ports: [143]}
  - starttls-strip: {ips: [203.0.113.20], ports: [25]}
  - http-blockpage: {hosts: [blocked.example], status: 403, title: Forbidden}
  - http-redirect: {hosts: [moved.example], to: "http://warning.example/"}
  - drop: {ips: [203.0.113.30], ports: [443]}
  - drop: {ips: [203.0.113.40], probability: 0.5}
  - throttle: {ips: [203.0.113.40], rate: 1mbps}
  - dns-inject: {names: [falun.example], rcode: nxdomain, mode: replace}
  - http-proxy: {hosts: [proxied.example], inject: "<script>x()</script>"}
`

func TestPolicy(t *testing.T) {
	sc, err := scenario.Parse("p.yaml", []byte(policyScenario))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(sc.Censor, sc.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	never := func(float64) bool { return false }
	ap := netip.MustParseAddrPort

	for _, c := range []struct {
		name string
		dst  string
		roll Roll
		want Diversion
	}{
		{"mitm", "203.0.113.20:143", Always, MITM},
		{"mitm other port", "203.0.113.20:993", Always, Forward},
		{"strip", "203.0.113.20:25", Always, Strip},
		{"http proxy", "203.0.113.30:80", Always, HTTP},
		{"http proxy spares no roll", "203.0.113.31:80", never, HTTP},
		{"https not proxied", "203.0.113.30:443", Always, Forward},
		{"mitm spared", "203.0.113.20:143", never, Forward},
	} {
		if got, _ := p.Divert(ap(c.dst), c.roll); got != c.want {
			t.Errorf("%s: Divert(%s) = %d, want %d", c.name, c.dst, got, c.want)
		}
	}
	if r := p.Drop(ap("203.0.113.30:443"), Always); r == nil {
		t.Error("drop of port 443: not dropped")
	}
	if r := p.Drop(ap("203.0.113.30:80"), Always); r != nil {
		t.Error("drop of port 443 dropped port 80")
	}
	if p.Drop(ap("203.0.113.40:80"), Always) == nil || p.Drop(ap("203.0.113.40:80"), never) != nil {
		t.Error("drop with probability: roll not applied")
	}
	if r := p.Throttle(netip.MustParseAddr("203.0.113.40"), Always); r == nil || r.Throttle.Rate != 1e6 {
		t.Errorf("throttle: got %+v", r)
	}

	if m, complete := p.Reset([]byte("GET /x HTTP/1.1\r\nHost: www.falun.example\r\n\r\n")); m.Rule == nil || m.Where != "http" || !complete {
		t.Errorf("reset on Host: got %+v %v", m, complete)
	}
	if m, complete := p.Reset([]byte("GET /x HTTP/1.1\r\nHost: a.example\r\n")); m.Rule != nil || complete {
		t.Errorf("incomplete clean request: got %+v %v", m, complete)
	}
	if m, _ := p.Reset(clientHello(t, "www.falun.example")); m.Rule == nil || m.Where != "sni" {
		t.Errorf("reset on SNI: got %+v", m)
	}
	if _, complete := p.Reset([]byte("\x00\x01binary")); !complete {
		t.Error("a stream that is neither HTTP nor TLS is not decided")
	}
	if _, ok := p.ResetHTTP("get /falun http/1.1", "a.example", Always); !ok {
		t.Error("ResetHTTP missed the keyword in the path")
	}

	resp, r := p.AnswerHTTP("blocked.example", Always)
	if r == nil || !strings.HasPrefix(string(resp), "HTTP/1.1 403 Forbidden\r\n") || !strings.Contains(string(resp), "<title>Forbidden</title>") {
		t.Errorf("block page: %q", resp)
	}
	if resp, _ := p.AnswerHTTP("moved.example", Always); !strings.Contains(string(resp), "Location: http://warning.example/\r\n") {
		t.Errorf("redirect: %q", resp)
	}
	if resp, r := p.AnswerHTTP("moved.example", never); resp != nil || r != nil {
		t.Error("redirect spared by the roll still answered")
	}

	if r := p.ProxyHTTP("proxied.example", Always); r == nil || r.HTTPProxy.Inject != "<script>x()</script>" {
		t.Errorf("http-proxy: got %+v", r)
	}
	if p.ProxyHTTP("proxied.example", never) != nil || p.ProxyHTTP("blocked.example", Always) != nil {
		t.Error("http-proxy: proxied a request spared by the roll or for another host")
	}
	if resp, r := p.AnswerHTTP("proxied.example", Always); resp != nil || r != nil {
		t.Error("http-proxy: AnswerHTTP answered in place of the proxied server")
	}
	for _, c := range []struct {
		dst  string
		want Diversion
	}{{"203.0.113.50:80", HTTP}, {"203.0.113.50:443", Forward}, {"203.0.113.30:80", HTTP}, {"203.0.113.40:80", Forward}} {
		if got, _ := p.Divert(ap(c.dst), Always); got != c.want {
			t.Errorf("Divert(%s) = %v, want %v", c.dst, got, c.want)
		}
	}
	if !p.Has(scenario.KindHTTPProxy) || !p.Has(scenario.KindHTTPBlockpage) {
		t.Error("Has: http-proxy or http-blockpage missing")
	}

	var q dns.Msg
	q.SetQuestion("www.falun.example.", dns.TypeA)
	if r := p.DNS(&q); r == nil || !p.Replace() {
		t.Errorf("dns: rule %v, replace %v", r, p.Replace())
	}
	q.SetQuestion("mail.example.", dns.TypeA)
	if r := p.DNS(&q); r != nil {
		t.Error("dns: forged an unrelated name")
	}
	if !p.Has(scenario.KindThrottle) || p.Has("nonsense") {
		t.Error("Has")
	}
	if names := p.HostNames(netip.MustParseAddr("203.0.113.20")); len(names) != 1 || names[0] != "mail.example" {
		t.Errorf("HostNames = %v", names)
	}
	if STARTTLS(143).Proto != "imap" || STARTTLS(993) != nil {
		t.Error("STARTTLS table")
	}
}

func TestSeeded(t *testing.T) {
	a, b, c := Seeded(7), Seeded(7), Seeded(8)
	same, other := true, false
	for range 64 {
		x := a(0.5)
		same = same && x == b(0.5)
		other = other || x != c(0.5)
	}
	if !same || !other {
		t.Errorf("Seeded: same seed agrees %v, another seed differs %v", same, other)
	}
	if !a(1) || a(0) {
		t.Error("Seeded: probability 1 must always apply, 0 never")
	}
}

// TestKeywordDrop checks that keyword-drop rules match as reset rules do,
// in the scenario's order, and that the match says to drop.
func TestKeywordDrop(t *testing.T) {
	sc, err := scenario.Parse("k.yaml", []byte(`name: k
hosts:
  - {names: [www.falun.example], ip: 203.0.113.10, services: [http, https]}
censor:
  - reset: {keywords: [falun], where: [http]}
  - keyword-drop: {keywords: [falun, tuidang], where: [sni]}
  - keyword-drop: {keywords: [minghui], where: [http]}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(sc.Censor, sc.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Has(scenario.KindKeywordDrop) || !p.Has(scenario.KindReset) || !p.Inspects() {
		t.Fatalf("Has(keyword-drop), Has(reset), Inspects: got false, want true")
	}
	for _, c := range []struct {
		name, payload string
		keyword       string // "" when nothing matches
		drop          bool
	}{
		{"http keyword resets", "GET /falun HTTP/1.1\r\nHost: a.example\r\n\r\n", "falun", false},
		{"http keyword drops", "GET / HTTP/1.1\r\nHost: minghui.example\r\n\r\n", "minghui", true},
		{"sni keyword drops", string(clientHello(t, "www.falun.example")), "falun", true},
		{"sni other keyword drops", string(clientHello(t, "tuidang.example")), "tuidang", true},
		{"sni of an http-only keyword passes", string(clientHello(t, "minghui.example")), "", false},
		{"clean", "GET / HTTP/1.1\r\nHost: clean.example\r\n\r\n", "", false},
	} {
		m, _ := p.Reset([]byte(c.payload))
		if m.Keyword != c.keyword || m.Drop() != c.drop {
			t.Errorf("%s: got keyword %q drop %v, want %q %v", c.name, m.Keyword, m.Drop(), c.keyword, c.drop)
		}
	}
	if m, ok := p.ResetHTTP("get /minghui http/1.1", "a.example", Always); ok {
		t.Errorf("ResetHTTP of a keyword-drop keyword: got rule %q, want none (the proxy only resets)", m.Rule.Kind)
	}
}
