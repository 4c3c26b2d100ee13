package censor

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/firewatch/firewatch/internal/lab/scenario"
)

func TestRulesetStrip(t *testing.T) {
	p := 0.5
	plan := nftPlan{Inside: "r0", Outside: "r1", StripPort: 4002, MTU: 1500, Rules: []scenario.Rule{
		{Kind: scenario.KindSTARTTLSStrip, STARTTLSStrip: &scenario.STARTTLSStrip{IPs: []netip.Addr{netip.MustParseAddr("203.0.113.60")}, Ports: []uint16{25, 143}}},
		{Kind: scenario.KindSTARTTLSStrip, STARTTLSStrip: &scenario.STARTTLSStrip{IPs: []netip.Addr{netip.MustParseAddr("203.0.113.61")}, Ports: []uint16{110}}, Probability: &p},
	}}
	got := rulesetText(ruleset(plan))
	for _, want := range []string{
		`iifname "r0" ip daddr 203.0.113.60 meta l4proto tcp th dport { 25, 143 } redirect to :4002`,
		`iifname "r0" ip daddr 203.0.113.61 meta l4proto tcp th dport 110 numgen random mod 100 < 50 redirect to :4002`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, got)
		}
	}
}
