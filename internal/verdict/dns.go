package verdict

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
)

// hostDNS is the DNS decision for one host.
type hostDNS struct {
	in, ctl []netip.Addr
	// genuine maps the inside addresses judged genuine to the reason.
	genuine map[netip.Addr]string
	// flagged is true when the host's DNS was interfered with: what the
	// inside then saw at the addresses it got is a consequence of DNS, not
	// a method of its own.
	flagged bool
}

// isGenuine reports whether ip may be used to judge TCP, TLS and HTTP.
func (h *hostDNS) isGenuine(ip netip.Addr) bool {
	if h == nil {
		return true
	}
	if containsAddr(h.ctl, ip) {
		return true
	}
	_, ok := h.genuine[ip]
	return ok
}

// responseKey identifies a response's content (rcode and sorted answers).
func responseKey(r *model.DNSResponse) string {
	var vs []string
	for _, a := range r.Answers {
		vs = append(vs, a.Type+" "+a.Value)
	}
	sort.Strings(vs)
	return r.Rcode + "|" + strings.Join(vs, ",")
}

func describeResponse(r *model.DNSResponse) string {
	var vs []string
	for _, a := range r.Answers {
		if a.Type == "A" || a.Type == "AAAA" {
			vs = append(vs, a.Value)
		}
	}
	what := r.Rcode
	if len(vs) > 0 {
		what = strings.Join(vs, ", ")
	}
	return fmt.Sprintf("%s after %.0f ms", what, r.ArrivalMS)
}

// checkInjection finds injected DNS responses: more than one differing
// response to one query, or (with a control) an answer from a resolver
// address that refuses DNS when the control asks it. It returns the injected
// steps.
func (a *analysis) checkInjection() map[*model.Step]bool {
	inj := map[*model.Step]bool{}
	refused := map[string]bool{} // resolvers already named as running no DNS server
	steps := append(a.in.steps(model.OpResolve), a.in.steps(model.OpDNSRoundTrip)...)
	for _, s := range steps {
		if s.DNS == nil || len(s.DNS.Responses) == 0 {
			continue
		}
		rs := s.DNS.Responses
		distinct := map[string]bool{}
		for i := range rs {
			distinct[responseKey(&rs[i])] = true
		}
		if len(rs) > 1 && len(distinct) > 1 {
			var parts []string
			for i := range rs {
				parts = append(parts, describeResponse(&rs[i]))
			}
			inj[s] = true
			a.add(model.MethodDNSInjected, fmt.Sprintf("%s: %s to one %s query to %s: %s",
				s.Hostname, plural(len(rs), "response", "responses"), s.DNS.QueryType, s.DNS.Resolver, strings.Join(parts, ", then ")))
			continue
		}
		if a.ctl == nil {
			continue
		}
		for _, c := range a.ctl.steps(model.OpDNSRoundTrip) {
			if c.DNS != nil && c.DNS.Resolver == s.DNS.Resolver && len(c.DNS.Responses) == 0 &&
				failOf(c) == failure.ConnectionRefused {
				inj[s] = true
				if refused[s.DNS.Resolver] {
					break
				}
				refused[s.DNS.Resolver] = true
				a.add(model.MethodDNSInjected, fmt.Sprintf("%s answered the %s query for %s inside (%s), but from outside that address refuses DNS (%s): no DNS server runs there",
					s.DNS.Resolver, s.DNS.QueryType, s.Hostname, describeResponse(&rs[0]), failOf(c)))
				break
			}
		}
	}
	return inj
}

// checkDNSAlone is the DNS check without a control: injection, and bogons
// for the target's host and the hosts its redirect chains ended at.
func (a *analysis) checkDNSAlone() {
	a.checkInjection()
	for _, h := range a.judgedHosts() {
		if b := a.in.bogons(h); len(b) > 0 {
			a.add(model.MethodDNSBogon, fmt.Sprintf("%s → %s inside: reserved, private or unroutable address space", h, join(b)))
		}
	}
}

// checkDNS decides the target host's DNS against the control's. The order:
// bogons and injection are findings by themselves; then a missing answer
// (NXDOMAIN, empty, timeout) while the control resolves; then, for the
// addresses returned, the decision order: control address match → valid
// certificate for the name at the address → block-page signature → ASN match.
func (a *analysis) checkDNS() {
	host := a.host
	inj := a.checkInjection()
	steps := a.in.dnsSteps(host)
	if len(steps) == 0 {
		return
	}
	hd := &hostDNS{in: a.in.addrs(host, inj), ctl: a.ctl.addrs(host, nil), genuine: map[netip.Addr]string{}}
	a.dns[host] = hd
	for _, s := range steps {
		hd.flagged = hd.flagged || inj[s]
	}
	if b := a.in.bogons(host); len(b) > 0 {
		if cb := a.ctl.bogons(host); len(cb) == 0 {
			hd.flagged = true
			a.add(model.MethodDNSBogon, fmt.Sprintf("%s → %s inside, %s outside: %s is reserved, private or unroutable address space",
				host, join(b), addrStrings(hd.ctl), join(b)))
		}
	}
	if len(hd.ctl) == 0 {
		a.checkGhost(host, hd)
		return // otherwise the control could not resolve it: nothing to compare with
	}
	if len(hd.in) == 0 {
		if hd.flagged {
			return
		}
		var clean []*model.Step
		for _, s := range steps {
			if !inj[s] {
				clean = append(clean, s)
			}
		}
		a.missingAnswer(host, clean, hd)
		return
	}
	a.consistency(host, hd)
}

// checkGhost finds forged answers for a name that does not exist: every
// one of the control's own queries for host got NXDOMAIN, yet the inside
// got addresses (not from responses already proven injected) and none of
// them presented a verified certificate for host inside. Censors answer
// such "ghost" names from their lists as they do existing ones; a name
// that exists inside only (split-horizon DNS) would prove itself with a
// certificate.
func (a *analysis) checkGhost(host string, hd *hostDNS) {
	if len(hd.in) == 0 || hd.flagged || !a.ctl.allNXDomain(host) {
		return
	}
	for _, s := range a.in.steps(model.OpTLSHandshake) {
		ip, _, ok := stepAddr(s)
		if ok && containsAddr(hd.in, ip) && sni(s) == host && tlsCompleted(s) && s.TLS.Verified {
			return
		}
	}
	hd.flagged = true
	a.ghost = true
	a.add(model.MethodDNSInconsistent, fmt.Sprintf("%s → %s inside, but outside it does not exist (NXDOMAIN from %s): the inside answer is forged",
		host, addrStrings(hd.in), resolversOf(a.ctl.dnsSteps(host))))
}

// missingAnswer names why the inside got no address while the control did:
// NXDOMAIN or an empty answer, else queries reset (DNS over TCP cut by an
// RST; the others, if any, timed out), else every query timed out.
func (a *analysis) missingAnswer(host string, steps []*model.Step, hd *hostDNS) {
	outside := fmt.Sprintf("outside it resolves to %s", addrStrings(hd.ctl))
	for _, s := range steps {
		nx := failOf(s) == failure.DNSNXDomain
		for _, r := range s.DNS.Responses {
			nx = nx || r.Rcode == "NXDOMAIN"
		}
		if nx {
			hd.flagged = true
			a.add(model.MethodDNSNXDomain, fmt.Sprintf("%s does not exist inside (NXDOMAIN from %s); %s", host, s.DNS.Resolver, outside))
			return
		}
	}
	for _, s := range steps {
		if failOf(s) == failure.DNSNoAnswer {
			hd.flagged = true
			a.add(model.MethodDNSNXDomain, fmt.Sprintf("%s has no address inside (an empty answer from %s); %s", host, s.DNS.Resolver, outside))
			return
		}
	}
	var reset []*model.Step
	timeouts := 0
	for _, s := range steps {
		if len(s.DNS.Responses) > 0 {
			continue
		}
		switch failOf(s) {
		case failure.GenericTimeout:
			timeouts++
		case failure.ConnectionReset:
			reset = append(reset, s)
		}
	}
	switch {
	case len(reset) > 0 && len(reset)+timeouts == len(steps):
		hd.flagged = true
		a.add(model.MethodDNSReset, fmt.Sprintf("the queries for %s inside to %s are reset (%s)%s; %s",
			host, resolversOf(reset), failure.ConnectionReset, timedOutToo(timeouts), outside))
	case timeouts > 0 && timeouts == len(steps):
		hd.flagged = true
		a.add(model.MethodDNSTimeout, fmt.Sprintf("no answer for %s inside from %s within the timeout; %s", host, resolversOf(steps), outside))
	}
}

// timedOutToo names the queries that timed out beside reset ones.
func timedOutToo(n int) string {
	if n == 0 {
		return ""
	}
	return ", " + plural(n, "other query", "other queries") + " timed out"
}

func resolversOf(steps []*model.Step) string {
	var rs []string
	for _, s := range steps {
		if !containsStr(rs, s.DNS.Resolver) {
			rs = append(rs, s.DNS.Resolver)
		}
	}
	return join(rs)
}

// consistency applies the decision order to the inside addresses.
func (a *analysis) consistency(host string, hd *hostDNS) {
	var pending []netip.Addr
	for _, ip := range hd.in {
		switch {
		case containsAddr(hd.ctl, ip):
			hd.genuine[ip] = "also the control's answer"
		case a.validCert(host, ip):
			hd.genuine[ip] = "presents a valid certificate for " + host
		default:
			pending = append(pending, ip)
		}
	}
	if len(hd.genuine) > 0 {
		return
	}
	line := fmt.Sprintf("%s → %s inside, %s outside", host, addrStrings(hd.in), addrStrings(hd.ctl))
	for _, ip := range pending {
		line += "; " + ip.String() + " " + a.certDesc(host, ip)
	}
	lines := []string{line}
	if bp := a.blockpageAt(host, pending); bp != "" {
		hd.flagged = true
		a.add(model.MethodDNSInconsistent, append(lines, bp)...)
		return
	}
	asnLine, same := a.asnMatch(hd, pending)
	if same {
		return
	}
	if ip, ok := a.samePage(host, pending); ok {
		// Last: the address served exactly the control's page (an
		// HTTP-only edge the other steps cannot vouch for).
		hd.genuine[ip] = "serves the same page as outside"
		return
	}
	if asnLine != "" {
		lines = append(lines, asnLine)
	}
	hd.flagged = true
	a.add(model.MethodDNSInconsistent, lines...)
}

// samePage reports whether the inside got, from one of addrs, a page with
// the same body (SHA-256) as the control's page for the same URL.
func (a *analysis) samePage(host string, addrs []netip.Addr) (netip.Addr, bool) {
	for _, s := range a.in.steps(model.OpHTTPRoundTrip) {
		ip, _, ok := stepAddr(s)
		if !ok || s.Failure != nil || s.HTTP == nil || s.HTTP.BodySHA256 == "" || !containsAddr(addrs, ip) {
			continue
		}
		for _, c := range a.ctl.steps(model.OpHTTPRoundTrip) {
			if c.Failure == nil && c.HTTP != nil && c.HTTP.URL == s.HTTP.URL && c.HTTP.BodySHA256 == s.HTTP.BodySHA256 {
				return ip, true
			}
		}
	}
	return netip.Addr{}, false
}

// asnMatch is the fourth step of the decision order: an inside address in the
// same AS as one of the control's is taken as genuine (a CDN).
func (a *analysis) asnMatch(hd *hostDNS, pending []netip.Addr) (string, bool) {
	if a.opts.Geo == nil {
		return "ASN check skipped: no ASN database (--asn-db)", false
	}
	ctlAS := map[int]string{}
	for _, ip := range hd.ctl {
		if info := a.opts.Geo.Lookup(ip); info.Known() {
			ctlAS[info.ASN] = info.Network
		}
	}
	var inDesc []string
	known := false
	for _, ip := range pending {
		info := a.opts.Geo.Lookup(ip)
		if !info.Known() {
			inDesc = append(inDesc, ip.String()+" in no known AS")
			continue
		}
		known = true
		if _, ok := ctlAS[info.ASN]; ok {
			hd.genuine[ip] = fmt.Sprintf("in AS%d (%s), the network of the control's answer", info.ASN, info.Network)
			return "", true
		}
		inDesc = append(inDesc, fmt.Sprintf("%s in AS%d (%s)", ip, info.ASN, info.Network))
	}
	if !known || len(ctlAS) == 0 {
		return "ASN check skipped: the addresses are not in the ASN database", false
	}
	var outDesc []string
	for asn, name := range ctlAS {
		outDesc = append(outDesc, fmt.Sprintf("AS%d (%s)", asn, name))
	}
	sort.Strings(outDesc)
	return fmt.Sprintf("different networks: %s; the control's answers in %s", strings.Join(inDesc, ", "), strings.Join(outDesc, ", ")), false
}

// ctlOwnAddrs returns the control's own addresses for host.
func (a *analysis) ctlOwnAddrs(host string) []netip.Addr { return a.ctl.addrs(host, nil) }

// ctlRoots returns the roots the control's genuine chains for host verify to.
func (a *analysis) ctlRoots(host string, port int) map[string]string {
	roots := map[string]string{}
	own := a.ctlOwnAddrs(host)
	for _, s := range a.ctl.steps(model.OpTLSHandshake) {
		ip, p, ok := stepAddr(s)
		if sni(s) != host || !tlsCompleted(s) || !s.TLS.Verified || s.TLS.RootSHA256 == "" {
			continue
		}
		if ok && len(own) > 0 && !containsAddr(own, ip) {
			continue
		}
		if port != 0 && ok && p != port {
			continue
		}
		roots[s.TLS.RootSHA256] = s.TLS.RootSubject
	}
	return roots
}

// validCert reports whether ip presented, to the control or inside, a chain
// that verifies for host to one of the roots of the control's own chains.
func (a *analysis) validCert(host string, ip netip.Addr) bool {
	roots := a.ctlRoots(host, 0)
	for _, v := range []*view{a.ctl, a.in} {
		for _, s := range v.steps(model.OpTLSHandshake) {
			sip, _, ok := stepAddr(s)
			if !ok || sip != ip || sni(s) != host || !tlsCompleted(s) || !s.TLS.Verified {
				continue
			}
			if _, ok := roots[s.TLS.RootSHA256]; ok || len(roots) == 0 {
				return true
			}
		}
	}
	return false
}

// certDesc says what ip presented for host, preferring the control's view.
func (a *analysis) certDesc(host string, ip netip.Addr) string {
	var failed string
	for _, v := range []*view{a.ctl, a.in} {
		for _, s := range v.steps(model.OpTLSHandshake) {
			sip, _, ok := stepAddr(s)
			if !ok || sip != ip || sni(s) != host {
				continue
			}
			if !tlsCompleted(s) {
				if failed == "" {
					failed = failOf(s)
				}
				continue
			}
			names := leafNames(&s.TLS.Chain[0])
			if !claims(names, host) {
				return "presents a certificate for " + join(names)
			}
			if !s.TLS.Verified {
				ve := "not verified"
				if s.TLS.VerifyError != nil {
					ve = *s.TLS.VerifyError
				}
				return fmt.Sprintf("presents a certificate for %s that does not verify (%s)", host, ve)
			}
			return fmt.Sprintf("presents a certificate for %s from another CA (%s)", host, s.TLS.RootSubject)
		}
	}
	if failed != "" {
		return fmt.Sprintf("completes no TLS handshake for %s (%s)", host, failed)
	}
	return "was not checked with TLS"
}

// leafNames returns the names a certificate is for: its SANs, or its CN.
func leafNames(c *model.Certificate) []string {
	if len(c.SANs) > 0 {
		return c.SANs
	}
	for _, part := range strings.Split(c.Subject, ",") {
		if cn, ok := strings.CutPrefix(strings.TrimSpace(part), "CN="); ok {
			return []string{cn}
		}
	}
	return []string{c.Subject}
}

// claims reports whether one of names covers host (wildcards included).
func claims(names []string, host string) bool {
	for _, n := range names {
		n = normHost(n)
		if n == host {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			if i := strings.IndexByte(host, '.'); i > 0 && host[i+1:] == rest {
				return true
			}
		}
	}
	return false
}
