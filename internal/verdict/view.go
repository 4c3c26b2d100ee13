package verdict

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/firewatch/firewatch/internal/failure"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/target"
)

// view reads one record.
type view struct {
	m *model.Measurement
}

func newView(m *model.Measurement) *view { return &view{m: m} }

// targetParts splits a normalized target URL.
func targetParts(raw string) (scheme, host string, port int) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", normHost(raw), 0
	}
	scheme = strings.ToLower(u.Scheme)
	host = normHost(u.Hostname())
	port = target.DefaultPorts[scheme]
	if p, err := strconv.Atoi(u.Port()); err == nil {
		port = p
	}
	return scheme, host, port
}

func normHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// stepAddr returns the IP and port of a step's address.
func stepAddr(s *model.Step) (netip.Addr, int, bool) {
	ap, err := netip.ParseAddrPort(s.Address)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	return ap.Addr().Unmap(), int(ap.Port()), true
}

// isV6 reports whether the step's address is IPv6: IPv6 failures are noise
// (many networks have no IPv6 route) and never count.
func isV6(s *model.Step) bool {
	ip, _, ok := stepAddr(s)
	return ok && !ip.Is4()
}

func failOf(s *model.Step) string {
	if s.Failure == nil {
		return ""
	}
	return *s.Failure
}

// Failure kinds used by the rules.
const (
	kindNone    = ""
	kindTimeout = "timeout"
	kindReset   = "reset"
	kindRefused = "refused"
	kindOther   = "other"
)

func failKind(f string) string {
	switch f {
	case "":
		return kindNone
	case failure.GenericTimeout:
		return kindTimeout
	case failure.ConnectionReset, failure.EOF:
		return kindReset
	case failure.ConnectionRefused:
		return kindRefused
	}
	return kindOther
}

// tlsCompleted reports whether a TLS step got the server's chain (the
// handshake went through, or failed only on verification).
func tlsCompleted(s *model.Step) bool {
	if s.TLS == nil || len(s.TLS.Chain) == 0 {
		return false
	}
	f := failOf(s)
	return f == "" || strings.HasPrefix(f, "ssl_") && f != failure.SSLFailedHandshake
}

func sni(s *model.Step) string {
	if s.TLS != nil && s.TLS.ServerName != "" {
		return normHost(s.TLS.ServerName)
	}
	return normHost(s.Hostname)
}

func (v *view) steps(op string) []*model.Step {
	var out []*model.Step
	for i := range v.m.Steps {
		if v.m.Steps[i].Operation == op {
			out = append(out, &v.m.Steps[i])
		}
	}
	return out
}

// dnsSteps returns the IPv4 (A or system) DNS steps for host through the
// record's own resolvers.
func (v *view) dnsSteps(host string) []*model.Step {
	var out []*model.Step
	for i := range v.m.Steps {
		s := &v.m.Steps[i]
		if (s.Operation != model.OpResolve && s.Operation != model.OpDNSRoundTrip) || s.DNS == nil {
			continue
		}
		if normHost(s.Hostname) != host || s.DNS.QueryType == "AAAA" {
			continue
		}
		if len(v.m.Resolvers) > 0 && !containsStr(v.m.Resolvers, s.DNS.Resolver) {
			continue // a query to another vantage's resolver (the control's check of the probe's)
		}
		out = append(out, s)
	}
	return out
}

// respAddrs returns the IPv4 addresses of a response.
func respAddrs(r *model.DNSResponse) []netip.Addr {
	var out []netip.Addr
	for _, a := range r.Answers {
		if a.Type != "A" && a.Type != "AAAA" {
			continue
		}
		ip, err := netip.ParseAddr(a.Value)
		if err == nil && ip.Unmap().Is4() {
			out = append(out, ip.Unmap())
		}
	}
	return out
}

// addrs returns the non-bogon IPv4 addresses host resolved to, skipping the
// steps skip says are injected.
func (v *view) addrs(host string, skip map[*model.Step]bool) []netip.Addr {
	var out []netip.Addr
	for _, s := range v.dnsSteps(host) {
		if skip[s] {
			continue
		}
		bog := map[string]bool{}
		for _, b := range s.DNS.Bogons {
			bog[b] = true
		}
		for i := range s.DNS.Responses {
			for _, ip := range respAddrs(&s.DNS.Responses[i]) {
				if !bog[ip.String()] && !containsAddr(out, ip) {
					out = append(out, ip)
				}
			}
		}
	}
	return out
}

// bogons returns the IPv4 bogon answers for host.
func (v *view) bogons(host string) []string {
	var out []string
	for _, s := range v.dnsSteps(host) {
		for _, b := range s.DNS.Bogons {
			if ip, err := netip.ParseAddr(b); err == nil && ip.Unmap().Is4() && !containsStr(out, b) {
				out = append(out, b)
			} else if err != nil && !containsStr(out, b) {
				out = append(out, b)
			}
		}
	}
	return out
}

// nxdomain reports whether some response for host said NXDOMAIN.
func (v *view) nxdomain(host string) bool {
	for _, s := range v.dnsSteps(host) {
		if failOf(s) == failure.DNSNXDomain {
			return true
		}
		for _, r := range s.DNS.Responses {
			if r.Rcode == "NXDOMAIN" {
				return true
			}
		}
	}
	return false
}

// allNXDomain reports whether host was queried and every query for it got
// NXDOMAIN (as its failure or in each of its responses).
func (v *view) allNXDomain(host string) bool {
	steps := v.dnsSteps(host)
	for _, s := range steps {
		if failOf(s) == failure.DNSNXDomain {
			continue
		}
		if len(s.DNS.Responses) == 0 {
			return false
		}
		for _, r := range s.DNS.Responses {
			if r.Rcode != "NXDOMAIN" {
				return false
			}
		}
	}
	return len(steps) > 0
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

func addrStrings(as []netip.Addr) string {
	ss := make([]string, len(as))
	for i, a := range as {
		ss[i] = a.String()
	}
	return join(ss)
}

// httpChains splits the http_round_trip steps into redirect chains.
func (v *view) httpChains() [][]*model.Step {
	var chains [][]*model.Step
	for _, s := range v.steps(model.OpHTTPRoundTrip) {
		if s.HTTP == nil {
			continue
		}
		if s.HTTP.Hop == 0 || len(chains) == 0 {
			chains = append(chains, nil)
		}
		chains[len(chains)-1] = append(chains[len(chains)-1], s)
	}
	return chains
}

// unsent reports whether an http_round_trip step is a hop whose request was
// never sent: its host could not be reached (DNS, connect or TLS failed), so
// the step has a failure and no address.
func unsent(s *model.Step) bool {
	return s.Failure != nil && s.Address == "" && s.HTTP != nil
}

// chainsElsewhere returns the redirect chains that ended on another host
// than target, one per final host and port.
func (v *view) chainsElsewhere(target string) [][]*model.Step {
	var out [][]*model.Step
	seen := map[string]bool{}
	for _, c := range v.httpChains() {
		last := c[len(c)-1]
		h := hostOf(last.HTTP.URL)
		k := fmt.Sprintf("%s %d", h, portOf(last.HTTP.URL))
		if h == "" || h == target || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, c)
	}
	return out
}

// works reports whether the target worked from this vantage, and if not, the
// first failure that stopped it.
func (v *view) works(host string, port int) (bool, string) {
	if chains := v.httpChains(); len(chains) > 0 {
		for _, c := range chains {
			last := c[len(c)-1]
			if last.Failure == nil && last.HTTP.Status > 0 {
				return true, ""
			}
		}
		if last := chains[0][len(chains[0])-1]; last.HTTP.Hop > 0 {
			return false, fmt.Sprintf("after %s, %s %s: %s", plural(last.HTTP.Hop, "redirect", "redirects"),
				model.OpHTTPRoundTrip, last.HTTP.URL, failOf(last))
		}
	} else if dl := v.steps(model.OpDownload); len(dl) > 0 {
		if dl[len(dl)-1].Failure == nil {
			return true, ""
		}
	} else if greet := v.steps(model.OpMailGreeting); len(greet) > 0 {
		ok := false
		for _, s := range greet {
			ok = ok || s.Failure == nil
		}
		if ok && v.tlsOnPortOK(host, port) {
			return true, ""
		}
	} else if v.tlsOnPortOK(host, port) && len(v.tlsOn(host, port)) > 0 {
		return true, ""
	} else if len(v.tlsOn(host, port)) == 0 {
		for _, s := range v.steps(model.OpConnect) {
			if _, p, _ := stepAddr(s); p == port && s.Failure == nil {
				return true, ""
			}
		}
	}
	return false, v.why(host, port)
}

func (v *view) tlsOn(host string, port int) []*model.Step {
	var out []*model.Step
	for _, s := range v.steps(model.OpTLSHandshake) {
		if _, p, ok := stepAddr(s); (!ok || p == port) && sni(s) == host {
			out = append(out, s)
		}
	}
	return out
}

// tlsOnPortOK: no TLS step on the port, or at least one that completed.
func (v *view) tlsOnPortOK(host string, port int) bool {
	ts := v.tlsOn(host, port)
	if len(ts) == 0 {
		return true
	}
	for _, s := range ts {
		if tlsCompleted(s) {
			return true
		}
	}
	return false
}

// why describes the first stage of the measurement that failed everywhere.
func (v *view) why(host string, port int) string { return v.halt(host, port).String() }

// halt is the first stage of a measurement that failed everywhere: the
// operation, where (a host, an address or a URL) and the failure. An empty
// op means no step got that far (failure then says why).
type halt struct{ op, where, failure string }

func (h halt) String() string {
	switch h.op {
	case "":
		return h.failure
	case model.OpResolve:
		return fmt.Sprintf("resolving %s: %s", h.where, h.failure)
	case model.OpConnect:
		return fmt.Sprintf("connect to %s: %s", h.where, h.failure)
	}
	return fmt.Sprintf("%s %s: %s", h.op, h.where, h.failure)
}

// alike reports whether two measurements stopped at the same stage with the
// same failure (wherever: the two sides may have had other addresses).
func (h halt) alike(o halt) bool { return h.op != "" && h.op == o.op && h.failure == o.failure }

func (v *view) halt(host string, port int) halt {
	dns := v.dnsSteps(host)
	if len(dns) > 0 && len(v.addrs(host, nil)) == 0 {
		return halt{model.OpResolve, host, firstFailure(dns, "no address")}
	}
	var conns []*model.Step
	for _, s := range v.steps(model.OpConnect) {
		if _, p, _ := stepAddr(s); p == port && !isV6(s) {
			conns = append(conns, s)
		}
	}
	if len(conns) > 0 && allFailed(conns) {
		return halt{model.OpConnect, conns[0].Address, failOf(conns[0])}
	}
	// A redirect chain stops at its failed last hop, though the hops
	// before it answered.
	if chains := v.httpChains(); len(chains) > 0 {
		if last := chains[0][len(chains[0])-1]; last.Failure != nil && last.HTTP.Hop > 0 {
			return halt{model.OpHTTPRoundTrip, last.HTTP.URL, failOf(last)}
		}
	}
	for _, op := range []string{model.OpTLSHandshake, model.OpMailGreeting, model.OpStartTLS, model.OpHTTPRoundTrip, model.OpDownload} {
		var ss []*model.Step
		for _, s := range v.steps(op) {
			if !isV6(s) {
				ss = append(ss, s)
			}
		}
		if len(ss) > 0 && allFailed(ss) {
			s := ss[len(ss)-1]
			where := s.Address
			if s.HTTP != nil {
				where = s.HTTP.URL
			}
			return halt{op, where, failOf(s)}
		}
	}
	if len(v.m.Steps) == 0 {
		return halt{failure: "no steps recorded"}
	}
	return halt{failure: "no step reached the service"}
}

func allFailed(ss []*model.Step) bool {
	for _, s := range ss {
		if s.Failure == nil {
			return false
		}
	}
	return true
}

func firstFailure(ss []*model.Step, def string) string {
	for _, s := range ss {
		if s.Failure != nil {
			return *s.Failure
		}
	}
	return def
}
