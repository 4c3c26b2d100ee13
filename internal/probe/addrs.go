package probe

import "net/netip"

// DefaultMaxAddrs is the default of Config.MaxAddrs: how many distinct
// addresses of one host are dialed per port. A forged DNS answer with
// thousands of records decides nothing about how many connections the probe
// opens or how large its record grows.
const DefaultMaxAddrs = 8

// MaxAddrs is the largest Config.MaxAddrs the commands accept: with a
// connect and a handshake per address, a record stays within the record
// format's bound on steps.
const MaxAddrs = 32

// pickAddrs chooses at most max distinct addresses to dial from own (this
// vantage's answers, in order) and other (the other vantage's addresses, in
// order). When more are offered it prefers those both saw, then takes the
// rest alternating between own and other, each in order, so that the other
// vantage's addresses are still checked from here when own answers alone
// would fill the cap. The chosen ones keep their order: own first, then
// other's. It also returns how many distinct addresses it left out.
func pickAddrs(own, other []netip.Addr, max int) (picked []netip.Addr, notTried int) {
	inOwn := make(map[netip.Addr]bool, len(own))
	var all, ownOnly []netip.Addr // all: own then other's, without repeats
	for _, a := range own {
		if !inOwn[a] {
			inOwn[a] = true
			all = append(all, a)
		}
	}
	inOther := make(map[netip.Addr]bool, len(other))
	var otherOnly []netip.Addr
	for _, a := range other {
		if inOther[a] {
			continue
		}
		inOther[a] = true
		if !inOwn[a] {
			otherOnly = append(otherOnly, a)
			all = append(all, a)
		}
	}
	if len(all) <= max {
		return all, 0
	}
	chosen := make(map[netip.Addr]bool, max)
	choose := func(a netip.Addr) {
		if len(chosen) < max {
			chosen[a] = true
		}
	}
	for _, a := range all {
		if inOwn[a] && inOther[a] {
			choose(a)
		} else if inOwn[a] {
			ownOnly = append(ownOnly, a)
		}
	}
	for i := 0; i < len(ownOnly) || i < len(otherOnly); i++ {
		if i < len(ownOnly) {
			choose(ownOnly[i])
		}
		if i < len(otherOnly) {
			choose(otherOnly[i])
		}
	}
	for _, a := range all {
		if chosen[a] {
			picked = append(picked, a)
		}
	}
	return picked, len(all) - len(picked)
}

// capAddrs returns the addresses of host to dial on port, at most
// Config.MaxAddrs of those this host can dial (see pickAddrs), and among
// them those that came only from other (the other vantage's addresses,
// which the control also checks on 443). It notes in rec how many were
// left out.
func (p *Probe) capAddrs(rec *recorder, host, port string, own, other []netip.Addr) (dial, fromOther []netip.Addr) {
	dialable := func(in []netip.Addr) []netip.Addr {
		var out []netip.Addr
		for _, a := range in {
			if p.canDial(a) {
				out = append(out, a)
			}
		}
		return out
	}
	dial, notTried := pickAddrs(dialable(own), dialable(other), p.cfg.MaxAddrs)
	rec.skipped(host, port, notTried)
	inOwn := make(map[netip.Addr]bool, len(own))
	for _, a := range own {
		inOwn[a] = true
	}
	for _, a := range dial {
		if !inOwn[a] {
			fromOther = append(fromOther, a)
		}
	}
	return dial, fromOther
}
