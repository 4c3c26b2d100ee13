package lab

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/firewatch/firewatch/internal/lab/scenario"
)

// controlFaultTable is the nftables table (family ip) in the internet's
// namespace that loses every packet the outside vantage sends to a host
// with `control: unreachable`: a fault of the outside's path, not the
// censor (the inside's packets arrive from r3 and pass). In nft(8) syntax:
//
//	table ip fwlab_control { chain input { type filter hook input priority 0; policy accept;
//	    ip saddr 192.0.2.66 ip daddr 203.0.113.60 drop } }
const controlFaultTable = "fwlab_control"

// unreachableFromOutside lists the addresses of the hosts the outside
// vantage cannot reach (control: unreachable).
func unreachableFromOutside(sc *scenario.Scenario) []netip.Addr {
	var out []netip.Addr
	for _, h := range sc.Hosts {
		if h.ControlUnreachable {
			out = append(out, h.IPs()...)
		}
	}
	return out
}

// cutOutside installs controlFaultTable in the internet's namespace for
// the given host addresses; none installs nothing. Deleting the namespace
// removes it.
func cutOutside(ctx context.Context, n Names, addrs []netip.Addr) error {
	if len(addrs) == 0 {
		return ctx.Err()
	}
	if err := cutIn(n.Net, addrs); err != nil {
		return fmt.Errorf("lab: the outside's path to %v (control: unreachable): %w", addrs, err)
	}
	return ctx.Err()
}

func cutIn(ns string, addrs []netip.Addr) error {
	src := OutsideAddr.As4()
	var rules [][]expr.Any
	for _, a := range addrs {
		dst := a.Unmap().As4()
		rules = append(rules, []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}, // saddr
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: src[:]},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4}, // daddr
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: dst[:]},
			&expr.Verdict{Kind: expr.VerdictDrop},
		})
	}
	return filterTable(ns, controlFaultTable, "input", nftables.ChainHookInput, rules)
}
