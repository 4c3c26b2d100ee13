package censor

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/miekg/dns"
	"golang.org/x/net/bpf"
)

var (
	cli = netip.MustParseAddr("198.51.100.2")
	srv = netip.MustParseAddr("203.0.113.53")
)

func TestBuildParseUDP(t *testing.T) {
	pkt := buildUDP(srv, 53, cli, 40000, 64, 7, []byte("hello"))
	p, err := parseIPv4(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if p.Src != srv || p.Dst != cli || p.SrcPort != 53 || p.DstPort != 40000 || string(p.Payload) != "hello" || p.TTL != 64 {
		t.Fatalf("got %+v", p)
	}
	if checksum(pkt[:20], 0) != 0 {
		t.Error("bad IP checksum")
	}
	if checksum(pkt[20:], pseudoSum(srv, cli, protoUDP, len(pkt)-20)) != 0 {
		t.Error("bad UDP checksum")
	}
}

func TestBuildParseTCPAndRefresh(t *testing.T) {
	pkt := buildTCP(cli, 40000, srv, 80, 1000, 2000, tcpPSH|tcpACK, 512, 64, []byte("GET / HTTP/1.1\r\n\r\n"))
	p, err := parseIPv4(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if p.Seq != 1000 || p.Ack != 2000 || p.Flags != tcpPSH|tcpACK || p.L4HeaderLen != 20 || !bytes.HasPrefix(p.Payload, []byte("GET ")) {
		t.Fatalf("got %+v", p)
	}
	pkt[36], pkt[37] = 0xde, 0xad // spoil the TCP checksum, as a partial offload would
	if !refreshForForward(pkt) {
		t.Fatal("refresh failed")
	}
	if pkt[8] != 63 || checksum(pkt[:20], 0) != 0 || checksum(pkt[20:], pseudoSum(cli, srv, protoTCP, len(pkt)-20)) != 0 {
		t.Fatal("refresh did not fix TTL and checksums")
	}
	pkt[8] = 1
	if refreshForForward(pkt) {
		t.Error("forwarded a packet with TTL 1")
	}
}

func TestSegmentTCP(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), 3000)
	pkt := buildTCP(cli, 40000, srv, 443, 5000, 1, tcpPSH|tcpACK, 512, 64, payload)
	segs, err := segmentTCP(pkt, 1500)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 3 {
		t.Fatalf("got %d segments, want 3", len(segs))
	}
	var got []byte
	seq := uint32(5000)
	for i, s := range segs {
		if len(s) > 1500 || !refreshForForward(s) {
			t.Fatalf("segment %d: len %d", i, len(s))
		}
		p, err := parseIPv4(s)
		if err != nil || p.Seq != seq {
			t.Fatalf("segment %d: %v seq %d want %d", i, err, p.Seq, seq)
		}
		if (p.Flags&tcpPSH != 0) != (i == len(segs)-1) {
			t.Errorf("segment %d: PSH %v", i, p.Flags&tcpPSH != 0)
		}
		seq += uint32(len(p.Payload))
		got = append(got, p.Payload...)
	}
	if !bytes.Equal(got, payload) {
		t.Error("payload mismatch")
	}
}

func TestParseIPv4Errors(t *testing.T) {
	good := buildUDP(srv, 53, cli, 1, 64, 1, []byte("x"))
	frag := append([]byte(nil), good...)
	frag[7] = 1
	cases := map[string][]byte{
		"empty": nil, "short": good[:10], "truncated": good[:len(good)-1], "fragment": frag,
		"ipv6": append([]byte{0x60}, good[1:]...),
	}
	for name, b := range cases {
		if _, err := parseIPv4(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestRuleset(t *testing.T) {
	p5 := 0.5
	ip := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	plan := nftPlan{
		Inside: "r0", Outside: "r1", MITMPort: 4000, HTTPPort: 4001, HTTPAddrs: []netip.Addr{ip("203.0.113.61")},
		HoldPorts: []uint16{80, 443}, DNSReplace: true, DropFlows: true, MTU: 1500,
		Rules: []scenario.Rule{
			{Kind: "drop", Drop: &scenario.Drop{IPs: []netip.Addr{ip("203.0.113.30")}, Ports: []uint16{993}}},
			{Kind: "drop", Drop: &scenario.Drop{IPs: []netip.Addr{ip("203.0.113.80")}}, Probability: &p5},
			{Kind: "throttle", Throttle: &scenario.Throttle{IPs: []netip.Addr{ip("203.0.113.70")}, Rate: 4000}},
			{Kind: "tls-mitm", TLSMITM: &scenario.TLSMITM{IPs: []netip.Addr{ip("203.0.113.20")}, Ports: []uint16{993, 143}}, Probability: &p5},
			{Kind: "quic-block", QUICBlock: &scenario.QUICBlock{IPs: []netip.Addr{ip("203.0.113.71")}, Ports: []uint16{443}}},
			{Kind: "quic-block", QUICBlock: &scenario.QUICBlock{Ports: []uint16{8443}}},
		},
	}
	got := rulesetText(ruleset(plan))
	for _, want := range []string{
		`ip daddr 203.0.113.30 meta l4proto { tcp, udp } th dport 993 drop`,
		`ip saddr 203.0.113.30 meta l4proto { tcp, udp } th sport 993 drop`,
		`ct state new ip daddr 203.0.113.80 numgen random mod 100 < 50 ct mark set ct mark or 0x200`,
		`ip daddr 203.0.113.80 ct mark and 0x200 == 0x200 drop`,
		`ip daddr 203.0.113.70 limit rate over 500 bytes/second burst 6056 bytes drop`,
		`ip daddr 203.0.113.71 meta l4proto udp th dport 443 drop`,
		`ip saddr 203.0.113.71 meta l4proto udp th sport 443 drop`,
		"    meta l4proto udp th dport 8443 drop\n",
		`iifname "r0" ip daddr 203.0.113.20 meta l4proto tcp th dport { 993, 143 } numgen random mod 100 < 50 redirect to :4000`,
		`iifname "r0" ip daddr 203.0.113.61 meta l4proto tcp th dport 80 redirect to :4001`,
		`iifname "r1" meta l4proto udp th sport 53 ip length <= 1500 drop`,
		`tcp doff 8 ip length > 52 ct mark and 0x3 == 0x0 ct mark set ct mark or 0x1 drop`,
		`tcp doff 8 ip length > 52 ct mark and 0x3 == 0x1 ct mark set ct mark or 0x2 drop`,
		"    meta l4proto tcp ip saddr . tcp sport . ip daddr . tcp dport @drop_flows drop\n",
		"    meta l4proto tcp ip daddr . tcp dport . ip saddr . tcp sport @drop_flows drop\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, got)
		}
	}
}

func TestFilterProgram(t *testing.T) {
	for _, ports := range [][]uint16{{}, {80, 443}, {1}} {
		raw, err := filterProgram(ports)
		if err != nil {
			t.Fatal(err)
		}
		if len(ports) == 1 && ports[0] == 1 {
			raw = dnsAnswerFilter()
		}
		ins, ok := bpf.Disassemble(raw)
		if !ok {
			t.Fatalf("program does not disassemble: %v", ins)
		}
		for i, in := range ins {
			if j, ok := in.(bpf.JumpIf); ok {
				if i+1+int(j.SkipTrue) >= len(ins) || i+1+int(j.SkipFalse) >= len(ins) {
					t.Fatalf("jump out of the program at %d", i)
				}
			}
		}
	}
}

func FuzzParseIPv4(f *testing.F) {
	f.Add(buildUDP(srv, 53, cli, 1, 64, 1, []byte("x")))
	f.Add(buildTCP(cli, 1, srv, 80, 1, 2, tcpACK, 1, 64, []byte("GET / HTTP/1.1\r\n")))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseIPv4(b)
		if err == nil && len(p.Payload) > len(b) {
			t.Fatal("payload longer than packet")
		}
		c := append([]byte(nil), b...)
		refreshForForward(c)
		segmentTCP(c, 576)
	})
}

// clientHello captures the first flight of a crypto/tls client.
func clientHello(t testing.TB, sni string) []byte {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		c := tls.Client(a, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		c.Handshake()
	}()
	buf := make([]byte, 16384)
	b.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _ := b.Read(buf)
	b.Close()
	a.Close()
	return buf[:n]
}

// TestAlwaysReplaced: in replace mode without probability, the genuine
// answer to a forged name is dropped even before its query's key is
// recorded (a loaded censor may read the query after the answer); answers
// to other names, to rules with a probability, to race rules, or toward
// the outside pass.
func TestAlwaysReplaced(t *testing.T) {
	inside := netip.MustParsePrefix("198.51.100.0/29")
	half := 0.5
	rules := []scenario.Rule{
		{Kind: scenario.KindDNSInject, DNSInject: &scenario.DNSInject{NamePatterns: scenario.NamePatterns{Names: []string{"replaced.example"}}, Answers: []netip.Addr{netip.MustParseAddr("203.0.113.1")}, Mode: scenario.ModeReplace}},
		{Kind: scenario.KindDNSInject, Probability: &half, DNSInject: &scenario.DNSInject{NamePatterns: scenario.NamePatterns{Names: []string{"maybe.example"}}, Answers: []netip.Addr{netip.MustParseAddr("203.0.113.1")}, Mode: scenario.ModeReplace}},
		{Kind: scenario.KindDNSInject, DNSInject: &scenario.DNSInject{NamePatterns: scenario.NamePatterns{Names: []string{"raced.example"}}, Answers: []netip.Addr{netip.MustParseAddr("203.0.113.1")}, Mode: scenario.ModeRace}},
	}
	e, err := newEngine(Config{InsideIface: "a", OutsideIface: "b", Rules: rules, InsidePrefixes: []netip.Prefix{inside}})
	if err != nil {
		t.Fatal(err)
	}
	answer := func(name string) []byte {
		var q dns.Msg
		q.SetQuestion(name, dns.TypeA)
		var m dns.Msg
		m.SetReply(&q)
		b, _ := m.Pack()
		return b
	}
	isp := netip.MustParseAddr("198.51.100.3")
	for _, tc := range []struct {
		name string
		dst  netip.Addr
		want bool
	}{
		{"www.replaced.example.", isp, true},
		{"replaced.example.", isp, true},
		{"notreplaced.example.", isp, false},
		{"www.maybe.example.", isp, false},
		{"www.raced.example.", isp, false},
		{"www.replaced.example.", netip.MustParseAddr("192.0.2.66"), false},
	} {
		p := Packet{Src: netip.MustParseAddr("192.0.2.54"), Dst: tc.dst, Proto: protoUDP, SrcPort: 53, DstPort: 4000, Payload: answer(tc.name)}
		if got := e.alwaysReplaced(p); got != tc.want {
			t.Errorf("%s to %s: dropped %v, want %v", tc.name, tc.dst, got, tc.want)
		}
	}
	if e.alwaysReplaced(Packet{Dst: isp, Payload: []byte("garbage")}) {
		t.Error("garbage dropped")
	}
}
