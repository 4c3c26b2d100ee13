package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDNSInjectPatterns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "names.txt"), []byte("# censored\n=exact.example\n*.zone.example\n~falun\n\ntree.example\n"), 0o644)
	y := `name: p
hosts:
  - {names: [www.host.example], ip: 203.0.113.10, services: [http]}
censor:
  - dns-inject: {names: [host.example, "=only.example", "~keyword"], names_file: names.txt, answers: [203.0.113.50]}
expect_dns:
  via: [198.51.100.2]
  domains: [exact.example, www.exact.example]
  censored: [exact.example]
  rules: 1
`
	path := filepath.Join(dir, "s.yaml")
	os.WriteFile(path, []byte(y), 0o644)
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d := s.Censor[0].DNSInject
	for name, want := range map[string]bool{
		"host.example": true, "www.host.example": true, "only.example": true, "www.only.example": false,
		"exact.example": true, "www.exact.example": false, "zone.example": false, "a.b.zone.example": true,
		"www.falundafa.org.": true, "FALUN.example": true, "tree.example": true, "x.tree.example": true,
		"notree.example": false, "akeywordz.net": true, "clean.example": false,
	} {
		if got := d.Matches(name); got != want {
			t.Errorf("Matches(%q) = %v, want %v", name, got, want)
		}
	}
	if e := s.ExpectDNS; e == nil || len(e.Censored) != 1 || e.Rules != 1 || len(e.Via) != 1 || len(e.Domains) != 2 {
		t.Errorf("expect_dns %+v", s.ExpectDNS)
	}
}

func TestDNSInjectBadEntries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.txt"), []byte("ok.example\nbad..name\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "empty.txt"), []byte("# nothing\n"), 0o644)
	head := "name: p\nhosts:\n  - {names: [www.host.example], ip: 203.0.113.10, services: [http]}\ncensor:\n"
	for _, tt := range []struct{ rule, want string }{
		{`{names: ["~"], answers: [203.0.113.50]}`, "invalid keyword"},
		{`{names: ["*.bad..x"], answers: [203.0.113.50]}`, "invalid name"},
		{`{names: [nohost.example], answers: [203.0.113.50]}`, "no host named"},
		{`{names_file: bad.txt, answers: [203.0.113.50]}`, "bad.txt:2: invalid name"},
		{`{names_file: empty.txt, answers: [203.0.113.50]}`, "holds no name"},
		{`{names_file: missing.txt, answers: [203.0.113.50]}`, "missing.txt"},
		{`{names_file: /etc/passwd, answers: [203.0.113.50]}`, "relative"},
		{`{answers: [203.0.113.50]}`, "names or names_file"},
	} {
		path := filepath.Join(dir, "s.yaml")
		os.WriteFile(path, []byte(head+"  - dns-inject: "+tt.rule+"\n"), 0o644)
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "s.yaml:5") {
			t.Errorf("%s: %v, want %q at s.yaml:5", tt.rule, err, tt.want)
		}
	}
	// Only patterns, no bare name: nothing to check against the hosts.
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(head+"  - dns-inject: {names: [\"=only.example\", \"~kw\"], answers: [203.0.113.50]}\n"), 0o644)
	if _, err := Load(filepath.Join(dir, "p.yaml")); err != nil {
		t.Errorf("patterns only: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "e.yaml"), []byte("name: p\nexpect_dns: {via: [10.0.0.1], domains: [a.example]}\n"), 0o644)
	if _, err := Load(filepath.Join(dir, "e.yaml")); err == nil || !strings.Contains(err.Error(), "not a TEST-NET") {
		t.Errorf("expect_dns via 10.0.0.1: %v", err)
	}
}
