// Package policy holds the lab censor's decisions as pure functions of a
// scenario's rules: which DNS answer to forge, which request or SNI to
// reset, which DNS-over-TCP query to cut, which flows to intercept with the
// rogue CA, strip of STARTTLS, answer with a redirect or block page,
// carry through a transparent proxy (unchanged or with a script injected),
// throttle or drop, and which QUIC datagrams to drop. The kernel censor
// (internal/lab/censor) and the in-process emulated network
// (internal/lab/emunet) both apply these decisions, so that a scenario means
// the same on both. Random choices (a rule's probability) are the caller's:
// every decision that depends on one takes a Roll.
package policy

import (
	"fmt"
	"html"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"slices"
	"sync"

	"github.com/firewatch/firewatch/internal/lab/scenario"
	"github.com/miekg/dns"
)

// Roll draws whether a rule with probability p applies (p is 0..1).
type Roll func(p float64) bool

// Always is the Roll of a censor without chance: every rule applies.
func Always(float64) bool { return true }

// Policy is the censor of one scenario.
type Policy struct {
	hosts                           []scenario.Host
	byIP                            map[netip.Addr]*scenario.Host
	dns, resets, mitm, strip, httpR []*scenario.Rule
	drop, throttle, quic            []*scenario.Rule
	dnsTCP                          []*scenario.Rule
}

// New sorts the rules by technique. A rule whose parameters are missing is
// an error.
func New(rules []scenario.Rule, hosts []scenario.Host) (*Policy, error) {
	p := &Policy{hosts: hosts, byIP: map[netip.Addr]*scenario.Host{}}
	for i := range hosts {
		for _, a := range hosts[i].IPs() {
			p.byIP[a] = &hosts[i]
		}
	}
	for i := range rules {
		r := &rules[i]
		switch {
		case r.DNSInject != nil:
			p.dns = append(p.dns, r)
		case r.Reset != nil, r.KeywordDrop != nil:
			p.resets = append(p.resets, r)
		case r.TLSMITM != nil:
			p.mitm = append(p.mitm, r)
		case r.STARTTLSStrip != nil:
			p.strip = append(p.strip, r)
		case r.HTTPRedirect != nil, r.HTTPBlockpage != nil, r.HTTPProxy != nil:
			p.httpR = append(p.httpR, r)
		case r.Drop != nil:
			p.drop = append(p.drop, r)
		case r.Throttle != nil:
			p.throttle = append(p.throttle, r)
		case r.QUICBlock != nil:
			p.quic = append(p.quic, r)
		case r.DNSTCP != nil:
			p.dnsTCP = append(p.dnsTCP, r)
		default:
			return nil, fmt.Errorf("policy: rule of kind %q has no parameters", r.Kind)
		}
	}
	return p, nil
}

// Has reports whether the policy has rules of these kinds.
func (p *Policy) Has(kind string) bool {
	switch kind {
	case scenario.KindDNSInject:
		return len(p.dns) > 0
	case scenario.KindReset:
		return slices.ContainsFunc(p.resets, func(r *scenario.Rule) bool { return r.Reset != nil })
	case scenario.KindKeywordDrop:
		return slices.ContainsFunc(p.resets, func(r *scenario.Rule) bool { return r.KeywordDrop != nil })
	case scenario.KindTLSMITM:
		return len(p.mitm) > 0
	case scenario.KindSTARTTLSStrip:
		return len(p.strip) > 0
	case scenario.KindHTTPRedirect, scenario.KindHTTPBlockpage, scenario.KindHTTPProxy:
		return slices.ContainsFunc(p.httpR, func(r *scenario.Rule) bool { return r.Kind == kind })
	case scenario.KindDrop:
		return len(p.drop) > 0
	case scenario.KindThrottle:
		return len(p.throttle) > 0
	case scenario.KindQUICBlock:
		return len(p.quic) > 0
	case scenario.KindDNSTCP:
		return len(p.dnsTCP) > 0
	}
	return false
}

// HostNames returns the scenario names of the host at a (nil when none).
func (p *Policy) HostNames(a netip.Addr) []string {
	if h, ok := p.byIP[a.Unmap()]; ok {
		return h.Names
	}
	return nil
}

// DNS returns the first dns-inject rule for the query's name, if any. The
// caller rolls its probability (a spared query is not looked at again).
func (p *Policy) DNS(q *dns.Msg) *scenario.Rule {
	if len(q.Question) != 1 {
		return nil
	}
	for _, r := range p.dns {
		if r.DNSInject.Matches(q.Question[0].Name) {
			return r
		}
	}
	return nil
}

// Replace reports whether some dns-inject rule replaces (drops) the genuine
// answer: the censor is then in-path for DNS answers.
func (p *Policy) Replace() bool {
	return slices.ContainsFunc(p.dns, func(r *scenario.Rule) bool { return r.DNSInject.Mode == scenario.ModeReplace })
}

// ResetPorts are the TCP ports whose streams the censor inspects for reset rules.
var ResetPorts = []uint16{80, 443}

// ResetMatch is a reset, keyword-drop or dns-tcp rule that matched the
// start of a stream.
type ResetMatch struct {
	Rule    *scenario.Rule
	Keyword string // the keyword, or for dns-tcp the query's name
	Where   string // "http", "sni" or "dns"
}

// Drop reports whether the matched rule drops the flow silently
// (keyword-drop, dns-tcp with action drop) rather than resetting it.
func (m ResetMatch) Drop() bool {
	return m.Rule != nil && (m.Rule.KeywordDrop != nil || m.Rule.DNSTCP != nil && m.Rule.DNSTCP.Action == scenario.ActionDrop)
}

// Label names the match's technique in logs: the rule's kind, with the
// action of a dns-tcp rule ("dns-tcp drop").
func (m ResetMatch) Label() string {
	if m.Rule == nil {
		return ""
	}
	if m.Rule.DNSTCP != nil {
		return m.Rule.Kind + " " + m.Rule.DNSTCP.Action
	}
	return m.Rule.Kind
}

// Inspects reports whether reset, keyword-drop or dns-tcp rules look at streams.
func (p *Policy) Inspects() bool { return len(p.resets) > 0 || len(p.dnsTCP) > 0 }

// InspectPorts returns the TCP ports whose streams the censor inspects:
// ResetPorts for reset and keyword-drop rules, DNSTCPPort for dns-tcp rules.
func (p *Policy) InspectPorts() []uint16 {
	var ports []uint16
	if len(p.resets) > 0 {
		ports = append(ports, ResetPorts...)
	}
	if len(p.dnsTCP) > 0 {
		ports = append(ports, DNSTCPPort)
	}
	return ports
}

// DropsFlows reports whether some rule silences flows (keyword-drop, or
// dns-tcp with action drop).
func (p *Policy) DropsFlows() bool {
	return p.Has(scenario.KindKeywordDrop) ||
		slices.ContainsFunc(p.dnsTCP, func(r *scenario.Rule) bool { return r.DNSTCP.Action == scenario.ActionDrop })
}

// Inspect inspects the start of a TCP stream to port with the rules that
// watch it: DNS queries on DNSTCPPort, HTTP requests and ClientHellos on
// ResetPorts (see DNSTCP and Reset). Other ports match nothing.
func (p *Policy) Inspect(port uint16, payload []byte) (ResetMatch, bool) {
	switch {
	case port == DNSTCPPort:
		return p.DNSTCP(payload)
	case slices.Contains(ResetPorts, port):
		return p.Reset(payload)
	}
	return ResetMatch{}, true
}

// keywordsOf returns the keywords and places of a reset or keyword-drop rule.
func keywordsOf(r *scenario.Rule) (kws []string, has func(string) bool) {
	if r.KeywordDrop != nil {
		return r.KeywordDrop.Keywords, r.KeywordDrop.Has
	}
	return r.Reset.Keywords, r.Reset.Has
}

// Reset inspects the start of a TCP stream (a plain HTTP request or a TLS
// ClientHello) and returns the reset or keyword-drop rule it matches, if any
// (the first in the scenario's order), and whether
// the request line and headers or the ClientHello were complete (more bytes
// cannot change the answer). The caller rolls the rule's probability once
// per connection.
func (p *Policy) Reset(payload []byte) (ResetMatch, bool) {
	var line, host, sni string
	isHTTP, isTLS, complete := false, false, true
	if l, h, ok := httpRequestParts(payload); ok {
		line, host, isHTTP = l, h, true
		complete = httpHeadComplete(payload)
	} else if s, st := sniOf(payload); st != streamOther {
		sni, isTLS, complete = s, true, st == streamDone
	} else if mayBecomeHTTP(payload) {
		return ResetMatch{}, false
	}
	if !isHTTP && !isTLS {
		return ResetMatch{}, true
	}
	for _, r := range p.resets {
		kws, has := keywordsOf(r)
		if isHTTP && has("http") {
			if kw, ok := matchKeyword(kws, line, host); ok {
				return ResetMatch{r, kw, "http"}, true
			}
		}
		if isTLS && has("sni") {
			if kw, ok := matchKeyword(kws, sni); ok {
				return ResetMatch{r, kw, "sni"}, true
			}
		}
	}
	return ResetMatch{}, complete
}

// ResetHTTP returns the reset rule a parsed HTTP request matches (request
// line and Host, lower case), rolling each matching rule's probability: the
// HTTP proxy's check of the requests it reads.
func (p *Policy) ResetHTTP(line, host string, roll Roll) (ResetMatch, bool) {
	for _, r := range p.resets {
		if r.Reset != nil && r.Reset.Has("http") {
			if kw, ok := matchKeyword(r.Reset.Keywords, line, host); ok && roll(r.P()) {
				return ResetMatch{r, kw, "http"}, true
			}
		}
	}
	return ResetMatch{}, false
}

// Diversion is where the censor sends a new inside flow instead of the
// network: to its TLS interception, STARTTLS stripping or HTTP proxy.
type Diversion int

// Diversions.
const (
	Forward Diversion = iota // not diverted: the flow goes on (drop and throttle may apply)
	MITM                     // tls-mitm: intercepted with the rogue CA
	Strip                    // starttls-strip
	HTTP                     // the HTTP proxy of http-redirect, http-blockpage and http-proxy
)

// Divert decides where a new inside TCP flow to dst goes, rolling the
// probability of each rule that matches, in the scenario's order (MITM
// rules, then strip rules, then the HTTP proxy, as the kernel's nat chain).
func (p *Policy) Divert(dst netip.AddrPort, roll Roll) (Diversion, *scenario.Rule) {
	a, port := dst.Addr().Unmap(), dst.Port()
	for _, r := range p.mitm {
		if slices.Contains(r.TLSMITM.IPs, a) && slices.Contains(r.TLSMITM.Ports, port) && roll(r.P()) {
			return MITM, r
		}
	}
	for _, r := range p.strip {
		if slices.Contains(r.STARTTLSStrip.IPs, a) && slices.Contains(r.STARTTLSStrip.Ports, port) && roll(r.P()) {
			return Strip, r
		}
	}
	if port == 80 && slices.Contains(p.HTTPAddrs(), a) {
		return HTTP, nil
	}
	return Forward, nil
}

// httpHosts returns the hosts an http-redirect, http-blockpage or
// http-proxy rule names.
func httpHosts(r *scenario.Rule) []string {
	switch {
	case r.HTTPRedirect != nil:
		return r.HTTPRedirect.Hosts
	case r.HTTPBlockpage != nil:
		return r.HTTPBlockpage.Hosts
	case r.HTTPProxy != nil:
		return r.HTTPProxy.Hosts
	}
	return nil
}

// HTTPAddrs returns the addresses whose plain HTTP (port 80) goes to the
// censor's HTTP proxy: those of the hosts named by http-redirect,
// http-blockpage and http-proxy rules.
func (p *Policy) HTTPAddrs() []netip.Addr {
	var out []netip.Addr
	for _, r := range p.httpR {
		for _, h := range httpHosts(r) {
			for i := range p.hosts {
				if scenario.MatchesAny(p.hosts[i].Names, h) && !slices.Contains(out, p.hosts[i].IP) {
					out = append(out, p.hosts[i].IP)
				}
			}
		}
	}
	return out
}

// AnswerHTTP returns the response the HTTP proxy sends for a request to
// host (lower case, no port) and the rule behind it, rolling each matching
// rule's probability; nil when the request goes on to the server.
func (p *Policy) AnswerHTTP(host string, roll Roll) ([]byte, *scenario.Rule) {
	for _, r := range p.httpR {
		switch {
		case r.HTTPRedirect != nil && slices.Contains(r.HTTPRedirect.Hosts, host):
			if !roll(r.P()) {
				continue
			}
			return fmt.Appendf(nil, "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", r.HTTPRedirect.To), r
		case r.HTTPBlockpage != nil && slices.Contains(r.HTTPBlockpage.Hosts, host):
			if !roll(r.P()) {
				continue
			}
			bp := r.HTTPBlockpage
			body := fmt.Sprintf("<!DOCTYPE html>\n<html><head><title>%s</title></head><body><h1>%s</h1><p>%s</p></body></html>\n",
				html.EscapeString(bp.Title), html.EscapeString(bp.Title), html.EscapeString(bp.Body))
			return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
				bp.Status, http.StatusText(bp.Status), len(body), body), r
		}
	}
	return nil, nil
}

// ProxyHTTP returns the http-proxy rule whose proxy carries a request to
// host (lower case, no port), rolling each matching rule's probability; nil
// when the request is not proxied.
func (p *Policy) ProxyHTTP(host string, roll Roll) *scenario.Rule {
	for _, r := range p.httpR {
		if r.HTTPProxy != nil && slices.Contains(r.HTTPProxy.Hosts, host) && roll(r.P()) {
			return r
		}
	}
	return nil
}

// Drop returns the drop rule that blackholes a new flow to dst (any
// protocol when the rule names no ports), rolling each matching rule's
// probability once per flow.
func (p *Policy) Drop(dst netip.AddrPort, roll Roll) *scenario.Rule {
	a := dst.Addr().Unmap()
	for _, r := range p.drop {
		if slices.Contains(r.Drop.IPs, a) && (len(r.Drop.Ports) == 0 || slices.Contains(r.Drop.Ports, dst.Port())) && roll(r.P()) {
			return r
		}
	}
	return nil
}

// Throttle returns the throttle rule that limits a new flow to dst, rolling
// each matching rule's probability once per flow.
func (p *Policy) Throttle(dst netip.Addr, roll Roll) *scenario.Rule {
	for _, r := range p.throttle {
		if slices.Contains(r.Throttle.IPs, dst.Unmap()) && roll(r.P()) {
			return r
		}
	}
	return nil
}

// Seeded returns a Roll drawn from a PCG seeded with seed, safe for
// concurrent use: the censor's chance, reproducible by its seed.
func Seeded(seed int64) Roll {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6669726577617463))
	return func(p float64) bool {
		if p >= 1 {
			return true
		}
		mu.Lock()
		defer mu.Unlock()
		return rng.Float64() < p
	}
}

// QUIC returns the quic-block rule that drops a UDP datagram to dst, rolling
// each matching rule's probability (per datagram: UDP has no flow).
func (p *Policy) QUIC(dst netip.AddrPort, roll Roll) *scenario.Rule {
	for _, r := range p.quic {
		if r.QUICBlock.Matches(dst) && roll(r.P()) {
			return r
		}
	}
	return nil
}
