package lab

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/firewatch/firewatch/internal/lab/scenario"
)

// writeASNTable writes the lab's IP-to-network table (the geo package's
// ip2asn TSV format) naming the inside network after the scenario's
// `network:` entry, so that a probe inside learns its country and network
// the way it would on the real internet: the control tells it the address
// it comes from, the table names the network. Only the inside prefix is
// listed: the emulated internet's hosts stay unknown, so that no two
// unrelated hosts ever look like one network to the verdict's ASN step.
// It returns "" when the scenario names no network.
func writeASNTable(dir string, n *scenario.Network) (string, error) {
	if n == nil || n.ASN == "" {
		return "", nil
	}
	first := InsidePrefix.Masked().Addr()
	last := lastAddr(InsidePrefix)
	country := strings.ToUpper(n.Country)
	if country == "" {
		country = "ZZ"
	}
	name := strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(n.Name)
	line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\n", first, last, strings.TrimPrefix(strings.ToUpper(n.ASN), "AS"), country, name)
	path := filepath.Join(dir, "asn.tsv")
	if err := os.WriteFile(path, []byte(line), 0o644); err != nil {
		return "", fmt.Errorf("lab: network table: %w", err)
	}
	return path, nil
}

// lastAddr returns the last address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
