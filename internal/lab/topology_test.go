package lab

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/addrclass"
	"github.com/firewatch/firewatch/internal/lab/scenario"
)

func TestAddressing(t *testing.T) {
	tn := NamesFor("abcdefghi") // the longest name
	seen := map[netip.Addr]string{}
	connected := map[string][]netip.Prefix{}
	for _, l := range tn.Links() {
		for _, end := range []struct {
			ns, ifc string
			p       netip.Prefix
		}{{l.ANS, l.AIf, l.AAddr}, {l.BNS, l.BIf, l.BAddr}} {
			if !strings.HasPrefix(end.ifc, tn.Prefix()) || len(end.ifc) > 15 {
				t.Errorf("interface %q: want prefix %s and at most 15 bytes", end.ifc, tn.Prefix())
			}
			if !addrclass.IsTestNet(end.p.Addr()) {
				t.Errorf("%s: %v is not TEST-NET", end.ifc, end.p)
			}
			if prev, dup := seen[end.p.Addr()]; dup {
				t.Errorf("%v on %s and %s", end.p.Addr(), prev, end.ifc)
			}
			seen[end.p.Addr()] = end.ifc
			connected[end.ns] = append(connected[end.ns], end.p.Masked())
		}
		if l.AAddr.Masked() != l.BAddr.Masked() {
			t.Errorf("link %s: ends in different prefixes %v %v", l.Description, l.AAddr, l.BAddr)
		}
	}
	for _, r := range tn.Routes() {
		ok := false
		for _, p := range connected[r.NS] {
			ok = ok || p.Contains(r.Via)
		}
		if !ok {
			t.Errorf("route %v in %s: gateway %v is not on a connected link", r.Dst, r.NS, r.Via)
		}
		if !addrclass.IsTestNet(r.Dst.Addr()) || r.Dst.Bits() < 24 {
			t.Errorf("route %v in %s: only TEST-NET routes, no default", r.Dst, r.NS)
		}
	}
	for _, a := range append(Hops, ProbeAddr, ISPResolver, PublicResolver, Authoritative, OutsideAddr) {
		if !addrclass.IsTestNet(a) {
			t.Errorf("%v is not TEST-NET", a)
		}
	}
	if !InsidePrefix.Contains(ProbeAddr) || !InsidePrefix.Contains(ISPResolver) || !OutsidePrefix.Contains(OutsideAddr) {
		t.Errorf("vantage addresses outside their prefixes")
	}
	// The open resolvers' addresses are free addresses of the inside network.
	for _, a := range scenario.OpenResolverAddrs {
		if !InsidePrefix.Contains(a) || a == InsideGateway || a == ProbeAddr || a == ISPResolver || a == InsidePrefix.Masked().Addr() {
			t.Errorf("open resolver address %v: not a free address of %v", a, InsidePrefix)
		}
	}
	if Hops[1].String() != "198.51.100.10" || tn.Censor() != tn.R2 {
		t.Errorf("the censor hop moved: update docs/lab.md")
	}
}

func TestCheckScenario(t *testing.T) {
	cases := []struct {
		ip   string
		open bool // a dns-open host
		want string
	}{
		{"203.0.113.10", false, ""},
		{"192.0.2.200", false, ""},
		{"198.51.100.200", false, ""},
		{"198.51.100.1", false, "reserved"},
		{"192.0.2.53", false, "reserved"},
		{"192.0.2.66", false, "reserved"},
		{"10.0.0.1", false, "not in TEST-NET"},
		{"198.51.100.4", true, ""},
		{"198.51.100.4", false, "reserved"},
		{"198.51.100.2", true, "reserved"},
	}
	for _, c := range cases {
		s := &scenario.Scenario{Hosts: []scenario.Host{{Names: []string{"a.example"}, IP: netip.MustParseAddr(c.ip), Line: 3}}}
		if c.open {
			s.Hosts[0].Services = []string{scenario.DNSOpen}
		}
		err := CheckScenario("f.yaml", s)
		if (c.want == "") != (err == nil) || (err != nil && (!strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "f.yaml:3"))) {
			t.Errorf("%s: got %v, want %q", c.ip, err, c.want)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadState(dir); err != ErrNotRunning {
		t.Fatalf("empty dir: %v, want ErrNotRunning", err)
	}
	st := &State{Scenario: "/x.yaml", ScenarioName: "x", Created: time.Unix(1, 0).UTC(), Name: testLab, Namespaces: tn.Namespaces(),
		Daemons: map[string]Daemon{"services": {Namespace: tn.Net, PID: 42, Log: "/l"}}, ControlURL: "http://192.0.2.66:8080"}
	if err := st.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Daemons["services"].PID != 42 || got.ControlURL != st.ControlURL || len(got.Namespaces) != 6 {
		t.Errorf("round trip: %+v", got)
	}
	os.WriteFile(filepath.Join(dir, StateFile), []byte("{broken"), 0o644)
	if _, err := LoadState(dir); err == nil || !strings.Contains(err.Error(), StateFile) {
		t.Errorf("broken state: %v", err)
	}
}

func TestEnv(t *testing.T) {
	st := &State{Trust: Trust{Inside: "/in.pem", Outside: "/out.pem"}, ControlURL: "http://192.0.2.66:8080"}
	env := mergeEnv([]string{"PATH=/bin", "SSL_CERT_FILE=/etc/ssl/x"}, st.Env(FromInside))
	joined := strings.Join(env, " ")
	for _, want := range []string{"PATH=/bin", "SSL_CERT_FILE=/in.pem", "FIREWATCH_CONTROL=http://192.0.2.66:8080", "FIREWATCH_ROUTABLE=" + Routable} {
		if !strings.Contains(joined, want) {
			t.Errorf("env %v lacks %s", env, want)
		}
	}
	if strings.Contains(joined, "/etc/ssl/x") {
		t.Errorf("env kept the caller's SSL_CERT_FILE: %v", env)
	}
	if e := strings.Join(st.Env(FromOutside), " "); !strings.Contains(e, "/out.pem") {
		t.Errorf("outside env %s", e)
	}
	if _, err := tn.Vantage("sideways"); err == nil {
		t.Errorf("unknown vantage accepted")
	}
}

func TestIsLabProcess(t *testing.T) {
	if isLabProcess(os.Getpid()) {
		t.Errorf("the test binary is not a lab daemon")
	}
	if isLabProcess(0) {
		t.Errorf("pid 0")
	}
}

func TestDialRefusesNames(t *testing.T) {
	// Resolving a name would use the host's resolver: only literals are dialled.
	for _, addr := range []string{"www.example.org:80", "localhost:53", "nocolon"} {
		if err := literal(addr); err == nil {
			t.Errorf("literal(%q): no error", addr)
		}
	}
	if err := literal("203.0.113.10:80"); err != nil {
		t.Errorf("literal: %v", err)
	}
	if _, err := DialIn(tn.Inside, "www.example.org:80", time.Second); err == nil {
		t.Errorf("DialIn accepted a name")
	}
}

func TestCheckName(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"fwlab", true}, {"fwt1", true}, {"a", true}, {"abcdefghi", true},
		{"", false}, {"abcdefghij", false}, {"1lab", false}, {"Lab", false}, {"fw-lab", false}, {"fw/x", false},
	} {
		if err := CheckName(c.name); (err == nil) != c.ok {
			t.Errorf("CheckName(%q) = %v, want ok %v", c.name, err, c.ok)
		}
	}
	for _, l := range NamesFor("abcdefghi").Links() {
		if len(l.AIf) > 15 || len(l.BIf) > 15 {
			t.Errorf("interfaces %s, %s longer than 15 characters", l.AIf, l.BIf)
		}
	}
}

func TestLabNamespaces(t *testing.T) {
	got := labNamespaces([]string{"fwlab-inside", "fwlab-r2", "fwt1-net", "fwct-c", "other-thing", "x-y-inside", "fwlab-r2x", "Bad-r1"})
	want := map[string][]string{"fwlab": {"fwlab-inside", "fwlab-r2"}, "fwt1": {"fwt1-net"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if strings.Join(got[k], ",") != strings.Join(v, ",") {
			t.Errorf("lab %s: got %v, want %v", k, got[k], v)
		}
	}
}
