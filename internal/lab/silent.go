package lab

import (
	"context"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// silentTable is the nftables table (family ip) that makes a router send no
// ICMP time exceeded — its own or the censor's, which leave through the same
// output hook — as routers that filter ICMP do: a traceroute shows the hop
// as "*". In nft(8) syntax:
//
//	table ip fwlab_silent { chain output { type filter hook output priority 0; policy accept;
//	    icmp type time-exceeded drop } }
const silentTable = "fwlab_silent"

// silenceRouters installs silentTable on the routers of the given hops.
// Deleting the namespace removes it.
func silenceRouters(ctx context.Context, n Names, hops []int) error {
	for _, h := range hops {
		if err := ctx.Err(); err != nil {
			return err
		}
		ns := n.RouterAt(h).NS
		if err := silence(ns); err != nil {
			return fmt.Errorf("lab: silencing hop %d (%s): %w", h, ns, err)
		}
	}
	return nil
}

func silence(ns string) error {
	return filterTable(ns, silentTable, "output", nftables.ChainHookOutput, [][]expr.Any{{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{11}}, // time exceeded
		&expr.Verdict{Kind: expr.VerdictDrop},
	}})
}

// filterTable adds, in namespace ns, the ip table name with one filter
// chain on hook (policy accept) holding rules, through netlink.
func filterTable(ns, name, chain string, hook *nftables.ChainHook, rules [][]expr.Any) error {
	h, err := netns.GetFromName(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(h)))
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: name})
	accept := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{Name: chain, Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: hook, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	for _, r := range rules {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: r})
	}
	return c.Flush()
}
