package scenario

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDNSTCP checks a dns-tcp rule's patterns (those of dns-inject, file
// included) and its action, reset by default.
func TestDNSTCP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "names.txt"), []byte("# cut\n*.zone.example\n"), 0o644)
	y := `name: p
hosts:
  - {names: [www.host.example], ip: 203.0.113.10, services: [http]}
censor:
  - dns-tcp: {names: [host.example, "=only.example", "~kw"], names_file: names.txt}
  - dns-tcp: {names: ["=www.host.example"], action: drop}
`
	path := filepath.Join(dir, "s.yaml")
	os.WriteFile(path, []byte(y), 0o644)
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d, drop := s.Censor[0].DNSTCP, s.Censor[1].DNSTCP
	if d == nil || drop == nil || d.Action != ActionReset || drop.Action != ActionDrop || d.NamesFile != "names.txt" {
		t.Fatalf("got %+v and %+v, want a reset rule with names.txt and a drop rule", d, drop)
	}
	for name, want := range map[string]bool{
		"host.example.": true, "WWW.host.example": true, "only.example": true, "a.only.example": false,
		"zone.example": false, "a.zone.example": true, "akwz.net": true, "clean.example": false,
	} {
		if got := d.Matches(name); got != want {
			t.Errorf("Matches(%q) = %v, want %v", name, got, want)
		}
	}
	if !drop.Matches("www.host.example") || drop.Matches("host.example") {
		t.Errorf("=www.host.example: got %v for itself and %v for its parent, want true, false", drop.Matches("www.host.example"), drop.Matches("host.example"))
	}
}
