package censor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"

	"github.com/firewatch/firewatch/internal/lab/scenario"
)

// TableName is the nftables table (family inet) the censor owns in its namespace.
const TableName = "firewatch_censor"

// Conntrack mark bits the ruleset uses.
const (
	markHeld1    = 0x1 // the flow's first payload packet was held for inspection
	markHeld2    = 0x2 // and its second one
	markRuleBase = 8   // bit markRuleBase+i: probabilistic rule i applies to this flow
)

// nftPlan is what the ruleset needs to know besides the rules.
type nftPlan struct {
	Inside, Outside string
	Rules           []scenario.Rule
	MITMPort        int // local port of the TLS MITM proxy; 0 when none
	HTTPPort        int // local port of the HTTP proxy; 0 when none
	StripPort       int // local port of the STARTTLS strip proxy; 0 when none
	HTTPAddrs       []netip.Addr
	HoldPorts       []uint16 // ports whose first payload packet is held (reset rules)
	DNSReplace      bool
	MTU             int // of the outside interface
	InsidePrefixes  []netip.Prefix
}

func setOf[T any](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return "{ " + strings.Join(s, ", ") + " }"
}

// percent turns a probability into the threshold of `numgen random mod 100 < N`.
func percent(p float64) int {
	n := int(p*100 + 0.5)
	if n < 0 {
		n = 0
	}
	if n > 100 {
		n = 100
	}
	return n
}

// ruleset renders the nftables script installing the censor's kernel rules.
// It starts by deleting the table, so applying it twice is harmless.
func ruleset(p nftPlan) string {
	var b strings.Builder
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	fmt.Fprintf(&b, "table inet %s {}\ndelete table inet %s\n", TableName, TableName)
	fmt.Fprintf(&b, "table inet %s {\n", TableName)
	fmt.Fprintf(&b, "  chain forward {\n    type filter hook forward priority filter; policy accept;\n")
	if p.DNSReplace {
		// In-path DNS: hold every answer from the internet; userspace
		// re-injects all but the genuine answers to replaced queries.
		// Reassembled (fragmented) answers pass uninspected.
		fmt.Fprintf(&b, "    iifname %s udp sport 53 ip length <= %d drop\n", q(p.Outside), p.MTU)
	}
	for i, r := range p.Rules {
		var ips []netip.Addr
		var ports []uint16
		var limit string
		switch {
		case r.Drop != nil:
			ips, ports = r.Drop.IPs, r.Drop.Ports
		case r.Throttle != nil:
			ips = r.Throttle.IPs
			bytesPerSec := max(r.Throttle.Rate/8, 1)
			burst := max(bytesPerSec/4, 4*1514)
			limit = fmt.Sprintf("limit rate over %d bytes/second burst %d bytes ", bytesPerSec, burst)
		default:
			continue
		}
		dport, sport := "", ""
		if len(ports) > 0 {
			dport = "meta l4proto { tcp, udp } th dport " + setOf(ports) + " "
			sport = "meta l4proto { tcp, udp } th sport " + setOf(ports) + " "
		}
		cond := ""
		if r.P() < 1 {
			bit := 1 << (markRuleBase + i)
			fmt.Fprintf(&b, "    ct state new ip daddr %s %snumgen random mod 100 < %d ct mark set ct mark or 0x%x\n",
				setOf(ips), dport, percent(r.P()), bit)
			cond = fmt.Sprintf("ct mark and 0x%x == 0x%x ", bit, bit)
		}
		fmt.Fprintf(&b, "    ip daddr %s %s%s%sdrop\n", setOf(ips), dport, cond, limit)
		fmt.Fprintf(&b, "    ip saddr %s %s%s%sdrop\n", setOf(ips), sport, cond, limit)
	}
	fmt.Fprintf(&b, "  }\n")
	fmt.Fprintf(&b, "  chain hold {\n    type filter hook prerouting priority -150; policy accept;\n")
	if len(p.HoldPorts) > 0 {
		// Hold the first two TCP packets carrying payload of every inside flow
		// to these ports, diverted to a local proxy or not (this chain runs before
		// the nat chain): userspace inspects them (a ClientHello may span two)
		// and re-injects them or resets the flow.
		both := markHeld1 | markHeld2
		from := ""
		if len(p.InsidePrefixes) > 0 {
			from = "ip saddr " + setOf(p.InsidePrefixes) + " "
		}
		for doff := 5; doff <= 15; doff++ {
			for _, st := range [][2]int{{0, markHeld1}, {markHeld1, markHeld2}} {
				fmt.Fprintf(&b, "    iifname %s %sip hdrlength 5 tcp dport %s tcp doff %d ip length > %d ct mark and 0x%x == 0x%x ct mark set ct mark or 0x%x drop\n",
					q(p.Inside), from, setOf(p.HoldPorts), doff, 20+4*doff, both, st[0], st[1])
			}
		}
	}
	fmt.Fprintf(&b, "  }\n")
	fmt.Fprintf(&b, "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n")
	for _, r := range p.Rules {
		if r.TLSMITM == nil || p.MITMPort == 0 {
			continue
		}
		prob := ""
		if r.P() < 1 {
			prob = fmt.Sprintf("numgen random mod 100 < %d ", percent(r.P()))
		}
		fmt.Fprintf(&b, "    iifname %s ip daddr %s tcp dport %s %sredirect to :%d\n",
			q(p.Inside), setOf(r.TLSMITM.IPs), setOf(r.TLSMITM.Ports), prob, p.MITMPort)
	}
	for _, r := range p.Rules {
		if r.STARTTLSStrip == nil || p.StripPort == 0 {
			continue
		}
		prob := ""
		if r.P() < 1 {
			prob = fmt.Sprintf("numgen random mod 100 < %d ", percent(r.P()))
		}
		fmt.Fprintf(&b, "    iifname %s ip daddr %s tcp dport %s %sredirect to :%d\n",
			q(p.Inside), setOf(r.STARTTLSStrip.IPs), setOf(r.STARTTLSStrip.Ports), prob, p.StripPort)
	}
	if p.HTTPPort != 0 && len(p.HTTPAddrs) > 0 {
		fmt.Fprintf(&b, "    iifname %s ip daddr %s tcp dport 80 redirect to :%d\n", q(p.Inside), setOf(p.HTTPAddrs), p.HTTPPort)
	}
	fmt.Fprintf(&b, "  }\n}\n")
	return b.String()
}

// nftApply runs an nft script.
func nftApply(ctx context.Context, script string) error {
	cmd := exec.CommandContext(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if errors.Is(err, exec.ErrNotFound) {
		return errors.New("censor: the nft command is missing: install nftables (apt-get install -y nftables)")
	}
	if err != nil {
		return fmt.Errorf("censor: nft: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// nftDeleteTable removes the censor's table; a missing table is not an error.
func nftDeleteTable() error {
	return nftApply(context.Background(), fmt.Sprintf("table inet %s {}\ndelete table inet %s\n", TableName, TableName))
}
