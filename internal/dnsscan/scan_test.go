package dnsscan

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var censorRules = []string{"blocked.example", "*.suffix.example", "~falun"}

func TestViaInfersRules(t *testing.T) {
	t.Parallel()
	pool := []string{"203.0.113.7", "198.51.100.9", "10.0.0.1"}
	f := startFake(t, forger(censorRules, pool, 2), 0)
	tests := []struct {
		domain   string
		injected bool
		rule     string
		base     string
	}{
		{"blocked.example", true, RuleExact, "blocked.example"},
		{"www.blocked.example", false, "", ""},
		{"suffix.example", true, RuleSuffix, "suffix.example"},
		{"a.b.suffix.example", true, RuleSuffix, "suffix.example"},
		{"www.falundafa.org", true, RuleSubstring, "falundafa.org"},
		{"falun.example", true, RuleSubstring, "falun.example"},
		{"clean.example", false, "", ""},
		{"notblocked.example", false, "", ""},
	}
	var names []string
	for _, tt := range tests {
		names = append(names, tt.domain)
	}
	cfg := quickConfig()
	cfg.Via = []netip.AddrPort{f.addr}
	got, sum, err := collect(t, context.Background(), cfg, listOf(names...))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			r := got[tt.domain+"/A"]
			if r == nil {
				t.Fatalf("no record")
			}
			if *r.Injected != tt.injected {
				t.Fatalf("injected %v, want %v (%+v)", *r.Injected, tt.injected, r.Responses)
			}
			if !tt.injected {
				if r.Rule != nil || len(r.Responses) != 0 {
					t.Errorf("clean domain has rule %v, responses %v", r.Rule, r.Responses)
				}
				return
			}
			if r.Rule == nil || *r.Rule != tt.rule || r.RuleBase != tt.base {
				t.Errorf("rule %v %q, want %s %q", deref(r.Rule), r.RuleBase, tt.rule, tt.base)
			}
			if len(r.Responses) != 2 {
				t.Fatalf("%d responses, want the forger's 2", len(r.Responses))
			}
			resp := r.Responses[0]
			if resp.IPTTL <= 0 || resp.ArrivedMS <= 0 || resp.From != f.addr.String() || resp.Rcode != "noerror" || len(resp.Answers) != 1 {
				t.Errorf("response %+v: want IP TTL, arrival, sender, rcode and one answer", resp)
			}
			if r.Responses[0].ArrivedMS > r.Responses[1].ArrivedMS {
				t.Errorf("responses out of arrival order: %+v", r.Responses)
			}
		})
	}
	if sum.Domains != len(tests) || sum.Censored != 5 {
		t.Errorf("summary %+v: want %d domains, 5 censored", sum, len(tests))
	}
	// exact blocked.example, suffix suffix.example, substring
	// falundafa.org and falun.example: four rules.
	if sum.Rules != 4 {
		t.Errorf("%d rules (%+v), want 4", sum.Rules, sum.RuleList)
	}
	if sum.Forged != len(pool) {
		t.Errorf("%d forged addresses, want %d", sum.Forged, len(pool))
	}
	if b := got["blocked.example/A"]; b != nil && len(b.Responses) == 2 {
		for _, a := range append(b.Responses[0].Answers, b.Responses[1].Answers...) {
			if a.Data == "10.0.0.1" && !a.Bogon {
				t.Errorf("10.0.0.1 not marked a bogon")
			}
		}
	}
	if !strings.HasPrefix(sum.String(), fmt.Sprintf("%d domains, 5 censored, 4 rules, 3 forged addresses, ", len(tests))) || !strings.HasSuffix(sum.String(), " domains/s") {
		t.Errorf("summary line %q", sum.String())
	}
}

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

func TestViaKnownRuleSkipsProbes(t *testing.T) {
	t.Parallel()
	f := startFake(t, forger([]string{"*.suffix.example"}, []string{"203.0.113.7"}, 1), 0)
	var names []string
	names = append(names, "suffix.example")
	cfg := quickConfig()
	cfg.Via = []netip.AddrPort{f.addr}
	if got, _, err := collect(t, context.Background(), cfg, listOf(names...)); err != nil || deref(got["suffix.example/A"].Rule) != RuleSuffix {
		t.Fatal(got, err)
	}
	first := f.queries.Load()
	// A second scan of the same domain and 50 names under it: each needs
	// its own query, the rule is learnt once.
	f2 := startFake(t, forger([]string{"*.suffix.example"}, []string{"203.0.113.7"}, 1), 0)
	cfg.Via = []netip.AddrPort{f2.addr}
	names = names[:0]
	for i := 0; i < 50; i++ {
		names = append(names, fmt.Sprintf("h%d.suffix.example", i))
	}
	got, sum, err := collect(t, context.Background(), cfg, listOf(names...))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if r := got[n+"/A"]; r == nil || deref(r.Rule) != RuleSuffix || r.RuleBase != "suffix.example" {
			t.Fatalf("%s: %+v", n, r)
		}
	}
	if sum.Rules != 1 {
		t.Errorf("%d rules, want 1", sum.Rules)
	}
	// Probes: at most a few rounds of inference run before the rule is
	// known, never one per name.
	if q := f2.queries.Load(); q > int64(50)+int64(first)*10 {
		t.Errorf("%d queries for 50 names under one rule (one inference costs %d)", q, first)
	}
}

func TestViaGarbageIsCountedAndIgnored(t *testing.T) {
	t.Parallel()
	f := startFake(t, forger([]string{"blocked.example"}, []string{"203.0.113.7"}, 1), 5)
	var names []string
	for i := 0; i < 200; i++ {
		names = append(names, fmt.Sprintf("n%d.example", i))
	}
	names = append(names, "blocked.example")
	cfg := quickConfig()
	cfg.Via = []netip.AddrPort{f.addr}
	cfg.NoInfer = true
	got, sum, err := collect(t, context.Background(), cfg, listOf(names...))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Censored != 1 || len(got) != len(names) {
		t.Fatalf("%d censored of %d records, want 1 of %d", sum.Censored, len(got), len(names))
	}
	if r := got["blocked.example/A"]; len(r.Responses) != 1 {
		t.Errorf("blocked.example: %d responses, want only the forged one", len(r.Responses))
	}
	// 5 garbage and 5 well-formed responses to other queries per query;
	// a few may be dropped by the kernel on a loaded machine.
	if g := sum.Stats.Garbage + sum.Stats.Late; g < int64(len(names))*5 {
		t.Errorf("garbage %d + late %d, want at least %d", sum.Stats.Garbage, sum.Stats.Late, len(names)*5)
	}
}

func TestViaRefusesAnAnsweringServer(t *testing.T) {
	t.Parallel()
	f := startFake(t, func(name string, qtype uint16) []*dns.Msg {
		m := new(dns.Msg)
		m.Rcode = dns.RcodeNameError
		return []*dns.Msg{m}
	}, 0)
	cfg := quickConfig()
	cfg.Via = []netip.AddrPort{f.addr}
	_, _, err := collect(t, context.Background(), cfg, listOf("a.example"))
	if err == nil || !strings.Contains(err.Error(), "must run no DNS server") {
		t.Fatalf("err %v, want a via address that answers DNS refused", err)
	}
	if f.queries.Load() != 1 {
		t.Errorf("%d queries sent, want only the check", f.queries.Load())
	}
}

func TestViaBothQTypesAndManyAddresses(t *testing.T) {
	t.Parallel()
	f1 := startFake(t, forger([]string{"blocked.example"}, []string{"203.0.113.7"}, 1), 0)
	f2 := startFake(t, forger([]string{"blocked.example"}, []string{"203.0.113.8"}, 1), 0)
	cfg := quickConfig()
	cfg.Via = []netip.AddrPort{f1.addr, f2.addr}
	cfg.QTypes = []uint16{dns.TypeA, dns.TypeAAAA}
	cfg.NoInfer = true
	got, sum, err := collect(t, context.Background(), cfg, listOf("blocked.example", "clean.example"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || sum.Domains != 2 || sum.Censored != 1 {
		t.Fatalf("%d records, summary %+v", len(got), sum)
	}
	if r := got["blocked.example/AAAA"]; !*r.Injected || len(r.Responses[0].Answers) != 0 {
		t.Errorf("AAAA: %+v, want an injected empty answer", r)
	}
	if got["blocked.example/A"].Server == got["clean.example/A"].Server {
		t.Errorf("both domains went to %s: want the via addresses in turn", got["clean.example/A"].Server)
	}
}

func TestInterruptKeepsFinishedRecords(t *testing.T) {
	t.Parallel()
	f := startFake(t, forger([]string{"~blocked"}, []string{"203.0.113.7"}, 1), 0)
	ctx, cancel := context.WithCancel(context.Background())
	i := 0
	next := func() (string, int, error) {
		i++
		if i == 300 {
			cancel()
		}
		if i > 100000 {
			return "", 0, io.EOF
		}
		if i%10 == 0 {
			return fmt.Sprintf("blocked%d.example", i), i, nil
		}
		return fmt.Sprintf("n%d.example", i), i, nil
	}
	cfg := quickConfig()
	cfg.Rate = 2000
	cfg.Via = []netip.AddrPort{f.addr}
	start := time.Now()
	got, sum, err := collect(t, ctx, cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Interrupted || sum.Domains >= 100000 || time.Since(start) > 10*time.Second {
		t.Fatalf("summary %+v after %s: want an interrupted, quick stop", sum, time.Since(start))
	}
	if len(got)+sum.Unfinished != sum.Domains {
		t.Errorf("%d records + %d unfinished != %d domains", len(got), sum.Unfinished, sum.Domains)
	}
	for k, r := range got {
		if r.Injected == nil || (*r.Injected && r.Rule == nil && !strings.Contains(strings.Join(r.Evidence, " "), "cut short")) {
			t.Errorf("%s: unfinished record written: %+v", k, r)
		}
	}
}

func TestResolverMethod(t *testing.T) {
	t.Parallel()
	genuine := map[string]string{
		"example.com": "192.0.2.10", "example.net": "192.0.2.11", "example.org": "192.0.2.12",
		"news.example": "192.0.2.20", "blocked.example": "192.0.2.30", "cdn.example": "192.0.2.40",
	}
	honest := func(name string, qtype uint16) []*dns.Msg {
		ip, ok := genuine[name]
		if !ok {
			m := new(dns.Msg)
			m.Rcode = dns.RcodeNameError
			return []*dns.Msg{m}
		}
		if qtype != dns.TypeA {
			return []*dns.Msg{new(dns.Msg)}
		}
		return []*dns.Msg{addrAnswer(name, ip)}
	}
	control := startFake(t, honest, 0)
	// A resolver behind a censor: blocked.example poisoned, cdn.example
	// answered with another address of the same (unknown) network that
	// the control does not give: poisoned too without an AS table.
	censored := startFake(t, func(name string, qtype uint16) []*dns.Msg {
		switch name {
		case "blocked.example":
			return []*dns.Msg{addrAnswer(name, "203.0.113.66")}
		case "gone.example":
			m := new(dns.Msg)
			m.Rcode = dns.RcodeNameError
			return []*dns.Msg{m}
		}
		return honest(name, qtype)
	}, 0)
	liar := startFake(t, func(name string, qtype uint16) []*dns.Msg { return []*dns.Msg{addrAnswer(name, "203.0.113.99")} }, 0)
	silent := startFake(t, func(string, uint16) []*dns.Msg { return nil }, 0)
	cfg := quickConfig()
	cfg.Resolvers = []Resolver{{Addr: censored.addr, Country: "ZZ", ASN: 64500}, {Addr: liar.addr}, {Addr: silent.addr}}
	cfg.ControlResolver = control.addr
	var logged []string
	cfg.Logf = func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }
	got, sum, err := collect(t, context.Background(), cfg, listOf("news.example", "blocked.example", "gone.example"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Unusable) != 2 || len(logged) != 2 {
		t.Fatalf("unusable %v (log %q), want the liar and the silent one", sum.Unusable, logged)
	}
	at := "@" + censored.addr.String()
	if r := got["news.example/A"+at]; r == nil || *r.Poisoned || r.Country != "ZZ" || r.ASN != 64500 {
		t.Errorf("news.example: %+v, want clean with the resolver's country and AS", r)
	}
	if r := got["blocked.example/A"+at]; r == nil || !*r.Poisoned || len(r.Evidence) == 0 || r.Control[0] != "192.0.2.30" {
		t.Errorf("blocked.example: %+v, want poisoned with evidence", r)
	}
	// gone.example: NXDOMAIN at both: not poisoned.
	if r := got["gone.example/A"+at]; r == nil || *r.Poisoned {
		t.Errorf("gone.example: %+v, want not poisoned", r)
	}
	if len(got) != 3 || sum.Censored != 1 || sum.Forged != 1 {
		t.Errorf("%d records, summary %+v", len(got), sum)
	}
}

func TestResolverPoolClusterIsEvidence(t *testing.T) {
	t.Parallel()
	p := NewPool()
	p.Add(netip.MustParseAddr("203.0.113.5"), time.Now())
	if !p.InCluster(netip.MustParseAddr("203.0.113.200")) || p.InCluster(netip.MustParseAddr("203.0.114.1")) {
		t.Fatal("cluster is the /24 of a pool address")
	}
	dir := t.TempDir()
	if err := p.Save(dir + "/pool.json"); err != nil {
		t.Fatal(err)
	}
	q, err := LoadPool(dir + "/pool.json")
	if err != nil || q.Len() != 1 || q.List()[0].Count != 1 {
		t.Fatalf("reloaded %v, %v", q.List(), err)
	}
	if _, err := LoadPool(dir + "/none.json"); err != nil {
		t.Errorf("a missing pool file is an empty pool: %v", err)
	}
}

func TestParseServer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want, err string
	}{
		{"192.0.2.1", "192.0.2.1:53", ""},
		{"udp://192.0.2.1:5353", "192.0.2.1:5353", ""},
		{"[2001:db8::1]:53", "[2001:db8::1]:53", ""},
		{"2001:db8::1", "[2001:db8::1]:53", ""},
		{"192.0.2.1:0", "", "port 0"},
		{"0.0.0.0", "", "not a unicast"},
		{"224.0.0.1", "", "not a unicast"},
		{"example.com", "", "want IP"},
		{"192.0.2.300", "", "want IP"},
	}
	for _, tt := range tests {
		got, err := ParseServer(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseServer(%q) = %v, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseServer(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestReadResolvers(t *testing.T) {
	t.Parallel()
	rs, err := ReadResolvers(strings.NewReader("ip,cc,asn\n# comment\n192.0.2.1\n192.0.2.2,CN,AS4134\n192.0.2.2,CN,4134\n"), "r.txt")
	if err != nil || len(rs) != 2 || rs[1].Country != "CN" || rs[1].ASN != 4134 {
		t.Fatalf("got %+v, %v", rs, err)
	}
	for in, want := range map[string]string{
		"192.0.2.1\nnot-an-ip\n":   "r.txt:2",
		"192.0.2.1,CN,ASxyz\n":     "bad ASN",
		"192.0.2.1,CN,1,extra\n":   "4 fields",
		"\n# nothing\n":            "no resolver",
		"192.0.2.1\n224.0.0.251\n": "r.txt:2",
	} {
		if _, err := ReadResolvers(strings.NewReader(in), "r.txt"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadResolvers(%q): %v, want %q", in, err, want)
		}
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		d        string
		censored []string
		kind     string
		base     string
	}{
		{"a.example.com", nil, RuleExact, "a.example.com"},
		{"a.example.com", []string{"firewatchtest.a.example.com"}, RuleSuffix, "a.example.com"},
		{"a.example.com", []string{"firewatchtest.a.example.com", "firewatchtest.example.com", "example.com"}, RuleSuffix, "example.com"},
		{"a.example.com", []string{"a.example.comfirewatchtest.com", "example.com"}, RuleSubstring, "example.com"},
	} {
		m := map[string]bool{}
		for _, c := range tt.censored {
			m[c] = true
		}
		if kind, base := classify(tt.d, m); kind != tt.kind || base != tt.base {
			t.Errorf("classify(%s, %v) = %s %s, want %s %s", tt.d, tt.censored, kind, base, tt.kind, tt.base)
		}
	}
	if got := strings.Join(probeNames("a.b.example.com"), " "); got != "a.b.example.comfirewatchtest.com firewatchtest.a.b.example.com b.example.com firewatchtest.b.example.com example.com firewatchtest.example.com" {
		t.Errorf("probe names: %s", got)
	}
}
