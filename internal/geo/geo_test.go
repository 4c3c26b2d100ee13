package geo

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `# comment
1.0.0.0	1.0.0.255	13335	US	CLOUDFLARENET
1.0.1.0	1.0.3.255	0	None	Not routed
203.0.113.0	203.0.113.127	64500	KR	EXAMPLE-KR Lab Net
2001:db8::	2001:db8::ffff	64501	DE	V6-NET
`

func TestLookup(t *testing.T) {
	db, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		want Info
	}{
		{"1.0.0.1", Info{"US", 13335, "CLOUDFLARENET"}},
		{"1.0.0.255", Info{"US", 13335, "CLOUDFLARENET"}},
		{"1.0.2.1", Info{"ZZ", 0, ""}},
		{"203.0.113.50", Info{"KR", 64500, "EXAMPLE-KR Lab Net"}},
		{"203.0.113.200", Info{"ZZ", 0, ""}},
		{"0.0.0.1", Info{"ZZ", 0, ""}},
		{"2001:db8::1", Info{"DE", 64501, "V6-NET"}},
		{"::ffff:1.0.0.2", Info{"US", 13335, "CLOUDFLARENET"}},
		{"2001:db9::1", Info{"ZZ", 0, ""}},
	}
	for _, tt := range tests {
		got := db.Lookup(netip.MustParseAddr(tt.addr))
		if got != tt.want {
			t.Errorf("Lookup(%s) = %+v, want %+v", tt.addr, got, tt.want)
		}
	}
	var nilDB *DB
	if got := nilDB.Lookup(netip.MustParseAddr("1.0.0.1")); got.Country != "ZZ" || got.Known() {
		t.Errorf("nil DB Lookup = %+v", got)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"fields", "1.0.0.0\t1.0.0.255\n", "line 1: want 5"},
		{"start", "x\t1.0.0.255\t1\tUS\tX\n", "line 1: range start"},
		{"end", "1.0.0.0\ty\t1\tUS\tX\n", "line 1: range end"},
		{"order", "\n1.0.0.9\t1.0.0.1\t1\tUS\tX\n", "line 2: range end"},
		{"family", "1.0.0.0\t::1\t1\tUS\tX\n", "different address families"},
		{"asn", "1.0.0.0\t1.0.0.1\tabc\tUS\tX\n", "AS number"},
	}
	for _, tt := range tests {
		_, err := Parse(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want containing %q", tt.name, err, tt.want)
		}
	}
}

func TestOpenDefault(t *testing.T) {
	t.Setenv(EnvVar, "")
	db, err := OpenDefault("")
	if err != nil || db != nil {
		t.Fatalf("OpenDefault(\"\") = %v, %v; want nil, nil", db, err)
	}
	p := filepath.Join(t.TempDir(), "asn.tsv")
	if err := os.WriteFile(p, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvVar, p)
	db, err = OpenDefault("")
	if err != nil || db.Len() != 4 {
		t.Fatalf("OpenDefault via env: %v, %v", db.Len(), err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.tsv")); err == nil || !strings.Contains(err.Error(), "missing.tsv") {
		t.Errorf("Open(missing) err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n")
	f.Add("::\t::1\t0\tNone\tNot routed")
	f.Fuzz(func(t *testing.T, in string) {
		db, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, e := range db.entries {
			got := db.Lookup(e.start)
			if got.Country == "" {
				t.Fatalf("empty country for %s", e.start)
			}
		}
	})
}

// bigTable is a synthetic table the size of ip2asn-v4.tsv (~500k ranges).
func bigTable(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		s := netip.AddrFrom4([4]byte{byte(i >> 16), byte(i >> 8), byte(i), 0})
		e := netip.AddrFrom4([4]byte{byte(i >> 16), byte(i >> 8), byte(i), 255})
		b.WriteString(s.String() + "\t" + e.String() + "\t" + "64500\tUS\tNET\n")
	}
	return b.String()
}

func BenchmarkParse(b *testing.B) {
	tbl := bigTable(500000)
	b.SetBytes(int64(len(tbl)))
	for b.Loop() {
		if _, err := Parse(strings.NewReader(tbl)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	db, err := Parse(strings.NewReader(bigTable(500000)))
	if err != nil {
		b.Fatal(err)
	}
	a := netip.MustParseAddr("5.6.7.8")
	b.ReportAllocs()
	for b.Loop() {
		db.Lookup(a)
	}
}
