package lab

import (
	"net/netip"
	"testing"

	"github.com/firewatch/firewatch/internal/geo"
	"github.com/firewatch/firewatch/internal/lab/scenario"
)

func TestASNTable(t *testing.T) {
	dir := t.TempDir()
	path, err := writeASNTable(dir, &scenario.Network{Country: "CN", ASN: "AS4134", Name: "Lab\tTelecom"})
	if err != nil {
		t.Fatal(err)
	}
	db, err := geo.Open(path)
	if err != nil {
		t.Fatalf("geo cannot read the lab's table: %v", err)
	}
	for _, tc := range []struct {
		addr    string
		country string
		asn     int
	}{
		{"198.51.100.2", "CN", 4134},
		{"198.51.100.7", "CN", 4134},
		{"198.51.100.8", "ZZ", 0},
		{"203.0.113.10", "ZZ", 0},
	} {
		got := db.Lookup(netip.MustParseAddr(tc.addr))
		if got.Country != tc.country || got.ASN != tc.asn {
			t.Errorf("%s: got %s AS%d, want %s AS%d", tc.addr, got.Country, got.ASN, tc.country, tc.asn)
		}
	}
	if path, err := writeASNTable(dir, nil); path != "" || err != nil {
		t.Errorf("no network: got %q, %v; want no table", path, err)
	}
}
