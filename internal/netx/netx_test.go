package netx

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIsBogon(t *testing.T) {
	t.Parallel()
	lab := &Network{Routable: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	tests := []struct {
		addr string
		n    *Network
		want bool
	}{
		{"8.8.8.8", nil, false},
		{"2606:4700::1111", nil, false},
		{"10.1.2.3", nil, true},
		{"172.16.0.1", nil, true},
		{"192.168.1.1", nil, true},
		{"127.0.0.1", nil, true},
		{"0.0.0.0", nil, true},
		{"169.254.1.1", nil, true},
		{"100.64.0.1", nil, true},
		{"192.0.2.1", nil, true},
		{"198.51.100.1", nil, true},
		{"203.0.113.1", nil, true},
		{"224.0.0.1", nil, true},
		{"::1", nil, true},
		{"fd00::1", nil, true},
		{"fe80::1", nil, true},
		{"2001:db8::1", nil, true},
		{"::ffff:10.0.0.1", nil, true},
		{"192.0.2.1", lab, false},
		{"198.51.100.1", lab, true},
		{"::ffff:192.0.2.9", lab, false},
		// IPv6 spellings of IPv4 bogons (issue 14), whatever is routable:
		// a redirect or an answer naming one is never followed.
		{"::127.0.0.1", nil, true},
		{"64:ff9b::7f00:1", nil, true},
		{"2002:7f00:1::", nil, true},
		{"2001:0:808:808::80ff:fffe", nil, true},
		{"64:ff9b::c000:201", lab, true},
		{"fe80::1%eth0", nil, true},
		{"64:ff9b::808:808", nil, false},
		{"2002:808:808::1", nil, false},
	}
	for _, tc := range tests {
		if got := tc.n.IsBogon(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("IsBogon(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

func TestParseRoutable(t *testing.T) {
	t.Parallel()
	got, err := ParseRoutable(" 192.0.2.0/24, 198.51.100.7 ,,2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"192.0.2.0/24", "198.51.100.7/32", "2001:db8::/32"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, got[i], want[i])
		}
	}
	if _, err := ParseRoutable("192.0.2.0/33"); err == nil || !strings.Contains(err.Error(), "192.0.2.0/33") {
		t.Errorf("bad prefix: error %v, want one naming it", err)
	}
}

func TestLoadRootCAs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not pem"), 0o644)
	if _, err := LoadRootCAs(bad); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("bad file: %v", err)
	}
	if _, err := LoadRootCAs(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("missing file: no error")
	}
}
