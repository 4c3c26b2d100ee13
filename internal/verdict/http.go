package verdict

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/firewatch/firewatch/internal/model"
)

// signatures are lower-case fragments of known block pages, looked for in a
// page's title and first kilobytes. A page matching one is a block page only
// if the control's page does not match it too.
var signatures = []string{
	"has been blocked", "have been blocked", "been restricted", "access restricted",
	"blocked by order", "blocked in accordance", "blocked by the", "blocked on the order",
	"web page blocked", "url blocked", "site blocked", "website blocked", "page blocked",
	"access to this site is blocked", "access to this website is blocked", "this site is blocked",
	"this website is blocked", "blockpage", "block page", "10.10.34.34", "10.10.34.35",
	"warning.rt.ru", "netsweeper", "fortiguard", "internet-positif", "peyvandha.ir",
}

// signature returns the block-page signature a page matches, or "".
func signature(h *model.HTTPData) string {
	if h == nil {
		return ""
	}
	text := strings.ToLower(h.Title + "\n" + h.BodyHead)
	for _, s := range signatures {
		if strings.Contains(text, s) {
			return s
		}
	}
	return ""
}

// blockpageAt is the DNS decision's third step: does one of addrs serve a
// page matching a block-page signature (that the control's pages do not)?
func (a *analysis) blockpageAt(host string, addrs []netip.Addr) string {
	for _, c := range a.ctl.steps(model.OpHTTPRoundTrip) {
		if signature(c.HTTP) != "" {
			return ""
		}
	}
	for _, s := range a.in.steps(model.OpHTTPRoundTrip) {
		if s.HTTP == nil || s.Failure != nil {
			continue
		}
		ip, _, ok := stepAddr(s)
		if ok && !containsAddr(addrs, ip) || !ok && hostOf(s.HTTP.URL) != host {
			continue
		}
		if sig := signature(s.HTTP); sig != "" {
			where := host + "'s inside address"
			if ok {
				where = ip.String()
			}
			return fmt.Sprintf("%s serves a block page: %d %q, matching the signature %q", where, s.HTTP.Status, s.HTTP.Title, sig)
		}
	}
	return ""
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return normHost(u.Hostname())
}

func schemeOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Scheme)
}

func portOf(raw string) int {
	u, err := url.Parse(raw)
	if err != nil {
		return 0
	}
	_, _, p := targetParts(u.String())
	return p
}

// sameSite folds the "www." prefix away when comparing redirect hosts.
func sameSite(h string) string { return strings.TrimPrefix(normHost(h), "www.") }

// location resolves a hop's Location against its URL.
func location(h *model.HTTPData) string {
	base, err := url.Parse(h.URL)
	if err != nil {
		return h.Location
	}
	loc, err := base.Parse(h.Location)
	if err != nil {
		return h.Location
	}
	return loc.String()
}

// chainSummary describes a redirect chain: "URL → 301 URL → 200 "title"".
func chainSummary(c []*model.Step) string {
	if len(c) == 0 {
		return "no answer"
	}
	parts := []string{c[0].HTTP.URL}
	for _, s := range c {
		switch {
		case s.Failure != nil:
			parts = append(parts, *s.Failure)
		case s.HTTP.Location != "":
			parts = append(parts, fmt.Sprintf("%d %s", s.HTTP.Status, location(s.HTTP)))
		default:
			parts = append(parts, fmt.Sprintf("%d %q", s.HTTP.Status, s.HTTP.Title))
		}
	}
	return strings.Join(parts, " → ")
}

// hostFlagged reports whether host's DNS was found interfered with.
func (a *analysis) hostFlagged(host string) bool {
	hd := a.dns[host]
	return hd != nil && hd.flagged
}

// checkHTTP compares each inside redirect chain with the control's.
func (a *analysis) checkHTTP() {
	in, ctl := a.in.httpChains(), a.ctl.httpChains()
	for i := range in {
		if i < len(ctl) {
			a.compareChain(in[i], ctl[i])
		}
	}
}

func (a *analysis) compareChain(ic, cc []*model.Step) {
	last := ic[len(ic)-1]
	host, port := hostOf(last.HTTP.URL), portOf(last.HTTP.URL)
	if ip, _, ok := stepAddr(last); ok && host == a.host && !a.judged(ip) {
		return // served by an address DNS gave wrongly: a DNS consequence
	}
	if a.redirects(ic, cc) {
		return // a redirect elsewhere explains whatever follows it
	}
	if last.Failure != nil {
		a.httpFailure(ic, cc, host, port)
		return
	}
	cl := cc[len(cc)-1]
	if schemeOf(last.HTTP.URL) != "http" || a.hostFlagged(host) || cl.Failure != nil {
		return
	}
	if why := blockpageDiff(last.HTTP, cl.HTTP); why != "" {
		a.add(model.MethodHTTPBlockpage, fmt.Sprintf("%s inside: %d %q (%d bytes); outside: %d %q (%d bytes): %s",
			last.HTTP.URL, last.HTTP.Status, last.HTTP.Title, last.HTTP.BodyLength,
			cl.HTTP.Status, cl.HTTP.Title, cl.HTTP.BodyLength, why))
		return
	}
	if why := a.tampered(last.HTTP, cl.HTTP); why != "" {
		a.add(model.MethodHTTPTampered, fmt.Sprintf("%s inside: %d %q (%d bytes); outside: %d %q (%d bytes): %s",
			last.HTTP.URL, last.HTTP.Status, last.HTTP.Title, last.HTTP.BodyLength,
			cl.HTTP.Status, cl.HTTP.Title, cl.HTTP.BodyLength, why))
	}
}

// tampered says which script or iframe elements the inside page has and the
// control's page of the same URL does not, or "". Both must be 2xx answers
// with element digests recorded over complete bodies that differ; text that
// changes between fetches (a clock, a token, a rotating word) changes no
// element, so a dynamic page is not tampered. No verdict when the control's
// list hit its bound (an element past it is unknown) or when the control's
// own fetches of the URL disagree on their elements (scripts that differ per
// fetch, such as nonces: noise, not tampering).
func (a *analysis) tampered(in, ctl *model.HTTPData) string {
	if in.URL != ctl.URL || in.Status/100 != 2 || ctl.Status/100 != 2 || in.Elements == nil || ctl.Elements == nil ||
		in.BodyTruncated || ctl.BodyTruncated || in.BodySHA256 == "" || in.BodySHA256 == ctl.BodySHA256 ||
		len(*ctl.Elements) >= model.MaxElements {
		return ""
	}
	for _, c := range a.ctl.httpChains() {
		o := c[len(c)-1]
		if o.Failure == nil && o.HTTP != ctl && o.HTTP.URL == ctl.URL && o.HTTP.Status/100 == 2 && o.HTTP.Elements != nil &&
			!sameSet(*o.HTTP.Elements, *ctl.Elements) {
			return "" // the control's own fetches disagree
		}
	}
	have := map[string]bool{}
	for _, d := range *ctl.Elements {
		have[d] = true
	}
	var extra []string
	for _, d := range *in.Elements {
		if !have[d] {
			extra = append(extra, d)
		}
	}
	if len(extra) == 0 {
		return ""
	}
	return fmt.Sprintf("the page inside has %d script or iframe element(s) the page outside has not (digests %s; %d element(s) inside, %d outside)",
		len(extra), strings.Join(extra, ", "), len(*in.Elements), len(*ctl.Elements))
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	m := map[string]bool{}
	for _, s := range a {
		m[s] = true
	}
	for _, s := range b {
		if !m[s] {
			return false
		}
	}
	n := map[string]bool{}
	for _, s := range b {
		n[s] = true
	}
	return len(m) == len(n)
}

// httpFailure: the last request of chain ic cut after it was sent, inside only.
func (a *analysis) httpFailure(ic, cc []*model.Step, host string, port int) {
	s := ic[len(ic)-1]
	if unsent(s) {
		return // never sent: its host's DNS, TCP or TLS failure is checkHops' to judge
	}
	if a.hostFlagged(host) || a.blocked[port] || a.cut[port] || a.slow[s.HTTP.URL] {
		return // explained by DNS, TCP, TLS or throttling
	}
	var ok *model.Step
	for _, c := range cc {
		if c.HTTP.URL == s.HTTP.URL && c.Failure == nil {
			ok = c
		}
	}
	if ok == nil {
		return // it fails outside too
	}
	var m string
	switch failKind(failOf(s)) {
	case kindReset:
		m = model.MethodHTTPReset
	case kindTimeout:
		m = model.MethodHTTPTimeout
	default:
		return
	}
	a.add(m, fmt.Sprintf("GET %s is cut inside after the request was sent (%s); outside it answers %d %q",
		s.HTTP.URL, failOf(s), ok.HTTP.Status, ok.HTTP.Title))
	if host != a.host {
		a.add(m, "reached by redirects inside: "+chainSummary(ic))
	}
}

// redirects finds the first inside redirect to a host the control's chain
// never visits: http.redirect on plain HTTP, site.redirect over a genuine TLS
// session. Redirects that differ but stay on the control's hosts are fine.
func (a *analysis) redirects(ic, cc []*model.Step) bool {
	ctlHosts := map[string]bool{}
	for _, c := range cc {
		ctlHosts[sameSite(hostOf(c.HTTP.URL))] = true
		if c.HTTP.Location != "" {
			ctlHosts[sameSite(hostOf(location(c.HTTP)))] = true
		}
	}
	for _, s := range ic {
		if s.HTTP.Location == "" {
			continue
		}
		to := location(s.HTTP)
		if ctlHosts[sameSite(hostOf(to))] {
			continue
		}
		from := hostOf(s.HTTP.URL)
		line := fmt.Sprintf("%s redirects inside to %s (%d); outside: %s", s.HTTP.URL, to, s.HTTP.Status, chainSummary(cc))
		switch schemeOf(s.HTTP.URL) {
		case "http":
			if a.hostFlagged(from) {
				return true
			}
			a.add(model.MethodHTTPRedirect, line)
		case "https":
			if g := a.genuineTLS(from, portOf(s.HTTP.URL)); g != "" {
				a.add(model.MethodSiteRedirect, line+"; the session inside is genuine: "+g)
			}
		}
		return true
	}
	return false
}

// genuineTLS describes why the inside TLS session with host:port is the
// service's own (same certificate as outside, or verified to the same root),
// or returns "".
func (a *analysis) genuineTLS(host string, port int) string {
	if a.has(model.MethodTLSMITM) {
		return ""
	}
	ctlLeaves := map[string]bool{}
	for _, c := range a.ctl.tlsOn(host, port) {
		if tlsCompleted(c) {
			ctlLeaves[c.TLS.Chain[0].SHA256] = true
		}
	}
	roots := a.ctlRoots(host, port)
	for _, s := range a.in.tlsOn(host, port) {
		if !tlsCompleted(s) || !s.TLS.Verified {
			continue
		}
		if ctlLeaves[s.TLS.Chain[0].SHA256] {
			return "the same certificate as outside (" + chainDesc(s) + ")"
		}
		if _, ok := roots[s.TLS.RootSHA256]; ok {
			return fmt.Sprintf("%s, verified to the same root as outside (%q)", chainDesc(s), s.TLS.RootSubject)
		}
	}
	return ""
}

// blockpageDiff says how an inside page differs from the control's in the
// way a block page does, or "". A page with the same status and title (a
// CAPTCHA, a different ad, a localized body) is not a block page.
func blockpageDiff(in, ctl *model.HTTPData) string {
	if in.BodySHA256 != "" && in.BodySHA256 == ctl.BodySHA256 {
		return ""
	}
	if sig := signature(in); sig != "" && signature(ctl) == "" {
		return fmt.Sprintf("matches the block-page signature %q", sig)
	}
	if in.Status != ctl.Status && ctl.Status/100 == 2 {
		return fmt.Sprintf("status %d inside, %d outside", in.Status, ctl.Status)
	}
	if !strings.EqualFold(strings.TrimSpace(in.Title), strings.TrimSpace(ctl.Title)) {
		small, big := in.BodyLength, ctl.BodyLength
		if small > big {
			small, big = big, small
		}
		if big > 0 && float64(small)/float64(big) < 0.7 {
			return fmt.Sprintf("another title and a body of %d bytes instead of %d", in.BodyLength, ctl.BodyLength)
		}
	}
	return ""
}

// serverError describes a server error (5xx) that ends the first redirect
// chain on both sides: the site fails for everyone, not censorship. A 4xx
// is an answer (a page missing everywhere stays ok).
func (a *analysis) serverError() string {
	in, ctl := a.in.httpChains(), a.ctl.httpChains()
	if len(in) == 0 || len(ctl) == 0 {
		return ""
	}
	il, cl := in[0][len(in[0])-1], ctl[0][len(ctl[0])-1]
	if il.Failure != nil || cl.Failure != nil || il.HTTP.Status < 500 || cl.HTTP.Status < 500 {
		return ""
	}
	return fmt.Sprintf("the server answers %s with %d outside and %d inside: it fails for everyone, not censorship",
		cl.HTTP.URL, cl.HTTP.Status, il.HTTP.Status)
}

// checkHops judges the host a redirect chain ended at, when it is not the
// target's, the way the target's host is judged (DNS, TCP, TLS): a chain
// whose last hop is blocked is blocked by that hop's method. Only hosts the
// control's chains reached too are judged; a redirect to a host the
// control never visits is redirects' finding.
func (a *analysis) checkHops() {
	reached := map[string]bool{}
	for _, c := range a.ctl.httpChains() {
		for _, s := range c {
			reached[hostOf(s.HTTP.URL)] = true
		}
	}
	for _, c := range a.in.chainsElsewhere(a.host) {
		hop := *a // shares the findings and the per-host and per-port notes
		hop.scheme, hop.host, hop.port = targetParts(c[len(c)-1].HTTP.URL)
		if !reached[hop.host] {
			continue
		}
		if ip, err := netip.ParseAddr(hop.host); err == nil && a.dns[hop.host] == nil {
			// An address in the Location: judge only steps at that address.
			a.dns[hop.host] = &hostDNS{in: []netip.Addr{ip}, ctl: []netip.Addr{ip}}
		}
		lines := map[string]int{} // to tell the hop's findings from those before
		for m, ls := range a.findings {
			lines[m] = len(ls)
		}
		hop.checkDNS()
		if a.dns[hop.host] == nil {
			continue // not resolved inside (no DNS steps): no address to judge
		}
		hop.checkTCP()
		hop.checkTLS()
		a.ghost = a.ghost || hop.ghost
		for m, ls := range a.findings {
			if n, had := lines[m]; !had || len(ls) > n {
				a.add(m, "reached by redirects inside: "+chainSummary(c))
			}
		}
	}
}
