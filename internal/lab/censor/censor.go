// Package censor is the lab's on-path censor. It runs inside the censor
// router's network namespace, where the kernel keeps forwarding, and adds
// every technique of a scenario: nftables rules for dropping, throttling and
// diverting flows to local proxies (TLS MITM, HTTP redirect and block page,
// a transparent HTTP proxy that may inject a script),
// and a sniffer (AF_PACKET with a classic BPF filter) that forges DNS answers
// and TCP resets with a raw IPv4 socket. It needs CAP_NET_ADMIN and
// CAP_NET_RAW in that namespace and the nft command.
package censor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/firewatch/firewatch/internal/lab/pki"
	"github.com/firewatch/firewatch/internal/lab/policy"
	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/miekg/dns"
)

// Config configures a censor.
type Config struct {
	Rules          []scenario.Rule
	Hosts          []scenario.Host
	InsideIface    string         // the router's interface toward the censored network
	OutsideIface   string         // the router's interface toward the internet
	InsidePrefixes []netip.Prefix // addresses of the inside; empty: whatever arrives on InsideIface
	RogueCA        *pki.CA        // signs the MITM certificates of ca: rogue; required by such tls-mitm rules
	RogueTrustedCA *pki.CA        // signs those of ca: rogue-trusted (a CA of its own); required by such rules
	Seed           int64          // seeds the per-query and per-connection probabilities
	Log            io.Writer      // one line per intervention; nil discards
	// Ready, when not nil, is called once every rule is in place.
	Ready func()
}

// Run installs the censor and serves until ctx is done, then removes
// everything it installed (nftables table, sockets, proxies).
func Run(ctx context.Context, cfg Config) error {
	e, err := newEngine(cfg)
	if err != nil {
		return err
	}
	ctx, e.stop = context.WithCancel(ctx)
	defer e.close()
	if err := e.start(ctx); err != nil {
		return err
	}
	if cfg.Ready != nil {
		cfg.Ready()
	}
	return e.loop(ctx)
}

type engine struct {
	cfg     Config
	logMu   sync.Mutex
	roll    policy.Roll // the rules' probabilities, from Config.Seed
	pol     *policy.Policy
	proxies *Proxies

	raw      *rawSender
	sniff    *sniffer
	stop     context.CancelFunc
	outSniff *sniffer // DNS answers from the internet (replace mode)
	inbound  *sniffer // DNS queries from the internet to inside addresses
	replMu   sync.Mutex
	replaced map[replKey]time.Time // genuine answers to drop, until
	lns      []net.Listener
	flows    map[flowKey]*flowState
	sweptAt  time.Time
	mtu      int        // of the outside interface
	routerIP netip.Addr // the router's address on the inside interface: the source of its ICMP
	wg       sync.WaitGroup
	tableSet bool
}

// replKey names the genuine answer to a replaced query.
type replKey struct {
	client netip.AddrPort
	server netip.Addr
	id     uint16
}

type flowKey struct {
	src, dst     netip.Addr
	sport, dport uint16
}

type flowState struct {
	seen    time.Time
	held    int          // payload packets the kernel held so far (at most 2)
	pending []heldPacket // held packets waiting for a decision
	decided bool         // the start of the stream was inspected
	exempt  bool         // the reset rules' probability spared this connection
	reset   bool         // the flow was reset
}

type heldPacket struct {
	raw []byte
	p   Packet
}

func newEngine(cfg Config) (*engine, error) {
	if cfg.InsideIface == "" || cfg.OutsideIface == "" {
		return nil, errors.New("censor: InsideIface and OutsideIface are required")
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	e := &engine{
		cfg:      cfg,
		roll:     policy.Seeded(cfg.Seed),
		flows:    map[flowKey]*flowState{},
		replaced: map[replKey]time.Time{},
	}
	pol, err := policy.New(cfg.Rules, cfg.Hosts)
	if err != nil {
		return nil, fmt.Errorf("censor: %w", err)
	}
	for _, r := range cfg.Rules {
		if r.TLSMITM != nil && r.TLSMITM.Trusted() && cfg.RogueTrustedCA == nil {
			return nil, errors.New("censor: a tls-mitm rule with ca: rogue-trusted needs RogueTrustedCA")
		}
		if r.TLSMITM != nil && !r.TLSMITM.Trusted() && cfg.RogueCA == nil {
			return nil, errors.New("censor: a tls-mitm rule needs RogueCA")
		}
	}
	e.pol = pol
	e.proxies = &Proxies{Policy: pol, RogueCA: cfg.RogueCA, RogueTrustedCA: cfg.RogueTrustedCA, Roll: e.roll, Logf: e.logf}
	return e, nil
}

func (e *engine) logf(format string, args ...any) {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	fmt.Fprintf(e.cfg.Log, time.Now().UTC().Format("15:04:05.000")+" "+format+"\n", args...)
}

func (e *engine) start(ctx context.Context) error {
	plan := nftPlan{Inside: e.cfg.InsideIface, Outside: e.cfg.OutsideIface, Rules: e.cfg.Rules, MTU: 1500, InsidePrefixes: e.cfg.InsidePrefixes}
	e.mtu = 1500
	if ifi, err := net.InterfaceByName(e.cfg.OutsideIface); err == nil && ifi.MTU >= 576 {
		e.mtu = ifi.MTU
	}
	plan.MTU = e.mtu
	e.routerIP = ifaceAddr(e.cfg.InsideIface)
	plan.DNSReplace = e.pol.Replace()
	plan.HoldPorts = e.pol.InspectPorts()
	plan.DropFlows = e.pol.DropsFlows()
	if e.pol.Has(scenario.KindTLSMITM) {
		// One proxy per rogue CA: the rule's redirect picks the CA.
		for _, trusted := range []bool{false, true} {
			if !hasMITM(e.cfg.Rules, trusted) {
				continue
			}
			ln, err := net.Listen("tcp4", "0.0.0.0:0")
			if err != nil {
				return fmt.Errorf("censor: MITM proxy: %w", err)
			}
			e.lns = append(e.lns, ln)
			if trusted {
				plan.MITMTrustedPort = ln.Addr().(*net.TCPAddr).Port
				e.serve(ln, e.diverted("mitm", e.proxies.MITMTrusted))
			} else {
				plan.MITMPort = ln.Addr().(*net.TCPAddr).Port
				e.serve(ln, e.diverted("mitm", e.proxies.MITM))
			}
		}
	}
	if e.pol.Has(scenario.KindSTARTTLSStrip) {
		ln, err := net.Listen("tcp4", "0.0.0.0:0")
		if err != nil {
			return fmt.Errorf("censor: STARTTLS strip proxy: %w", err)
		}
		e.lns = append(e.lns, ln)
		plan.StripPort = ln.Addr().(*net.TCPAddr).Port
		e.serve(ln, e.diverted("starttls-strip", e.proxies.Strip))
	}
	if plan.HTTPAddrs = e.pol.HTTPAddrs(); len(plan.HTTPAddrs) > 0 {
		ln, err := net.Listen("tcp4", "0.0.0.0:0")
		if err != nil {
			return fmt.Errorf("censor: HTTP proxy: %w", err)
		}
		e.lns = append(e.lns, ln)
		plan.HTTPPort = ln.Addr().(*net.TCPAddr).Port
		e.serve(ln, e.diverted("http", e.proxies.HTTP))
	}
	if err := nftApply(ctx, ruleset(plan)); err != nil {
		return err
	}
	e.tableSet = true
	if e.pol.Has(scenario.KindDNSInject) || e.pol.Inspects() {
		raw, err := openRaw()
		if err != nil {
			return err
		}
		e.raw = raw
		prog, err := filterProgram(plan.HoldPorts)
		if err != nil {
			return fmt.Errorf("censor: BPF: %w", err)
		}
		s, err := openSniffer(e.cfg.InsideIface, prog)
		if err != nil {
			return err
		}
		e.sniff = s
	}
	if plan.DNSReplace {
		s, err := openSniffer(e.cfg.OutsideIface, dnsAnswerFilter())
		if err != nil {
			return err
		}
		e.outSniff = s
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.answerLoop(ctx)
		}()
	}
	if e.pol.Has(scenario.KindDNSInject) {
		// Queries sent from outside to inside addresses cross the censor
		// too (GFWatch's method relies on it): they are injected alike.
		prog, err := filterProgram(nil)
		if err != nil {
			return fmt.Errorf("censor: BPF: %w", err)
		}
		s, err := openSniffer(e.cfg.OutsideIface, prog)
		if err != nil {
			return err
		}
		e.inbound = s
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.inboundLoop(ctx)
		}()
	}
	e.logf("censor up: %d rules on %s -> %s", len(e.cfg.Rules), e.cfg.InsideIface, e.cfg.OutsideIface)
	return nil
}

func (e *engine) serve(ln net.Listener, h func(net.Conn)) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go h(c)
		}
	}()
}

func (e *engine) close() {
	if e.stop != nil {
		e.stop()
	}
	for _, ln := range e.lns {
		ln.Close()
	}
	e.wg.Wait()
	if e.sniff != nil {
		e.sniff.close()
	}
	if e.outSniff != nil {
		e.outSniff.close()
	}
	if e.inbound != nil {
		e.inbound.close()
	}
	if e.raw != nil {
		e.raw.close()
	}
	if e.tableSet {
		if err := nftDeleteTable(); err != nil {
			e.logf("cleanup: %v", err)
		}
	}
}

func (e *engine) loop(ctx context.Context) error {
	if e.sniff == nil {
		<-ctx.Done()
		return nil
	}
	buf := make([]byte, 1<<18)
	for ctx.Err() == nil {
		n, err := e.sniff.read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("censor: sniffer: %w", err)
		}
		if n == 0 {
			continue
		}
		e.handle(buf[:n])
	}
	return nil
}

func (e *engine) inside(a netip.Addr) bool {
	if len(e.cfg.InsidePrefixes) == 0 {
		return true
	}
	for _, p := range e.cfg.InsidePrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// handle processes one sniffed packet from the inside.
func (e *engine) handle(b []byte) {
	p, err := parseIPv4(b)
	if err != nil || !e.inside(p.Src) {
		return
	}
	switch p.Proto {
	case protoUDP:
		if p.DstPort == 53 && e.pol.Has(scenario.KindDNSInject) {
			e.handleDNS(p)
		}
	case protoTCP:
		if e.pol.Inspects() {
			e.handleTCP(b, p)
		}
	}
}

func (e *engine) handleDNS(p Packet) {
	q, ok := policy.ParseQuery(p.Payload)
	if !ok {
		return
	}
	name := q.Question[0].Name
	r := e.pol.DNS(q)
	if r == nil {
		return
	}
	resp, err := policy.ForgeAnswer(q, r.DNSInject)
	if err != nil {
		e.logf("dns-inject %s: %v", name, err)
		return
	}
	if !e.roll(r.P()) {
		e.logf("dns-inject %s spared (probability) %s:%d -> %s", name, p.Src, p.SrcPort, p.Dst)
		return
	}
	if r.DNSInject.Mode == scenario.ModeReplace && len(p.Payload) >= 2 {
		k := replKey{netip.AddrPortFrom(p.Src, p.SrcPort), p.Dst, binary.BigEndian.Uint16(p.Payload)}
		e.replMu.Lock()
		e.replaced[k] = time.Now().Add(10 * time.Second)
		e.replMu.Unlock()
	}
	pkt := buildUDP(p.Dst, 53, p.Src, p.SrcPort, 64, uint16(p.SrcPort^0x5a5a), resp)
	if err := e.raw.send(pkt, p.Src); err != nil {
		e.logf("dns-inject send: %v", err)
		return
	}
	e.logf("dns-inject %s %s %s:%d -> %s", strings.TrimSuffix(name, "."), r.DNSInject.Mode, p.Src, p.SrcPort, p.Dst)
}

func (e *engine) handleTCP(b []byte, p Packet) {
	k := flowKey{p.Src, p.Dst, p.SrcPort, p.DstPort}
	now := time.Now()
	if now.Sub(e.sweptAt) > 10*time.Second {
		for fk, st := range e.flows {
			if now.Sub(st.seen) > 2*time.Minute {
				delete(e.flows, fk)
			}
		}
		e.sweptAt = now
	}
	if p.Flags&(tcpSYN|tcpFIN|tcpRST) != 0 && len(p.Payload) == 0 {
		delete(e.flows, k)
		return
	}
	if len(p.Payload) == 0 {
		return
	}
	st, ok := e.flows[k]
	if !ok {
		st = &flowState{}
		e.flows[k] = st
	}
	st.seen = now
	if st.reset {
		return
	}
	held := st.held < 2 // the kernel holds the first two payload packets of a flow
	if !held {
		if !st.decided {
			st.decided = true
			e.decide(st, p, p.Payload, false)
		} else if m, _ := e.pol.Inspect(p.DstPort, p.Payload); m.Rule != nil && !st.exempt {
			e.resetFlow(st, p, false, m)
		}
		return
	}
	st.held++
	pkt := append([]byte(nil), b...)
	p, _ = parseIPv4(pkt) // let p.Payload alias the copy, not the read buffer
	if st.decided {
		// a later request on the same connection: inspect it, it is held
		if m, _ := e.pol.Inspect(p.DstPort, p.Payload); m.Rule != nil && !st.exempt {
			e.resetFlow(st, p, true, m)
			return
		}
		e.reinject(pkt, p)
		return
	}
	dup := len(st.pending) > 0 && st.pending[0].p.Seq == p.Seq
	if !dup {
		st.pending = append(st.pending, heldPacket{pkt, p})
	}
	var payload []byte
	for _, h := range st.pending {
		payload = append(payload, h.p.Payload...)
	}
	if m, complete := e.pol.Inspect(p.DstPort, payload); m.Rule != nil || complete || st.held == 2 {
		st.decided = true
		if m.Rule != nil && e.roll(m.Rule.P()) {
			e.resetFlow(st, st.pending[0].p, true, m)
			st.pending = nil
			return
		}
		if m.Rule != nil {
			st.exempt = true
		}
		for _, h := range st.pending {
			e.reinject(h.raw, h.p)
		}
		st.pending = nil
	}
	// otherwise wait for the second held packet (or the client's retransmission)
}

// decide handles the first payload packet of a flow the kernel did not hold
// (a flow already running when the censor started): on-path only.
func (e *engine) decide(st *flowState, p Packet, payload []byte, held bool) {
	if m, _ := e.pol.Inspect(p.DstPort, payload); m.Rule != nil {
		if e.roll(m.Rule.P()) {
			e.resetFlow(st, p, held, m)
		} else {
			st.exempt = true
		}
	}
}

// resetFlow resets the flow, or for a keyword-drop rule (or a dns-tcp rule
// with action drop) drops it from now on (the held packets are not
// re-injected either).
func (e *engine) resetFlow(st *flowState, p Packet, held bool, m policy.ResetMatch) {
	st.reset = true
	if m.Drop() {
		if err := nftDropFlow(netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort)); err != nil {
			e.logf("%s: %v", m.Rule.Kind, err)
		}
	} else {
		e.injectResets(p, held)
	}
	e.logf("%s %q in %s %s:%d -> %s:%d", m.Label(), m.Keyword, m.Where, p.Src, p.SrcPort, p.Dst, p.DstPort)
}

// injectResets sends RSTs to both ends of the connection p belongs to. When
// held, p never reached the server, so the server expects p.Seq.
func (e *engine) injectResets(p Packet, held bool) {
	seqToServer := p.Seq
	if !held {
		seqToServer = p.Seq + uint32(len(p.Payload))
	}
	toServer := buildTCP(p.Src, p.SrcPort, p.Dst, p.DstPort, seqToServer, p.Ack, tcpRST|tcpACK, 0, 64, nil)
	toClient := buildTCP(p.Dst, p.DstPort, p.Src, p.SrcPort, p.Ack, p.Seq+uint32(len(p.Payload)), tcpRST|tcpACK, 0, 64, nil)
	if err := e.raw.send(toClient, p.Src); err != nil {
		e.logf("reset send: %v", err)
	}
	if err := e.raw.send(toServer, p.Dst); err != nil {
		e.logf("reset send: %v", err)
	}
}

// reinject forwards a held packet as the router would have, splitting a GSO
// packet into segments that fit the MTU.
func (e *engine) reinject(b []byte, p Packet) {
	segs, err := segmentTCP(b, e.mtu)
	if err != nil {
		e.logf("reinject: %v", err)
		return
	}
	for _, s := range segs {
		if len(s) > 8 && s[8] <= 1 {
			e.timeExceeded(s, p)
			return
		}
		if !refreshForForward(s) {
			return
		}
		if err := e.raw.send(s, p.Dst); err != nil {
			e.logf("reinject: %v", err)
			return
		}
	}
}

// alwaysReplaced reports whether p, a DNS answer toward the inside, answers
// a name that a replace rule without probability forges: its query was
// (or is about to be) replaced whatever the inside sniffer's lag, so the
// genuine answer is dropped even when it arrives before the query's key
// is recorded (a loaded censor can read the query after the answer came).
func (e *engine) alwaysReplaced(p Packet) bool {
	if !e.inside(p.Dst) {
		return false
	}
	m := new(dns.Msg)
	if m.Unpack(p.Payload) != nil || !m.Response {
		return false
	}
	r := e.pol.DNS(m) // the rule handleDNS applied to the query
	return r != nil && r.DNSInject.Mode == scenario.ModeReplace && r.P() >= 1
}

// timeExceeded answers a held packet whose TTL ends at this router as the
// router would have: with an ICMP time exceeded from its inside address.
func (e *engine) timeExceeded(b []byte, p Packet) {
	if !e.routerIP.IsValid() {
		return
	}
	if icmp, ok := buildTimeExceeded(e.routerIP, b); ok {
		if err := e.raw.send(icmp, p.Src); err != nil {
			e.logf("time exceeded: %v", err)
		}
	}
}

// ifaceAddr is the first IPv4 address of an interface (invalid when none).
func ifaceAddr(name string) netip.Addr {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return netip.Addr{}
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}
	}
	for _, a := range addrs {
		if pfx, err := netip.ParsePrefix(a.String()); err == nil && pfx.Addr().Is4() {
			return pfx.Addr()
		}
	}
	return netip.Addr{}
}

// inboundLoop injects answers to the DNS queries that come from the
// internet towards inside addresses.
func (e *engine) inboundLoop(ctx context.Context) {
	buf := make([]byte, 1<<16)
	for ctx.Err() == nil {
		n, err := e.inbound.read(buf)
		if err != nil {
			if ctx.Err() == nil {
				e.logf("inbound sniffer: %v", err)
			}
			return
		}
		if n == 0 {
			continue
		}
		p, err := parseIPv4(buf[:n])
		if err != nil || p.Proto != protoUDP || p.DstPort != 53 || !e.inside(p.Dst) || e.inside(p.Src) {
			continue
		}
		e.handleDNS(p)
	}
}

// answerLoop re-injects the DNS answers held by the kernel in replace mode,
// except the genuine answers to replaced queries.
func (e *engine) answerLoop(ctx context.Context) {
	buf := make([]byte, 1<<16)
	swept := time.Now()
	for ctx.Err() == nil {
		n, err := e.outSniff.read(buf)
		if err != nil {
			if ctx.Err() == nil {
				e.logf("answer sniffer: %v", err)
			}
			return
		}
		if n == 0 {
			continue
		}
		p, err := parseIPv4(buf[:n])
		if err != nil || p.Proto != protoUDP || p.SrcPort != 53 || len(p.Payload) < 2 {
			continue
		}
		k := replKey{netip.AddrPortFrom(p.Dst, p.DstPort), p.Src, binary.BigEndian.Uint16(p.Payload)}
		now := time.Now()
		e.replMu.Lock()
		until, drop := e.replaced[k]
		if drop {
			delete(e.replaced, k)
			drop = now.Before(until)
		} else {
			drop = e.alwaysReplaced(p)
		}
		if now.Sub(swept) > 10*time.Second {
			for k, until := range e.replaced {
				if now.After(until) {
					delete(e.replaced, k)
				}
			}
			swept = now
		}
		e.replMu.Unlock()
		if drop {
			e.logf("dns-inject replace: dropped the genuine answer %s:53 -> %s", p.Src, k.client)
			continue
		}
		pkt := buf[:n]
		if refreshForForward(pkt) {
			if err := e.raw.send(pkt, p.Dst); err != nil {
				e.logf("answer reinject: %v", err)
			}
		}
	}
}
