package dnsscan

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// probeLabel makes the names that tell rules apart: firewatchtest.D is
// censored by a suffix rule on D, Dfirewatchtest.com only by a substring
// rule containing D.
const probeLabel = "firewatchtest"

// maxAncestors bounds the parent domains tested for the shortest censored
// base.
const maxAncestors = 4

// viaTask is one domain and query type of the via method.
type viaTask struct {
	s      *scan
	g      *group
	server netip.AddrPort
	qtype  uint16
	rec    *Record
	probes map[string]bool // probe name → censored
	left   int
	cut    bool   // a probe was never sent: the rule is unknown
	leader string // the top domain this task infers for others
}

func (s *scan) startVia(g *group, name string, line int, qtype uint16, server netip.AddrPort) {
	t := &viaTask{s: s, g: g, server: server, qtype: qtype}
	t.rec = &Record{Domain: name, QType: QTypeName(qtype), Method: MethodVia, Server: server.String(), Country: s.cfg.ViaCountry, ASN: s.cfg.ViaASN, Line: line}
	if !s.ask(server, name, qtype, t.primary) {
		s.unfinished.Add(1)
		g.finish(nil)
	}
}

// primary runs (in the reaper) when the domain's own query is done.
func (t *viaTask) primary(q *query) {
	if q.err == errStopped {
		t.s.unfinished.Add(1)
		t.g.finish(nil)
		return
	}
	t.rec.Time = q.sent.UTC()
	t.rec.Responses = q.responses
	if t.rec.Responses == nil {
		t.rec.Responses = []Response{}
	}
	injected := len(q.responses) > 0
	t.rec.Injected = boolp(injected)
	if q.err != nil {
		t.rec.Evidence = append(t.rec.Evidence, "not measured: "+q.err.Error())
	}
	if !injected {
		t.g.finish(t.rec)
		return
	}
	t.rec.Evidence = append(t.rec.Evidence, forgedEvidence(t.rec.Server, q.responses))
	t.addToPool(q.responses, q.sent)
	if t.s.cfg.NoInfer {
		t.g.finish(t.rec)
		return
	}
	if kind, base, ok := t.s.knownRule(t.rec.Domain); ok {
		t.conclude(kind, base)
		return
	}
	// One inference at a time per top domain: the names under it that were
	// censored meanwhile wait for its rule before probing on their own.
	top := topDomain(t.rec.Domain)
	if waiting, busy := t.s.inferring[top]; busy {
		t.s.inferring[top] = append(waiting, t)
		return
	}
	t.s.inferring[top] = nil
	t.leader = top
	t.infer()
}

// infer sends the probes that classify the rule.
func (t *viaTask) infer() {
	names := probeNames(t.rec.Domain)
	t.probes = make(map[string]bool, len(names))
	for _, n := range names {
		t.probes[n] = false
	}
	t.left = len(names)
	for _, n := range names {
		n := n
		if !t.s.ask(t.server, n, t.qtype, func(pq *query) { t.probed(n, pq) }) {
			t.left--
		}
	}
	if t.left == 0 { // stopped before any probe went out
		t.s.unfinished.Add(1)
		t.release()
		t.g.finish(nil)
	}
}

// release hands the waiters of a leader either the rule just learnt or
// their own inference.
func (t *viaTask) release() {
	if t.leader == "" {
		return
	}
	waiting := t.s.inferring[t.leader]
	delete(t.s.inferring, t.leader)
	t.leader = ""
	for _, w := range waiting {
		if kind, base, ok := t.s.knownRule(w.rec.Domain); ok {
			w.conclude(kind, base)
		} else {
			w.infer()
		}
	}
}

// topDomain is the shortest ancestor of d (d itself for two labels).
func topDomain(d string) string {
	if a := ancestors(d); len(a) > 0 {
		return a[len(a)-1]
	}
	return d
}

func (t *viaTask) probed(name string, q *query) {
	t.probes[name] = q.err == nil && len(q.responses) > 0
	if q.err == errStopped {
		t.cut = true
	}
	t.left--
	if t.left > 0 {
		return
	}
	if t.cut {
		t.rec.Evidence = append(t.rec.Evidence, "rule inference cut short by the interruption")
		t.release()
		t.g.finish(t.rec)
		return
	}
	kind, base := classify(t.rec.Domain, t.probes)
	t.conclude(kind, base)
}

func (t *viaTask) conclude(kind, base string) {
	t.rec.Rule = strp(kind)
	t.rec.RuleBase = base
	t.s.addRule(kind, base)
	t.release()
	t.g.finish(t.rec)
}

func (t *viaTask) addToPool(rs []Response, at time.Time) {
	for _, r := range rs {
		for _, a := range r.Answers {
			if a.Type != "A" && a.Type != "AAAA" {
				continue
			}
			if ip, err := netip.ParseAddr(a.Data); err == nil {
				t.s.pool.Add(ip, at)
			}
		}
	}
}

func forgedEvidence(server string, rs []Response) string {
	var b strings.Builder
	b.WriteString(server)
	b.WriteString(" runs no DNS server, yet ")
	if len(rs) == 1 {
		b.WriteString("1 response came back")
	} else {
		b.WriteString(strconv.Itoa(len(rs)) + " responses came back")
	}
	for i, r := range rs {
		if i == 3 {
			b.WriteString(", …")
			break
		}
		b.WriteString("; ")
		b.WriteString(r.Rcode)
		for j, a := range r.Answers {
			if j == 3 {
				b.WriteString(" …")
				break
			}
			b.WriteString(" " + a.Data)
		}
		b.WriteString(" (IP TTL " + strconv.Itoa(r.IPTTL) + ")")
	}
	return b.String()
}

// ancestors returns the parent domains of d with at least two labels,
// nearest first, at most maxAncestors.
func ancestors(d string) []string {
	var out []string
	for {
		i := strings.IndexByte(d, '.')
		if i < 0 {
			return out
		}
		d = d[i+1:]
		if !strings.Contains(d, ".") || len(out) == maxAncestors {
			return out
		}
		out = append(out, d)
	}
}

// probeNames are the names asked to classify the rule censoring d: the
// substring probe, and for d and each ancestor P the name P itself and
// firewatchtest.P.
func probeNames(d string) []string {
	names := []string{d + probeLabel + ".com", probeLabel + "." + d}
	for _, p := range ancestors(d) {
		names = append(names, p, probeLabel+"."+p)
	}
	return names
}

// classify names the rule censoring d from the probes' outcomes: substring
// when a name merely containing d is censored (base: the shortest censored
// ancestor, d included); suffix when a new subdomain is (base: the shortest
// P whose subdomains are censored); exact otherwise.
func classify(d string, censored map[string]bool) (kind, base string) {
	anc := ancestors(d)
	if censored[d+probeLabel+".com"] {
		base = d
		for _, p := range anc {
			if censored[p] {
				base = p
			}
		}
		return RuleSubstring, base
	}
	for _, p := range append([]string{d}, anc...) {
		if censored[probeLabel+"."+p] {
			base = p
		}
	}
	if base != "" {
		return RuleSuffix, base
	}
	return RuleExact, d
}

// knownRule finds a rule inferred earlier that covers d, so that a list
// with many names under one censored domain costs one inference.
func (s *scan) knownRule(d string) (kind, base string, ok bool) {
	s.rulesMu.Lock()
	defer s.rulesMu.Unlock()
	for _, p := range append([]string{d}, ancestors(d)...) {
		if s.rules[ruleKey{RuleSuffix, p}] > 0 {
			return RuleSuffix, p, true
		}
		// A substring rule's base is a censored name containing the
		// keyword, so every name below it contains the keyword too.
		if s.rules[ruleKey{RuleSubstring, p}] > 0 {
			return RuleSubstring, p, true
		}
	}
	if s.rules[ruleKey{RuleExact, d}] > 0 {
		return RuleExact, d, true
	}
	return "", "", false
}

func (s *scan) addRule(kind, base string) {
	s.rulesMu.Lock()
	s.rules[ruleKey{kind, base}]++
	s.rulesMu.Unlock()
}
