package policy

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/miekg/dns"
)

// tcpQuery is a DNS query for name as sent over TCP: length, then message.
func tcpQuery(t testing.TB, name string) []byte {
	t.Helper()
	var q dns.Msg
	q.SetQuestion(dns.Fqdn(name), dns.TypeA)
	q.SetEdns0(1232, false)
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

func TestDNSTCPQueries(t *testing.T) {
	a, b := tcpQuery(t, "WWW.A.example."), tcpQuery(t, "b.example")
	var resp dns.Msg
	resp.SetQuestion("a.example.", dns.TypeA)
	resp.Response = true
	rb, _ := resp.Pack()
	reply := append(binary.BigEndian.AppendUint16(nil, uint16(len(rb))), rb...)
	for _, c := range []struct {
		name  string
		in    []byte
		names []string
		state int
	}{
		{"one query", a, []string{"www.a.example"}, streamDone},
		{"two pipelined", slices.Concat(a, b), []string{"www.a.example", "b.example"}, streamDone},
		{"empty", nil, nil, streamIncomplete},
		{"one byte of the length", a[:1], nil, streamIncomplete},
		{"length only", a[:2], nil, streamIncomplete},
		{"split message", a[:len(a)-3], nil, streamIncomplete},
		{"second cut short", slices.Concat(a, b[:5]), []string{"www.a.example"}, streamIncomplete},
		{"a response", reply, nil, streamOther},
		{"too short for a header", []byte{0, 4, 1, 2, 3, 4}, nil, streamOther},
		{"garbage of its length", append([]byte{0, 12}, make([]byte, 12)...), nil, streamOther},
		{"http", []byte("GET / HTTP/1.1\r\n\r\n"), nil, streamIncomplete}, // "GE" is a length of 18245
		{"query then garbage", slices.Concat(a, []byte{0, 1, 0}), []string{"www.a.example"}, streamOther},
	} {
		names, st := dnsTCPQueries(c.in)
		if !slices.Equal(names, c.names) || st != c.state {
			t.Errorf("%s: got %q state %d, want %q state %d", c.name, names, st, c.names, c.state)
		}
	}
}

// TestDNSTCPPolicy checks the dns-tcp decision: patterns as dns-inject's,
// the first matching rule in order, the action, a query split over two
// packets, and the port dispatch of Inspect.
func TestDNSTCPPolicy(t *testing.T) {
	sc, err := scenario.Parse("d.yaml", []byte(`name: d
hosts:
  - {names: [www.reset.example, www.dropped.example, www.ok.example], ip: 203.0.113.10, services: [http]}
censor:
  - dns-tcp: {names: [reset.example, "~falun"]}
  - dns-tcp: {names: ["=www.dropped.example", reset.example], action: drop}
  - reset: {keywords: [falun], where: [http]}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(sc.Censor, sc.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Has(scenario.KindDNSTCP) || !p.Inspects() || !p.DropsFlows() || !slices.Equal(p.InspectPorts(), []uint16{80, 443, 53}) {
		t.Fatalf("Has(dns-tcp) %v, Inspects %v, DropsFlows %v, InspectPorts %v; want true, true, true, [80 443 53]",
			p.Has(scenario.KindDNSTCP), p.Inspects(), p.DropsFlows(), p.InspectPorts())
	}
	q := tcpQuery(t, "www.dropped.example")
	for _, c := range []struct {
		name     string
		port     uint16
		payload  []byte
		keyword  string // "" when nothing matches
		drop     bool
		complete bool
	}{
		{"zone resets", 53, tcpQuery(t, "a.b.reset.example"), "a.b.reset.example", false, true},
		{"keyword resets", 53, tcpQuery(t, "www.falundafa.example"), "www.falundafa.example", false, true},
		{"exact drops", 53, q, "www.dropped.example", true, true},
		{"below the exact name passes", 53, tcpQuery(t, "a.www.dropped.example"), "", false, true},
		{"healthy passes", 53, tcpQuery(t, "www.ok.example"), "", false, true},
		{"second query matches", 53, slices.Concat(tcpQuery(t, "www.ok.example"), q), "www.dropped.example", true, true},
		{"first packet of a split query waits", 53, q[:20], "", false, false},
		{"length alone waits", 53, q[:2], "", false, false},
		{"not dns", 53, []byte{0, 3, 'a', 'b', 'c'}, "", false, true},
		{"dns on 80 is not looked at", 80, q, "", false, true},
		{"http on 53 is not a reset keyword", 53, []byte("GET /falun HTTP/1.1\r\nHost: a\r\n\r\n"), "", false, false},
		{"http on 80 still resets", 80, []byte("GET /falun HTTP/1.1\r\nHost: a\r\n\r\n"), "falun", false, true},
		{"other port", 8080, q, "", false, true},
	} {
		m, complete := p.Inspect(c.port, c.payload)
		if m.Keyword != c.keyword || m.Drop() != c.drop || complete != c.complete {
			t.Errorf("%s: got keyword %q drop %v complete %v, want %q %v %v", c.name, m.Keyword, m.Drop(), complete, c.keyword, c.drop, c.complete)
		}
		if c.port == 53 && m.Rule != nil && (m.Where != "dns" || m.Rule.DNSTCP == nil) {
			t.Errorf("%s: got where %q rule %q, want dns, dns-tcp", c.name, m.Where, m.Rule.Kind)
		}
	}
	// The query reassembled from its two packets decides as the whole one.
	if m, ok := p.DNSTCP(slices.Concat(q[:20], q[20:])); !ok || !m.Drop() {
		t.Errorf("reassembled query: got %+v, %v; want the drop rule", m, ok)
	}
}

func FuzzDNSTCPQueries(f *testing.F) {
	f.Add(tcpQuery(f, "www.reset.example"))
	f.Add(slices.Concat(tcpQuery(f, "a.example"), tcpQuery(f, "b.example")[:7]))
	f.Add([]byte{0, 12, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		names, st := dnsTCPQueries(b)
		if st == streamDone && len(names) == 0 {
			t.Fatal("done without a query")
		}
		if st != streamDone && st != streamIncomplete && st != streamOther {
			t.Fatalf("state %d", st)
		}
		// Each query's name is what ParseQuery reads from its message.
		if len(names) > 0 {
			q, ok := ParseQuery(b[2 : 2+int(binary.BigEndian.Uint16(b))])
			if !ok || strings.TrimSuffix(strings.ToLower(q.Question[0].Name), ".") != names[0] {
				t.Fatalf("first name %q, want the first message's question", names[0])
			}
		}
		// A prefix never yields more queries than the whole stream.
		if pn, _ := dnsTCPQueries(b[:len(b)/2]); len(pn) > len(names) {
			t.Fatalf("prefix: %d queries, whole: %d", len(pn), len(names))
		}
	})
}
