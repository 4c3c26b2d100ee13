package scenario

import (
	"net/netip"
	"strings"
	"testing"
)

// TestVerifyFields covers the fields `lab verify` scenarios use: seed, a
// host's inside (edge) address, starttls-strip rules and expect resolvers.
func TestVerifyFields(t *testing.T) {
	s, err := Parse("f.yaml", []byte(`name: x
seed: 7
hosts:
  - names: [cdn.example]
    ip: 203.0.113.120
    services: [https]
    inside: {ip: 203.0.113.121}
  - names: [mx.example]
    ip: 203.0.113.60
    services: [smtp, imap]
censor:
  - starttls-strip: {ips: [203.0.113.60]}
  - starttls-strip: {ips: [203.0.113.60], ports: [25]}
expect:
  - {target: "https://cdn.example/", status: ok}
  - {target: "https://cdn.example/", resolver: "udp://203.0.113.60:53", status: blocked, methods: [dns.injected]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Seed != 7 {
		t.Errorf("seed %d, want 7", s.Seed)
	}
	h, ok := s.HostByIP(netip.MustParseAddr("203.0.113.121"))
	if !ok || h.Names[0] != "cdn.example" {
		t.Fatalf("HostByIP(edge) = %v, %v", h, ok)
	}
	if ips := h.IPs(); len(ips) != 2 || ips[1] != netip.MustParseAddr("203.0.113.121") {
		t.Errorf("IPs() = %v", ips)
	}
	if r := s.Censor[0].STARTTLSStrip; r == nil || len(r.Ports) != 4 || s.Censor[0].Kind != KindSTARTTLSStrip {
		t.Errorf("strip rule %+v", s.Censor[0])
	}
	if r := s.Censor[1].STARTTLSStrip; len(r.Ports) != 1 || r.Ports[0] != 25 {
		t.Errorf("strip ports %v", r.Ports)
	}
	if s.Expect[0].Resolver != "" || s.Expect[1].Resolver != "udp://203.0.113.60:53" {
		t.Errorf("resolvers %q %q", s.Expect[0].Resolver, s.Expect[1].Resolver)
	}
	if s2, _ := Parse("f.yaml", []byte("name: x\nhosts:\n  - names: [a.example]\n    ip: 203.0.113.1\n")); s2.Seed != 0 || len(s2.Hosts[0].IPs()) != 1 {
		t.Errorf("defaults: seed %d, IPs %v", s2.Seed, s2.Hosts[0].IPs())
	}
}

func TestVerifyFieldErrors(t *testing.T) {
	base := "name: x\nhosts:\n  - names: [a.example]\n    ip: 203.0.113.1\n    services: [http]\n"
	for _, c := range []struct{ name, yaml, want string }{
		{"bad seed", "name: x\nseed: -1\n", "f.yaml:2: seed:"},
		{"edge not test-net", base + "    inside: {ip: 10.0.0.1}\n", "hosts[0].inside.ip: 10.0.0.1 is not a TEST-NET"},
		{"edge dup", base + "    inside: {ip: 203.0.113.1}\n", "f.yaml:6: hosts[0].inside.ip: duplicate address 203.0.113.1"},
		{"edge dup other host", base + "    inside: {ip: 203.0.113.2}\n  - names: [b.example]\n    ip: 203.0.113.2\n", "hosts[1].ip: duplicate address 203.0.113.2"},
		{"strip unknown ip", base + "censor:\n  - starttls-strip: {ips: [203.0.113.9]}\n", "censor[0].starttls-strip.ips[0]: no host has address"},
		{"strip no ips", base + "censor:\n  - starttls-strip: {ports: [25]}\n", "censor[0].starttls-strip.ips: missing"},
		{"bad resolver", "name: x\nexpect:\n  - {target: x, status: ok, resolver: \"8.8.8.8\"}\n", "f.yaml:3: expect[0].resolver: want udp://IP:PORT"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}
