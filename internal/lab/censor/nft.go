package censor

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

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
	MITMPort        int // local port of the TLS MITM proxy of ca: rogue; 0 when none
	MITMTrustedPort int // local port of the TLS MITM proxy of ca: rogue-trusted; 0 when none
	HTTPPort        int // local port of the HTTP proxy; 0 when none
	StripPort       int // local port of the STARTTLS strip proxy; 0 when none
	HTTPAddrs       []netip.Addr
	HoldPorts       []uint16 // ports whose first payload packets are held (reset, keyword-drop, dns-tcp rules)
	DNSReplace      bool
	DropFlows       bool // keyword-drop and dns-tcp drop rules: the flows userspace adds to dropSetName are dropped both ways
	MTU             int  // of the outside interface
	InsidePrefixes  []netip.Prefix
}

// The censor's chains.
const (
	chainForward    = "forward"    // filter hook forward: drops and throttles
	chainHold       = "hold"       // filter hook prerouting, before NAT: held packets
	chainPrerouting = "prerouting" // nat hook prerouting: diversion to local proxies
)

// nftRule is one rule of the censor's table: its chain, its expressions
// (with the anonymous sets they look up) and the nft(8) syntax it stands
// for, which the censor logs and the tests read.
type nftRule struct {
	Chain string
	Text  string
	Exprs []expr.Any
	Sets  []anonSet
}

// anonSet is a constant anonymous set a rule looks up.
type anonSet struct {
	Set   *nftables.Set
	Elems []nftables.SetElement
}

// hasMITM reports whether some tls-mitm rule uses the trusted (or the
// untrusted) rogue CA.
func hasMITM(rules []scenario.Rule, trusted bool) bool {
	for _, r := range rules {
		if r.TLSMITM != nil && r.TLSMITM.Trusted() == trusted {
			return true
		}
	}
	return false
}

// censorTable is the censor's table.
func censorTable() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
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

// ruleset returns the censor's kernel rules, chain by chain.
func ruleset(p nftPlan) []nftRule {
	var out []nftRule
	ids := uint32(0)
	rule := func(chain string) *ruleBuilder { return &ruleBuilder{r: nftRule{Chain: chain}, ids: &ids} }
	emit := func(b *ruleBuilder) { out = append(out, b.done()) }
	if p.DNSReplace {
		// In-path DNS: hold every answer from the internet; userspace
		// re-injects all but the genuine answers to replaced queries.
		// Reassembled (fragmented) answers pass uninspected.
		b := rule(chainForward)
		b.iifname(p.Outside)
		b.l4proto(unix.IPPROTO_UDP)
		b.port(false, []uint16{53})
		b.ipLength(expr.CmpOpLte, p.MTU)
		b.drop()
		emit(b)
	}
	for i, r := range p.Rules {
		var ips []netip.Addr
		var ports []uint16
		protos := []byte{unix.IPPROTO_TCP, unix.IPPROTO_UDP}
		var limit func(*ruleBuilder)
		switch {
		case r.Drop != nil:
			ips, ports = r.Drop.IPs, r.Drop.Ports
		case r.QUICBlock != nil:
			ips, ports, protos = r.QUICBlock.IPs, r.QUICBlock.Ports, []byte{unix.IPPROTO_UDP}
		case r.Throttle != nil:
			ips = r.Throttle.IPs
			bytesPerSec := max(r.Throttle.Rate/8, 1)
			burst := max(bytesPerSec/4, 4*1514)
			limit = func(b *ruleBuilder) { b.limitOver(uint64(bytesPerSec), uint32(burst)) }
		default:
			continue
		}
		match := func(b *ruleBuilder, dst bool) {
			if len(ips) > 0 {
				b.ipAddrs(dst, ips)
			}
			if len(ports) > 0 {
				b.l4proto(protos...)
				b.port(dst, ports)
			}
		}
		bit := uint32(0)
		if r.P() < 1 {
			bit = 1 << (markRuleBase + i)
			b := rule(chainForward)
			b.ctStateNew()
			match(b, true)
			b.random(percent(r.P()))
			b.ctMarkOr(bit)
			emit(b)
		}
		for _, dst := range []bool{true, false} {
			b := rule(chainForward)
			match(b, dst)
			if bit != 0 {
				b.ctMark(bit, bit)
			}
			if limit != nil {
				limit(b)
			}
			b.drop()
			emit(b)
		}
	}
	if p.DropFlows {
		// Flows a keyword-drop or dns-tcp drop rule silenced (userspace
		// adds them to the set): every later packet, both ways, before the
		// NAT chain.
		for _, reply := range []bool{false, true} {
			b := rule(chainHold)
			b.flowInSet(reply)
			b.drop()
			emit(b)
		}
	}
	if len(p.HoldPorts) > 0 {
		// Hold the first two TCP packets carrying payload of every inside flow
		// to these ports, diverted to a local proxy or not (this chain runs before
		// the nat chain): userspace inspects them (a ClientHello may span two)
		// and re-injects them or resets the flow.
		for doff := 5; doff <= 15; doff++ {
			for _, st := range [][2]uint32{{0, markHeld1}, {markHeld1, markHeld2}} {
				b := rule(chainHold)
				b.iifname(p.Inside)
				if len(p.InsidePrefixes) > 0 {
					b.ipPrefixes(false, p.InsidePrefixes)
				}
				b.ipHeaderLength5()
				b.l4proto(unix.IPPROTO_TCP)
				b.port(true, p.HoldPorts)
				b.tcpDoff(doff)
				b.ipLength(expr.CmpOpGt, 20+4*doff)
				b.ctMark(markHeld1|markHeld2, st[0])
				b.ctMarkOr(st[1])
				b.drop()
				emit(b)
			}
		}
	}
	divert := func(ips []netip.Addr, ports []uint16, prob float64, to int) {
		b := rule(chainPrerouting)
		b.iifname(p.Inside)
		b.ipAddrs(true, ips)
		b.l4proto(unix.IPPROTO_TCP)
		b.port(true, ports)
		if prob < 1 {
			b.random(percent(prob))
		}
		b.redirect(to)
		emit(b)
	}
	for _, r := range p.Rules {
		if r.TLSMITM == nil {
			continue
		}
		port := p.MITMPort
		if r.TLSMITM.Trusted() {
			port = p.MITMTrustedPort
		}
		if port != 0 {
			divert(r.TLSMITM.IPs, r.TLSMITM.Ports, r.P(), port)
		}
	}
	for _, r := range p.Rules {
		if r.STARTTLSStrip != nil && p.StripPort != 0 {
			divert(r.STARTTLSStrip.IPs, r.STARTTLSStrip.Ports, r.P(), p.StripPort)
		}
	}
	if p.HTTPPort != 0 && len(p.HTTPAddrs) > 0 {
		divert(p.HTTPAddrs, []uint16{80}, 1, p.HTTPPort)
	}
	return out
}

// rulesetText renders rules in nft(8) syntax, one chain per block.
func rulesetText(rules []nftRule) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", TableName)
	for _, c := range []string{chainForward, chainHold, chainPrerouting} {
		fmt.Fprintf(&b, "  chain %s {\n", c)
		for _, r := range rules {
			if r.Chain == c {
				fmt.Fprintf(&b, "    %s\n", r.Text)
			}
		}
		fmt.Fprintf(&b, "  }\n")
	}
	fmt.Fprintf(&b, "}\n")
	return b.String()
}

// nftApply replaces the censor's table in the current network namespace
// with rules, in one netlink transaction.
func nftApply(ctx context.Context, rules []nftRule) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := nftables.New()
	if err != nil {
		return nftError(err)
	}
	defer c.CloseLasting()
	t := c.AddTable(censorTable())
	c.DelTable(t)
	t = c.AddTable(censorTable())
	accept := nftables.ChainPolicyAccept
	chains := map[string]*nftables.Chain{
		chainForward: c.AddChain(&nftables.Chain{Name: chainForward, Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept}),
		chainHold: c.AddChain(&nftables.Chain{Name: chainHold, Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityMangle, Policy: &accept}),
		chainPrerouting: c.AddChain(&nftables.Chain{Name: chainPrerouting, Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest, Policy: &accept}),
	}
	named := map[string]bool{}
	for _, r := range rules {
		for _, s := range r.Sets {
			if !s.Set.Anonymous {
				if named[s.Set.Name] {
					continue
				}
				named[s.Set.Name] = true
			}
			s.Set.Table = t
			if err := c.AddSet(s.Set, s.Elems); err != nil {
				return fmt.Errorf("censor: nftables set for %q: %w", r.Text, err)
			}
		}
		c.AddRule(&nftables.Rule{Table: t, Chain: chains[r.Chain], Exprs: r.Exprs})
	}
	if err := c.Flush(); err != nil {
		return nftError(err)
	}
	return nil
}

// nftDeleteTable removes the censor's table; a missing table is not an error.
func nftDeleteTable() error {
	c, err := nftables.New()
	if err != nil {
		return nftError(err)
	}
	defer c.CloseLasting()
	t := c.AddTable(censorTable())
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return nftError(err)
	}
	return nil
}

func nftError(err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("censor: nftables: %w (the censor needs CAP_NET_ADMIN)", err)
	}
	if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("censor: nftables: %w (does the kernel have nf_tables?)", err)
	}
	return fmt.Errorf("censor: nftables: %w", err)
}

// ruleBuilder appends the expressions of one rule together with its nft(8)
// text; every match loads into register 1.
type ruleBuilder struct {
	r    nftRule
	text []string
	ids  *uint32 // anonymous set IDs, unique in the transaction
}

func (b *ruleBuilder) add(text string, es ...expr.Any) {
	b.text = append(b.text, text)
	b.r.Exprs = append(b.r.Exprs, es...)
}

func (b *ruleBuilder) done() nftRule {
	b.r.Text = strings.Join(b.text, " ")
	return b.r
}

// match compares register 1 with one value or looks it up in a set of them.
func (b *ruleBuilder) match(text string, load []expr.Any, typ nftables.SetDatatype, vals [][]byte, interval bool) {
	if len(vals) == 1 && !interval {
		b.add(text, append(load, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: vals[0]})...)
		return
	}
	*b.ids++
	s := &nftables.Set{Name: "__set%d", ID: *b.ids, Anonymous: true, Constant: true, KeyType: typ, Interval: interval}
	var elems []nftables.SetElement
	if interval {
		for i := 0; i < len(vals); i += 2 {
			elems = append(elems, nftables.SetElement{Key: vals[i]}, nftables.SetElement{Key: vals[i+1], IntervalEnd: true})
		}
	} else {
		for _, v := range vals {
			elems = append(elems, nftables.SetElement{Key: v})
		}
	}
	b.r.Sets = append(b.r.Sets, anonSet{Set: s, Elems: elems})
	b.add(text, append(load, &expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID})...)
}

func setText[T any](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	if len(s) == 1 {
		return s[0]
	}
	return "{ " + strings.Join(s, ", ") + " }"
}

func (b *ruleBuilder) iifname(name string) {
	v := make([]byte, 16)
	copy(v, name)
	b.add(fmt.Sprintf("iifname %q", name),
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: v})
}

// ipv4 makes the rule match IPv4 only (implicit in nft's `ip ...`).
func (b *ruleBuilder) ipv4() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
	}
}

func ipField(dst bool) (string, uint32) {
	if dst {
		return "daddr", 16
	}
	return "saddr", 12
}

func (b *ruleBuilder) ipAddrs(dst bool, addrs []netip.Addr) {
	name, off := ipField(dst)
	vals := make([][]byte, len(addrs))
	for i, a := range addrs {
		v := a.Unmap().As4()
		vals[i] = v[:]
	}
	load := append(b.ipv4(), &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4})
	b.match("ip "+name+" "+setText(addrs), load, nftables.TypeIPAddr, vals, false)
}

// ipPrefixes matches an address in any of the prefixes (an interval set).
func (b *ruleBuilder) ipPrefixes(dst bool, ps []netip.Prefix) {
	name, off := ipField(dst)
	var vals [][]byte
	for _, r := range mergePrefixes(ps) {
		vals = append(vals, r[0], r[1])
	}
	load := append(b.ipv4(), &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4})
	b.match("ip "+name+" "+setText(ps), load, nftables.TypeIPAddr, vals, true)
}

// mergePrefixes turns IPv4 prefixes into sorted, disjoint [start, end+1)
// ranges, as an interval set wants them.
func mergePrefixes(ps []netip.Prefix) [][2][]byte {
	type rng struct{ lo, hi uint64 } // hi exclusive
	var rs []rng
	for _, p := range ps {
		p = p.Masked()
		a := p.Addr().Unmap().As4()
		lo := uint64(binary.BigEndian.Uint32(a[:]))
		rs = append(rs, rng{lo, lo + 1<<(32-p.Bits())})
	}
	slices.SortFunc(rs, func(x, y rng) int { return cmp.Compare(x.lo, y.lo) })
	var merged []rng
	for _, r := range rs {
		if n := len(merged); n > 0 && r.lo <= merged[n-1].hi {
			merged[n-1].hi = max(merged[n-1].hi, r.hi)
			continue
		}
		merged = append(merged, r)
	}
	out := make([][2][]byte, len(merged))
	for i, r := range merged {
		hi := r.hi
		if hi > 0xffffffff {
			hi = 0xffffffff // the last address is never a lab's
		}
		out[i] = [2][]byte{binary.BigEndian.AppendUint32(nil, uint32(r.lo)), binary.BigEndian.AppendUint32(nil, uint32(hi))}
	}
	return out
}

func (b *ruleBuilder) l4proto(protos ...byte) {
	names := make([]string, len(protos))
	vals := make([][]byte, len(protos))
	for i, p := range protos {
		names[i] = map[byte]string{unix.IPPROTO_TCP: "tcp", unix.IPPROTO_UDP: "udp"}[p]
		vals[i] = []byte{p}
	}
	b.match("meta l4proto "+setText(names), []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}}, nftables.TypeInetProto, vals, false)
}

// port matches the transport header's destination or source port (after
// l4proto, which makes the transport header one with ports).
func (b *ruleBuilder) port(dst bool, ports []uint16) {
	name, off := "th dport", uint32(2)
	if !dst {
		name, off = "th sport", 0
	}
	vals := make([][]byte, len(ports))
	for i, p := range ports {
		vals[i] = binaryutil.BigEndian.PutUint16(p)
	}
	load := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2}}
	b.match(name+" "+setText(ports), load, nftables.TypeInetService, vals, false)
}

func (b *ruleBuilder) ipLength(op expr.CmpOp, n int) {
	sym := map[expr.CmpOp]string{expr.CmpOpLte: "<=", expr.CmpOpGt: ">"}[op]
	b.add(fmt.Sprintf("ip length %s %d", sym, n),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: op, Register: 1, Data: binaryutil.BigEndian.PutUint16(uint16(n))})
}

// ipHeaderLength5 matches IPv4 headers without options (so the transport
// header sits at byte 20, which the held-packet rules rely on).
func (b *ruleBuilder) ipHeaderLength5() {
	b.add("ip hdrlength 5", append(b.ipv4(),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 0, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x0f}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{5}})...)
}

func (b *ruleBuilder) tcpDoff(doff int) {
	b.add(fmt.Sprintf("tcp doff %d", doff),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 12, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0xf0}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{byte(doff << 4)}})
}

func (b *ruleBuilder) ctStateNew() {
	b.add("ct state new",
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitNEW), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)})
}

// random matches with probability pct/100.
func (b *ruleBuilder) random(pct int) {
	b.add(fmt.Sprintf("numgen random mod 100 < %d", pct),
		&expr.Numgen{Register: 1, Modulus: 100, Type: unix.NFT_NG_RANDOM},
		&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
		&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: binaryutil.BigEndian.PutUint32(uint32(pct))})
}

// ctMark matches flows whose conntrack mark, masked, equals val.
func (b *ruleBuilder) ctMark(mask, val uint32) {
	b.add(fmt.Sprintf("ct mark and 0x%x == 0x%x", mask, val),
		&expr.Ct{Register: 1, Key: expr.CtKeyMARK},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(val)})
}

// ctMarkOr sets bits in the flow's conntrack mark.
func (b *ruleBuilder) ctMarkOr(bits uint32) {
	b.add(fmt.Sprintf("ct mark set ct mark or 0x%x", bits),
		&expr.Ct{Register: 1, Key: expr.CtKeyMARK},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(^bits), Xor: binaryutil.NativeEndian.PutUint32(bits)},
		&expr.Ct{Register: 1, Key: expr.CtKeyMARK, SourceRegister: true})
}

func (b *ruleBuilder) limitOver(bytesPerSec uint64, burst uint32) {
	b.add(fmt.Sprintf("limit rate over %d bytes/second burst %d bytes", bytesPerSec, burst),
		&expr.Limit{Type: expr.LimitTypePktBytes, Rate: bytesPerSec, Over: true, Unit: expr.LimitTimeSecond, Burst: burst})
}

func (b *ruleBuilder) drop() {
	b.add("drop", &expr.Verdict{Kind: expr.VerdictDrop})
}

// redirect diverts the packet to a local port (nat chains only).
func (b *ruleBuilder) redirect(port int) {
	b.add(fmt.Sprintf("redirect to :%d", port),
		&expr.Immediate{Register: 1, Data: binaryutil.BigEndian.PutUint16(uint16(port))},
		&expr.Redir{RegisterProtoMin: 1, Flags: unix.NF_NAT_RANGE_PROTO_SPECIFIED})
}

// dropSetName is the named set of silenced flows (client address . port .
// server address . port), filled at run time by nftDropFlow; its elements
// expire after dropTimeout.
const dropSetName = "drop_flows"

const dropTimeout = 60 * time.Second

var flowKeyType = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService, nftables.TypeIPAddr, nftables.TypeInetService)

func dropSet() *nftables.Set {
	return &nftables.Set{Table: censorTable(), Name: dropSetName, KeyType: flowKeyType, Concatenation: true,
		HasTimeout: true, Timeout: dropTimeout}
}

// flowInSet matches TCP packets of a flow in dropSetName: sent by the
// client (reply false) or by the server (reply true).
func (b *ruleBuilder) flowInSet(reply bool) {
	ip := func(dst bool, reg uint32) expr.Any {
		_, off := ipField(dst)
		return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4}
	}
	port := func(dst bool, reg uint32) expr.Any {
		off := uint32(0)
		if dst {
			off = 2
		}
		return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2}
	}
	// registers 1, 9, 10, 11: the four 32-bit words of a concatenated key
	es := b.ipv4()
	es = append(es, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		ip(reply, 1), port(reply, 9), ip(!reply, 10), port(!reply, 11),
		&expr.Lookup{SourceRegister: 1, SetName: dropSetName})
	text := "ip saddr . tcp sport . ip daddr . tcp dport @" + dropSetName
	if reply {
		text = "ip daddr . tcp dport . ip saddr . tcp sport @" + dropSetName
	}
	b.add("meta l4proto tcp "+text, es...)
	b.r.Sets = append(b.r.Sets, anonSet{Set: dropSet()})
}

// nftDropFlow adds a flow (client to server) to dropSetName.
func nftDropFlow(client, server netip.AddrPort) error {
	c, err := nftables.New()
	if err != nil {
		return nftError(err)
	}
	defer c.CloseLasting()
	ca, sa := client.Addr().Unmap().As4(), server.Addr().Unmap().As4()
	key := make([]byte, 0, 16)
	key = append(key, ca[:]...)
	key = binary.BigEndian.AppendUint16(key, client.Port())
	key = append(key, 0, 0)
	key = append(key, sa[:]...)
	key = binary.BigEndian.AppendUint16(key, server.Port())
	key = append(key, 0, 0)
	if err := c.SetAddElements(dropSet(), []nftables.SetElement{{Key: key}}); err != nil {
		return fmt.Errorf("censor: drop set: %w", err)
	}
	if err := c.Flush(); err != nil {
		return nftError(err)
	}
	return nil
}
