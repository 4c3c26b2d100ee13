package scenario

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/addrclass"
)

func TestLoadSeed(t *testing.T) {
	s, err := Load("testdata/seed-2015.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "seed-2015" || len(s.Hosts) != 13 || len(s.Censor) != 9 || len(s.Expect) != 1 {
		t.Fatalf("got name %q, %d hosts, %d rules, %d expects", s.Name, len(s.Hosts), len(s.Censor), len(s.Expect))
	}
	if s.Network == nil || s.Network.Country != "CN" || s.Network.ASN != "AS4134" {
		t.Errorf("got network %+v", s.Network)
	}
	h, ok := s.HostByName("SKYPE.com.")
	if !ok || h.IP != netip.MustParseAddr("203.0.113.10") || h.Inside == nil || h.Inside.Redirect != "http://skype.tom.example/" {
		t.Fatalf("got host %+v", h)
	}
	if pg := h.Pages["/SkypeSetup.exe"]; !pg.IsFile() || pg.Size != 2000000 || pg.Seed != "official" {
		t.Errorf("got page %+v", pg)
	}
	d := s.Censor[0].DNSInject
	if d == nil || d.Mode != ModeRace || !d.Matches("www.Facebook.com.") || d.Matches("notfacebook.com") || d.Answers[0] != netip.MustParseAddr("203.0.113.50") {
		t.Errorf("got dns-inject %+v", d)
	}
	if r := s.Censor[1].DNSInject; r.Rcode != "nxdomain" || r.Mode != ModeRace {
		t.Errorf("got %+v", r)
	}
	if r := s.Censor[2].Drop; len(r.Ports) != 3 || r.Ports[0] != 993 {
		t.Errorf("got %+v", r)
	}
	if r := s.Censor[4].TLSMITM; r.Trusted() || len(r.Ports) != 5 {
		t.Errorf("got %+v", r)
	}
	if r := s.Censor[7].Throttle; r.Rate != 4000 {
		t.Errorf("got rate %d, want 4000", r.Rate)
	}
	if p := s.Censor[8].P(); p != 0.5 {
		t.Errorf("got probability %v", p)
	}
	if p := s.Censor[0].P(); p != 1 {
		t.Errorf("got probability %v, want 1", p)
	}
	if s.Censor[3].Line != 58 {
		t.Errorf("got rule line %d, want 58", s.Censor[3].Line)
	}
}

// TestGhostNames shows a dns-inject rule naming a declared ghost (or a name
// below one) and the ghost kept in the scenario.
func TestGhostNames(t *testing.T) {
	y := "name: x\nhosts:\n  - names: [a.example]\n    ip: 203.0.113.1\nghosts: [Ghost.example.]\n" +
		"censor:\n  - dns-inject: {names: [ghost.example, www.ghost.example], answers: [203.0.113.1], mode: replace}\n"
	s, err := Parse("f.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Ghosts) != 1 || s.Ghosts[0] != "ghost.example" || !s.Censor[0].DNSInject.Matches("www.ghost.example") {
		t.Errorf("got ghosts %q, rule %+v", s.Ghosts, s.Censor[0].DNSInject)
	}
}

// TestPageRedirect: a chain of redirect pages across hosts, each hop naming
// a host defined before or after it, or a ghost; 302 unless a status is given.
func TestPageRedirect(t *testing.T) {
	y := "name: x\nghosts: [gone.example]\nhosts:\n" +
		"  - names: [a.example]\n    ip: 203.0.113.1\n    services: [http]\n" +
		"    pages: {/chain: {redirect: \"http://B.example./chain\"}, /dead: {redirect: \"http://www.gone.example/\"}}\n" +
		"  - names: [b.example]\n    ip: 203.0.113.2\n    services: [http, https]\n" +
		"    pages: {/chain: {redirect: \"https://203.0.113.1/\", status: 307}}\n"
	s, err := Parse("f.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		host, path, to string
		status         int
	}{
		{"a.example", "/chain", "http://B.example./chain", 302},
		{"a.example", "/dead", "http://www.gone.example/", 302},
		{"b.example", "/chain", "https://203.0.113.1/", 307},
	}
	for _, c := range cases {
		h, _ := s.HostByName(c.host)
		pg, ok := h.Pages[c.path]
		if !ok || pg.Redirect != c.to || pg.RedirectStatus() != c.status || pg.IsFile() {
			t.Errorf("%s%s: got %+v (status %d), want a %d redirect to %s", c.host, c.path, pg, pg.RedirectStatus(), c.status, c.to)
		}
	}
}

func TestParseErrors(t *testing.T) {
	base := "name: x\nhosts:\n  - names: [a.example]\n    ip: 203.0.113.1\n    services: [http]\n"
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown top key", "name: x\nfoo: 1\n", "f.yaml:2: foo: unknown key"},
		{"unknown host key", "name: x\nhosts:\n  - names: [a.example]\n    ip: 203.0.113.1\n    port: 80\n", "f.yaml:5: hosts[0].port: unknown key"},
		{"missing name", "hosts: []\n", "f.yaml:1: name: missing"},
		{"not test-net", "name: x\nhosts:\n  - names: [a.example]\n    ip: 10.0.0.1\n", "f.yaml:4: hosts[0].ip: 10.0.0.1 is not a TEST-NET"},
		{"public ip", "name: x\nhosts:\n  - names: [a.example]\n    ip: 8.8.8.8\n", "hosts[0].ip: 8.8.8.8 is not a TEST-NET"},
		{"dup name", base + "  - names: [A.example]\n    ip: 203.0.113.2\n", "f.yaml:6: hosts[1].names[0]: duplicate name \"a.example\" (already at line 3)"},
		{"dup ip", base + "  - names: [b.example]\n    ip: 203.0.113.1\n", "f.yaml:7: hosts[1].ip: duplicate address"},
		{"dup key", "name: x\nname: y\n", "f.yaml:2: name: duplicate key"},
		{"bad service", "name: x\nhosts:\n  - names: [a.example]\n    ip: 203.0.113.1\n    services: [gopher]\n", "hosts[0].services[0]: unknown service"},
		{"bad certificate fault", "name: x\nhosts:\n  - names: [a.example]\n    ip: 203.0.113.1\n    services: [https]\n    certificate: stale\n", `hosts[0].certificate: want expired, wrong-name or untrusted, got "stale"`},
		{"bad resolver delay", "name: x\nresolver_delay: 2 seconds\n", `resolver_delay: want a duration from 1ms to 5s`},
		{"resolver delay too long", "name: x\nresolver_delay: 1m\n", `resolver_delay: want a duration`},
		{"rule unknown ip", base + "censor:\n  - drop: {ips: [203.0.113.9]}\n", "f.yaml:7: censor[0].drop.ips[0]: no host has address 203.0.113.9"},
		{"rule unknown host", base + "censor:\n  - http-redirect: {hosts: [b.example], to: \"http://a.example/\"}\n", "f.yaml:7: censor[0].http-redirect.hosts[0]: no host named \"b.example\""},
		{"rule unknown name", base + "censor:\n  - dns-inject: {names: [b.example], rcode: nxdomain}\n", "censor[0].dns-inject.names[0]: no host named"},
		{"ghost served", base + "ghosts: [example]\n", "f.yaml:6: ghosts[0]: \"example\" is served by a host"},
		{"ghost dup", base + "ghosts: [g.example, G.example.]\n", "ghosts[1]: duplicate name"},
		{"ghost invalid", base + "ghosts: [\"a b\"]\n", "ghosts[0]: invalid name"},
		{"ghost empty", base + "ghosts: []\n", "ghosts: empty list"},
		{"rule not ghost", base + "ghosts: [g.example]\ncensor:\n  - dns-inject: {names: [h.example], rcode: nxdomain}\n", "names[0]: no host named \"h.example\" or below it, and not a ghost"},
		{"rule unknown key", base + "censor:\n  - drop: {ips: [203.0.113.1], port: 1}\n", "f.yaml:7: censor[0].drop.port: unknown key"},
		{"rule unknown kind", base + "censor:\n  - block: {ips: [203.0.113.1]}\n", "censor[0].block: unknown key"},
		{"two kinds", base + "censor:\n  - drop: {ips: [203.0.113.1]}\n    throttle: {ips: [203.0.113.1], rate: 1mbps}\n", "censor[0]: a rule has exactly one kind"},
		{"bad probability", base + "censor:\n  - drop: {ips: [203.0.113.1], probability: 1.5}\n", "censor[0].drop.probability: want a number from 0.0 to 1.0"},
		{"bad rate", base + "censor:\n  - throttle: {ips: [203.0.113.1], rate: fast}\n", "censor[0].throttle.rate: invalid rate"},
		{"public answer", base + "censor:\n  - dns-inject: {names: [a.example], answers: [8.8.8.8]}\n", "answers[0]: 8.8.8.8 is neither"},
		{"bad mode", base + "censor:\n  - dns-inject: {names: [a.example], rcode: nxdomain, mode: slow}\n", "mode: want race or replace"},
		{"no answer", base + "censor:\n  - dns-inject: {names: [a.example]}\n", "needs answers or an rcode"},
		{"bad ca", base + "censor:\n  - tls-mitm: {ips: [203.0.113.1], ca: evil}\n", "ca: want rogue or rogue-trusted"},
		{"bad port", base + "censor:\n  - drop: {ips: [203.0.113.1], ports: [70000]}\n", "ports[0]: 70000 out of range"},
		{"bad where", base + "censor:\n  - reset: {keywords: [x], where: [dns]}\n", "where[0]: want http or sni"},
		{"keyword-drop bad where", base + "censor:\n  - keyword-drop: {keywords: [x], where: [dns]}\n", "where[0]: want http or sni"},
		{"keyword-drop no keywords", base + "censor:\n  - keyword-drop: {where: [sni]}\n", "keyword-drop.keywords: missing"},
		{"dns-tcp bad action", base + "censor:\n  - dns-tcp: {names: [a.example], action: block}\n", "f.yaml:7: censor[0].dns-tcp.action: want reset or drop, got \"block\""},
		{"dns-tcp no names", base + "censor:\n  - dns-tcp: {action: drop}\n", "censor[0].dns-tcp.names: missing (names or names_file)"},
		{"dns-tcp unknown name", base + "censor:\n  - dns-tcp: {names: [b.example]}\n", "censor[0].dns-tcp.names[0]: no host named \"b.example\" or below it"},
		{"dns-tcp bad pattern", base + "censor:\n  - dns-tcp: {names: [\"~\"]}\n", "censor[0].dns-tcp.names[0]: invalid keyword"},
		{"dns-tcp answers", base + "censor:\n  - dns-tcp: {names: [a.example], answers: [203.0.113.1]}\n", "censor[0].dns-tcp.answers: unknown key"},
		{"http-proxy unknown host", base + "censor:\n  - http-proxy: {hosts: [b.example]}\n", "f.yaml:7: censor[0].http-proxy.hosts[0]: no host named \"b.example\""},
		{"http-proxy empty hosts", base + "censor:\n  - http-proxy: {hosts: []}\n", "f.yaml:7: censor[0].http-proxy.hosts: empty list"},
		{"http-proxy no hosts", base + "censor:\n  - http-proxy: {inject: \"<b>x</b>\"}\n", "censor[0].http-proxy.hosts: missing"},
		{"http-proxy empty inject", base + "censor:\n  - http-proxy: {hosts: [a.example], inject: \" \"}\n", "f.yaml:7: censor[0].http-proxy.inject: empty; leave inject out"},
		{"http-proxy inject not html", base + "censor:\n  - http-proxy: {hosts: [a.example], inject: \"alert(1)\"}\n", "censor[0].http-proxy.inject: want an HTML fragment"},
		{"http-proxy inject list", base + "censor:\n  - http-proxy: {hosts: [a.example], inject: [x]}\n", "censor[0].http-proxy.inject: want a string, got a list"},
		{"http-proxy inject too long", base + "censor:\n  - http-proxy: {hosts: [a.example], inject: \"<" + strings.Repeat("x", 4096) + ">\"}\n", "censor[0].http-proxy.inject: longer than 4096 bytes"},
		{"http-proxy inject NUL", base + "censor:\n  - http-proxy: {hosts: [a.example], inject: \"<b>\\0</b>\"}\n", "censor[0].http-proxy.inject: want UTF-8 text without NUL"},
		{"http-proxy port", base + "censor:\n  - http-proxy: {hosts: [a.example], ports: [8080]}\n", "censor[0].http-proxy.ports: unknown key"},
		{"bad status", "name: x\nexpect:\n  - {target: x, status: weird}\n", "expect[0].status: unknown status"},
		{"bad method", "name: x\nexpect:\n  - {target: x, status: blocked, methods: [dns.weird]}\n", "expect[0].methods[0]: unknown method"},
		{"bad page path", "name: x\nhosts:\n  - names: [a.example]\n    ip: 203.0.113.1\n    pages: {index: {title: x}}\n", "hosts[0].pages.index: a page path must start with /"},
		{"redirect not a URL", base + "    pages: {/a: {redirect: \"b.example/\"}}\n", `f.yaml:6: hosts[0].pages./a.redirect: want an http:// or https:// URL, got "b.example/"`},
		{"redirect ftp", base + "    pages: {/a: {redirect: \"ftp://a.example/\"}}\n", "hosts[0].pages./a.redirect: want an http:// or https:// URL"},
		{"redirect with body", base + "    pages: {/a: {body: x, redirect: \"http://a.example/\"}}\n", "hosts[0].pages./a.redirect: a redirect serves no title, body or file"},
		{"redirect with file", base + "    pages: {/a.bin: {size: 10, redirect: \"http://a.example/\"}}\n", "a redirect serves no title, body or file"},
		{"redirect status", base + "    pages: {/a: {status: 200, redirect: \"http://a.example/\"}}\n", "f.yaml:6: hosts[0].pages./a.status: a redirect's status is one of 301, 302, 303, 307 or 308, got 200"},
		{"redirect unknown host", base + "    pages: {/a: {redirect: \"http://b.example/x\"}}\n", `f.yaml:6: hosts[0].pages./a.redirect: redirect to http://b.example/x: no host named "b.example", and not a ghost`},
		{"redirect unknown address", base + "    pages: {/a: {redirect: \"http://203.0.113.9/\"}}\n", "redirect to http://203.0.113.9/: no host has address 203.0.113.9"},
		{"inside redirect page unknown host", base + "    inside: {pages: {/a: {redirect: \"https://c.example/\"}}}\n", `hosts[0].inside.pages./a.redirect: redirect to https://c.example/: no host named "c.example"`},
		{"bad yaml", "name: [x\n", "f.yaml"},
		{"empty", "", "empty scenario"},
		{"not mapping", "- a\n", "want a mapping"},
		{"bad name", "name: x\nhosts:\n  - names: [\"a b\"]\n    ip: 203.0.113.1\n", "invalid host name"},
		{"dns-open outside", "name: x\nhosts:\n  - names: [r.example]\n    ip: 203.0.113.9\n    services: [dns-open]\n", "f.yaml:4: hosts[0].ip: a dns-open host lives inside the censored network: want one of 198.51.100.4, 198.51.100.5, 198.51.100.6"},
		{"dns-open probe addr", "name: x\nhosts:\n  - names: [r.example]\n    ip: 198.51.100.2\n    services: [dns-open]\n", "hosts[0].ip: a dns-open host lives inside"},
		{"dns-open with http", "name: x\nhosts:\n  - names: [r.example]\n    ip: 198.51.100.4\n    services: [dns-open, http]\n", "f.yaml:5: hosts[0].services: dns-open runs alone"},
		{"dns-open pages", "name: x\nhosts:\n  - names: [r.example]\n    ip: 198.51.100.4\n    services: [dns-open]\n    pages: {/: {title: x}}\n", "f.yaml:6: hosts[0].pages: a dns-open host serves no pages"},
		{"expect_dns via and resolvers", "name: x\nexpect_dns: {via: [198.51.100.2], resolvers: [198.51.100.4], domains: [a.example]}\n", "expect_dns.resolvers: give via or resolvers, not both"},
		{"expect_dns no control names", "name: x\nexpect_dns: {resolvers: [198.51.100.4], domains: [a.example]}\n", "expect_dns.control_names: missing"},
		{"expect_dns control without resolvers", "name: x\nexpect_dns: {control_names: [a.example], domains: [a.example]}\n", "expect_dns.control_names: only with resolvers"},
		{"expect_dns bad control", "name: x\nexpect_dns: {resolvers: [198.51.100.4], control_resolver: 8.8.8.8, control_names: [a.example], domains: [a.example]}\n", "expect_dns.control_resolver: 8.8.8.8 is not a TEST-NET"},
		{"expect_dns empty resolvers", "name: x\nexpect_dns: {resolvers: [], domains: [a.example]}\n", "expect_dns.resolvers: empty list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatalf("got no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %q, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestBogonAnswerAllowed(t *testing.T) {
	y := "name: x\nhosts:\n  - names: [a.example]\n    ip: 203.0.113.1\ncensor:\n  - dns-inject: {names: [a.example], answers: [127.0.0.1, 10.1.2.3], mode: replace}\n"
	s, err := Parse("f.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Censor[0].DNSInject.Answers; len(got) != 2 || !addrclass.IsBogon(got[0]) {
		t.Fatalf("got %v", got)
	}
}

func TestParseRate(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		err  bool
	}{
		{"4kbps", 4000, false}, {"1mbps", 1000000, false}, {"1.5Mbps", 1500000, false},
		{"100kbit", 100000, false}, {"2gbps", 2000000000, false}, {"800bps", 800, false},
		{"fast", 0, true}, {"kbps", 0, true}, {"-1kbps", 0, true}, {"1e3kbps", 0, true}, {"1bps", 0, true},
	}
	for _, c := range cases {
		got, err := ParseRate(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d, err %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestFileBytes(t *testing.T) {
	a, _ := io.ReadAll(FileBytes("official", 100000))
	b, _ := io.ReadAll(FileBytes("official", 100000))
	c, _ := io.ReadAll(FileBytes("modified", 100000))
	if len(a) != 100000 || !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatalf("got len %d, equal %v, equal-to-modified %v", len(a), bytes.Equal(a, b), bytes.Equal(a, c))
	}
	first := sha256.Sum256(append([]byte("official"), 0, 0, 0, 0, 0, 0, 0, 0))
	if !bytes.Equal(a[:32], first[:]) {
		t.Errorf("first block is not SHA-256(seed||0)")
	}
	f := NewFile("official", 100000)
	buf := make([]byte, 1000)
	if _, err := f.ReadAt(buf, 12345); err != nil || !bytes.Equal(buf, a[12345:13345]) {
		t.Errorf("ReadAt mismatch: %v", err)
	}
	if n, _ := f.Seek(-10, io.SeekEnd); n != 99990 {
		t.Errorf("Seek got %d", n)
	}
	rest, _ := io.ReadAll(f)
	if !bytes.Equal(rest, a[99990:]) {
		t.Errorf("tail mismatch")
	}
}

// maxFuzzScenario bounds the inputs FuzzParse parses: a YAML parse costs
// about 0.3 ms per KB, so a seed the size of a whole scenario (2.5 KB) made
// each execution, and above all each minimization, slow enough that the
// fuzzer managed 20 executions a second. Small inputs reach every branch of
// the parser; whole files are the unit tests' job.
const maxFuzzScenario = 1 << 10

// FuzzParse parses arbitrary YAML: a scenario or an error naming the file,
// never a panic. The seeds are one small scenario per feature.
func FuzzParse(f *testing.F) {
	const h = "name: x\nhosts:\n  - names: [a.example, b.example, c.example]\n    ip: 203.0.113.20\n"
	for _, s := range []string{
		"name: x\nhosts:\n  - names: [a.example]\n    ip: 203.0.113.1\n",
		"name: x\nnetwork: {country: CN, asn: AS4134, name: \"Lab\"}\nhosts:\n  - names: [a.example, b.example]\n    ip: 203.0.113.10\n    services: [http, https, imaps, smtp]\n",
		"name: x\nhosts:\n  - names: [a.example]\n    ip: 203.0.113.10\n    pages:\n      /: {title: \"T\", body: \"B\"}\n      /f.exe: {size: 2000, seed: s}\n    inside:\n      redirect: http://b.example/\n",
		h + "censor:\n  - dns-inject: {names: [a.example], answers: [203.0.113.50], mode: race}\n  - dns-inject: {names: [b.example], rcode: nxdomain}\n",
		h + "censor:\n  - drop: {ips: [203.0.113.20], ports: [993], probability: 0.5}\n  - reset: {keywords: [falun], where: [http, sni]}\n",
		h + "censor:\n  - tls-mitm: {ips: [203.0.113.20], ports: [993, 143], ca: rogue}\n  - throttle: {ips: [203.0.113.20], rate: 4kbps}\n",
		h + "censor:\n  - http-redirect: {hosts: [a.example], to: \"http://b.example/\"}\n  - http-blockpage: {hosts: [c.example], status: 200, title: \"Blocked\", body: \"...\"}\n",
		"name: x\nexpect:\n  - {target: \"http://a.example/\", status: blocked, methods: [http.redirect]}\n",
		h + "censor:\n  - http-proxy: {hosts: [a.example]}\n  - http-proxy: {hosts: [b.example, c.example], inject: \"<script>x()</script>\", probability: 0.5}\n",
		h + "    pages: {/a: {redirect: \"http://b.example/b\"}, /b: {redirect: \"https://c.example/\", status: 301}}\n",
		h + "    control: unreachable\nexpect:\n  - {target: \"http://a.example/\", status: error}\n",
		"name: x\ncontrol: down\n",
		"a: &x [1]\nb: *x\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxFuzzScenario {
			return
		}
		s, err := Parse("f.yaml", b)
		if err == nil && s == nil {
			t.Fatal("nil scenario without error")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "f.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"4kbps", "1.5mbps", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err == nil && (r < 8 || r > 1e12) {
			t.Fatalf("rate %d out of range", r)
		}
	})
}
