package addrclass

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/sourcetest"
)

// layout are literals that name a range as a place in a network the tests
// or the lab build, not as a class of addresses.
var layout = map[string]string{
	"internal/lab/topology.go:198.51.100.0/24":          "the route to the lab's links",
	"internal/lab/up.go:203.0.113.0/24":                 "where scenario hosts go",
	"internal/probe/probetest/probetest.go:127.0.0.0/8": "the loopback network tests measure",
}

// TestWrittenOnce fails when a range of the table, or a list of ranges, is
// written as a literal outside this package.
func TestWrittenOnce(t *testing.T) {
	ranges := map[netip.Prefix]bool{}
	for _, x := range Table {
		ranges[x.Prefix] = true
	}
	for _, l := range sourcetest.Literals(t) {
		if strings.HasPrefix(l.File, "internal/addrclass/") {
			continue
		}
		for _, f := range strings.FieldsFunc(l.Value, func(r rune) bool { return r == ',' || r == ' ' || r == '(' || r == ')' }) {
			if p, err := netip.ParsePrefix(f); err == nil && ranges[p] && layout[l.File+":"+f] == "" {
				t.Errorf("%v: %v is a range of addrclass.Table; use addrclass", l, p)
			}
		}
	}
}
