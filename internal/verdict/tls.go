package verdict

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
)

// judged reports whether an inside step at ip counts for the target host: ip
// is one of the host's inside addresses and genuine (or the host was not
// resolved by name, as for an IP literal).
func (a *analysis) judged(ip netip.Addr) bool {
	hd := a.dns[a.host]
	if hd == nil {
		return true
	}
	if !containsAddr(hd.in, ip) && !containsAddr(hd.ctl, ip) {
		return false
	}
	return hd.isGenuine(ip)
}

// tcpBlocked reports whether TCP was found blocked on port, so that the TLS
// and HTTP failures that follow are not named again.
func (a *analysis) tcpBlocked(port int) bool { return a.blocked[port] }

// checkTCP: connecting to the genuine addresses fails inside only.
func (a *analysis) checkTCP() {
	type obs struct {
		ok    bool
		fails []*model.Step
	}
	byPort := map[int]*obs{}
	var ports []int
	for _, s := range a.in.steps(model.OpConnect) {
		ip, port, ok := stepAddr(s)
		if !ok || !ip.Is4() || !a.judged(ip) {
			continue
		}
		o := byPort[port]
		if o == nil {
			o = &obs{}
			byPort[port] = o
			ports = append(ports, port)
		}
		if s.Failure == nil {
			o.ok = true
		} else {
			o.fails = append(o.fails, s)
		}
	}
	sort.Ints(ports)
	for _, port := range ports {
		o := byPort[port]
		if o.ok || len(o.fails) == 0 {
			continue
		}
		for _, s := range o.fails {
			ctlLine := a.ctlConnect(s.Address, port)
			if ctlLine == "" {
				continue
			}
			var method, what string
			switch failKind(failOf(s)) {
			case kindTimeout:
				method, what = model.MethodTCPTimeout, "times out"
			case kindReset, kindRefused:
				method, what = model.MethodTCPReset, "is reset"
			default:
				continue
			}
			a.blocked[port] = true
			a.add(method, fmt.Sprintf("connect to %s (%s) %s inside (%s); %s", s.Address, a.host, what, failOf(s), ctlLine))
		}
	}
}

// ctlConnect describes the control's successful connect to address (or to
// any address on port); "" when the control could not connect either.
func (a *analysis) ctlConnect(address string, port int) string {
	var any string
	for _, c := range a.ctl.steps(model.OpConnect) {
		if c.Failure != nil {
			continue
		}
		if c.Address == address {
			return "outside the connection to " + address + " succeeds"
		}
		if _, p, _ := stepAddr(c); p == port && any == "" {
			any = "outside the connection to " + c.Address + " succeeds"
		}
	}
	return any
}

// tlsKind maps a failed handshake to its method.
func tlsKind(f string) string {
	switch {
	case f == failure.GenericTimeout:
		return model.MethodTLSTimeout
	case f == failure.ConnectionReset || f == failure.EOF || f == failure.SSLFailedHandshake:
		return model.MethodTLSReset
	}
	return ""
}

// checkTLS: handshakes cut inside only (tls.reset, tls.timeout) and chains
// that differ from the control's (tls.mitm), on every port.
func (a *analysis) checkTLS() {
	byPort := map[int][]*model.Step{}
	var ports []int
	for _, s := range a.in.steps(model.OpTLSHandshake) {
		ip, port, ok := stepAddr(s)
		if !ok || !ip.Is4() || sni(s) != a.host {
			continue
		}
		if _, seen := byPort[port]; !seen {
			ports = append(ports, port)
		}
		byPort[port] = append(byPort[port], s)
	}
	sort.Ints(ports)
	for _, port := range ports {
		a.checkTLSPort(port, byPort[port])
	}
	// A STARTTLS exchange cut inside only is cut TLS as well.
	for _, s := range a.in.steps(model.OpStartTLS) {
		ip, port, ok := stepAddr(s)
		m := tlsKind(failOf(s))
		if s.Failure == nil || m == "" || !ok || !ip.Is4() || !a.judged(ip) || a.tcpBlocked(port) {
			continue
		}
		for _, c := range a.ctl.steps(model.OpStartTLS) {
			if c.Failure == nil {
				a.add(m, fmt.Sprintf("STARTTLS with %s (%s) is cut inside (%s); outside it succeeds with %s", s.Address, a.host, failOf(s), c.Address))
				break
			}
		}
	}
}

func (a *analysis) checkTLSPort(port int, steps []*model.Step) {
	if a.tcpBlocked(port) {
		return
	}
	own := a.ctlOwnAddrs(a.host)
	var ctlDone []*model.Step
	for _, c := range a.ctl.tlsOn(a.host, port) {
		ip, _, ok := stepAddr(c)
		if tlsCompleted(c) && (!ok || len(own) == 0 || containsAddr(own, ip)) {
			ctlDone = append(ctlDone, c)
		}
	}
	if len(ctlDone) == 0 {
		return // the control got no chain either: nothing to compare with
	}
	completed := false
	for _, s := range steps {
		ip, _, _ := stepAddr(s)
		if tlsCompleted(s) {
			if a.judged(ip) || claims(leafNames(&s.TLS.Chain[0]), a.host) {
				completed = true
				a.checkMITM(s, ctlDone)
			}
		}
	}
	if completed {
		return
	}
	for _, s := range steps {
		ip, _, _ := stepAddr(s)
		if m := tlsKind(failOf(s)); m != "" && a.judged(ip) {
			c := ctlDone[0]
			a.cut[port] = true
			a.add(m, fmt.Sprintf("TLS handshake with %s for %s is cut inside (%s); outside the handshake with %s completes (%s)",
				s.Address, a.host, failOf(s), c.Address, chainDesc(c)))
		}
	}
}

// checkMITM compares one inside chain with the control's genuine chains.
func (a *analysis) checkMITM(s *model.Step, ctlDone []*model.Step) {
	leaf := s.TLS.Chain[0].SHA256
	roots := map[string]string{}
	for _, c := range ctlDone {
		if c.TLS.Chain[0].SHA256 == leaf {
			return // the very same certificate as outside
		}
		if c.TLS.Verified && c.TLS.RootSHA256 != "" {
			roots[c.TLS.RootSHA256] = c.TLS.RootSubject
		}
	}
	if len(roots) == 0 {
		// Outside, no chain verifies either: the site's own problem.
		return
	}
	out := ctlDone[0]
	for _, c := range ctlDone {
		if c.TLS.Verified {
			out = c
			break
		}
	}
	if !s.TLS.Verified {
		ve := "not verified"
		if s.TLS.VerifyError != nil {
			ve = *s.TLS.VerifyError
		}
		a.add(model.MethodTLSMITM, fmt.Sprintf("%s (%s) presents inside %s, which does not verify (%s); outside: %s",
			s.Address, a.host, chainDesc(s), ve, chainDesc(out)))
		return
	}
	if _, ok := roots[s.TLS.RootSHA256]; ok || len(roots) == 0 {
		return // another certificate from the same CA: a CDN edge, a renewal
	}
	a.add(model.MethodTLSMITM, fmt.Sprintf("%s (%s) presents inside %s, which verifies, but to another CA than outside: root %q inside, %q outside",
		s.Address, a.host, chainDesc(s), s.TLS.RootSubject, out.TLS.RootSubject))
}

// chainDesc describes a recorded chain in a few words.
func chainDesc(s *model.Step) string {
	if s.TLS == nil || len(s.TLS.Chain) == 0 {
		return "no certificate"
	}
	leaf := s.TLS.Chain[0]
	fp := leaf.SHA256
	if len(fp) > 16 {
		fp = fp[:16]
	}
	return fmt.Sprintf("a certificate for %s issued by %q (sha256 %s…)", join(leafNames(&leaf)), leaf.Issuer, fp)
}

// checkMail: STARTTLS offered outside but not inside.
func (a *analysis) checkMail() {
	switch a.scheme {
	case "imap", "smtp", "submission", "pop3":
	default:
		return
	}
	offered := func(v *view) (bool, bool, []string) {
		greeted, off := false, false
		var caps []string
		for _, s := range v.steps(model.OpMailGreeting) {
			if s.Failure == nil && s.Mail != nil {
				greeted = true
				off = off || s.Mail.StartTLSOffered
				caps = s.Mail.Capabilities
			}
		}
		return greeted, off, caps
	}
	inGreeted, inOff, inCaps := offered(a.in)
	ctlGreeted, ctlOff, _ := offered(a.ctl)
	if inGreeted && ctlGreeted && ctlOff && !inOff {
		a.add(model.MethodTLSStripped, fmt.Sprintf("%s: outside the server offers STARTTLS; inside it does not (capabilities: %s)",
			a.in.m.Target, join(inCaps)))
	}
}

// certFault describes the target's own certificate when it verifies on
// neither side (expired, for another name, from an untrusted root): the
// site's misconfiguration, seen the same from everywhere, so the target is
// down, not blocked. "" when some chain verifies or a side has none.
func (a *analysis) certFault() string {
	in, ctl := unverified(a.in.tlsOn(a.host, a.port)), unverified(a.ctl.tlsOn(a.host, a.port))
	if in == nil || ctl == nil {
		return ""
	}
	return fmt.Sprintf("the site's own certificate does not verify, outside (%s: %s) as inside (%s: %s): its fault, not censorship",
		verifyErr(ctl), chainDesc(ctl), verifyErr(in), chainDesc(in))
}

// unverified returns the first completed IPv4 handshake of steps when at
// least one completed and none of them verified; nil otherwise.
func unverified(steps []*model.Step) *model.Step {
	var first *model.Step
	for _, s := range steps {
		if isV6(s) || !tlsCompleted(s) {
			continue
		}
		if s.TLS.Verified {
			return nil
		}
		if first == nil {
			first = s
		}
	}
	return first
}

func verifyErr(s *model.Step) string {
	if s.TLS.VerifyError != nil {
		return *s.TLS.VerifyError
	}
	return "not verified"
}
