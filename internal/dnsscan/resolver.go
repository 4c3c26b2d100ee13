package dnsscan

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
)

// DefaultControlNames are the well-known names every resolver is asked
// first (names run by IANA, whose addresses do not vary by place).
var DefaultControlNames = []string{"example.com", "example.net", "example.org"}

// resolverTask is one domain and query type of the resolver method: the
// control's answer and every usable resolver's.
type resolverTask struct {
	s       *scan
	g       *group
	name    string
	line    int
	qtype   uint16
	left    atomic.Int32 // queries not done, plus one held while starting
	control []netip.Addr
	ctlOK   bool
	answers []*query // by resolver index
}

func (s *scan) startResolvers(g *group, name string, line int, qtype uint16) {
	t := &resolverTask{s: s, g: g, name: name, line: line, qtype: qtype, answers: make([]*query, len(s.usable))}
	if s.cfg.Control != nil {
		t.control, t.ctlOK = s.cfg.Control.Lookup(name, qtype)
	}
	t.left.Store(1)
	if !t.ctlOK && s.cfg.ControlResolver.IsValid() {
		t.left.Add(1)
		if !s.ask(s.cfg.ControlResolver, name, qtype, func(q *query) {
			t.control, t.ctlOK = controlAnswer(q)
			t.done()
		}) {
			t.left.Add(-1)
		}
	}
	for i, r := range s.usable {
		i := i
		t.left.Add(1)
		if !s.ask(r.Addr, name, qtype, func(q *query) {
			t.answers[i] = q
			t.done()
		}) {
			t.left.Add(-1)
		}
	}
	t.done()
}

// controlAnswer is the address set of the control's responses; ok when the
// control gave a definite answer (NOERROR or NXDOMAIN).
func controlAnswer(q *query) ([]netip.Addr, bool) {
	var addrs []netip.Addr
	ok := false
	for _, r := range q.responses {
		if r.Rcode == "noerror" || r.Rcode == "nxdomain" {
			ok = true
		}
		for _, a := range r.Answers {
			if ip, err := netip.ParseAddr(a.Data); err == nil && !slices.Contains(addrs, ip) {
				addrs = append(addrs, ip)
			}
		}
	}
	return addrs, ok
}

func (t *resolverTask) done() {
	if t.left.Add(-1) > 0 {
		return
	}
	if t.s.tls != nil {
		go t.finishAll() // TLS handshakes never block the reaper
		return
	}
	t.finishAll()
}

func (t *resolverTask) finishAll() {
	ctl := make([]string, len(t.control))
	for i, a := range t.control {
		ctl[i] = a.String()
	}
	for i, r := range t.s.usable {
		q := t.answers[i]
		if q == nil || q.err == errStopped {
			t.s.unfinished.Add(1)
			t.g.finish(nil)
			continue
		}
		rec := &Record{Domain: t.name, QType: QTypeName(t.qtype), Method: MethodResolver, Server: r.Addr.String(),
			Country: r.Country, ASN: r.ASN, Responses: q.responses, Control: ctl, Line: t.line, Time: q.sent.UTC()}
		if rec.Responses == nil {
			rec.Responses = []Response{}
		}
		if q.err != nil {
			rec.Evidence = append(rec.Evidence, "not measured: "+q.err.Error())
		}
		poisoned, ev := t.s.judge(context.Background(), t.name, q.responses, t.control, t.ctlOK)
		rec.Poisoned = boolp(poisoned)
		rec.Evidence = append(rec.Evidence, ev...)
		if poisoned {
			for _, resp := range q.responses {
				for _, a := range resp.Answers {
					if ip, err := netip.ParseAddr(a.Data); err == nil && !slices.Contains(t.control, ip) {
						t.s.pool.Add(ip, q.sent)
					}
				}
			}
		}
		t.g.finish(rec)
	}
}

// judge decides whether a resolver's responses are poisoned: an address
// answer is accepted when the control gave it, when it is in the AS of one
// of the control's addresses, or when it presents a valid certificate for
// the name; a bogon, an address of the forged pool's cluster, or anything
// else is poisoned. An NXDOMAIN where the control has addresses is too.
func (s *scan) judge(ctx context.Context, name string, rs []Response, control []netip.Addr, controlKnown bool) (bool, []string) {
	if !controlKnown {
		if len(rs) == 0 {
			return false, nil
		}
		return false, []string{"no control answer for " + name + ": not judged"}
	}
	ctlASN := map[int]bool{}
	if s.cfg.ASN != nil {
		for _, a := range control {
			if info := s.cfg.ASN.Lookup(a); info.Known() {
				ctlASN[info.ASN] = true
			}
		}
	}
	var ev []string
	for _, r := range rs {
		if r.Rcode == "nxdomain" && len(control) > 0 {
			ev = append(ev, fmt.Sprintf("%s answers NXDOMAIN for %s; the control has %d address(es)", r.From, name, len(control)))
			continue
		}
		for _, a := range r.Answers {
			if a.Type != "A" && a.Type != "AAAA" {
				continue
			}
			ip, err := netip.ParseAddr(a.Data)
			if err != nil || slices.Contains(control, ip) {
				continue
			}
			switch {
			case a.Bogon:
				ev = append(ev, fmt.Sprintf("%s → %s, a bogon (not connected to)", name, ip))
			case s.pool.InCluster(ip):
				ev = append(ev, fmt.Sprintf("%s → %s, in the forged-address pool's cluster", name, ip))
			case len(ctlASN) > 0 && ctlASN[s.cfg.ASN.Lookup(ip).ASN]:
				continue
			case s.tls != nil && s.tls.valid(ctx, ip, name):
				continue
			default:
				why := "not the control's"
				if s.cfg.ASN != nil {
					why += ", not in its AS"
				}
				if s.tls != nil {
					why += ", no valid certificate for " + name
				}
				ev = append(ev, fmt.Sprintf("%s → %s: %s", name, ip, why))
			}
		}
	}
	return len(ev) > 0, ev
}

// checkResolvers asks every resolver the control names and keeps those that
// give at least one of them a consistent answer. A resolver that answers
// nothing, answers garbage, or poisons every control name is unusable: its
// answers would say nothing about the list.
func (s *scan) checkResolvers(ctx context.Context) error {
	names := s.cfg.ControlNames
	if len(names) == 0 {
		names = DefaultControlNames
	}
	type probe struct {
		ctl      []netip.Addr
		ctlOK    bool
		resolver []*query
	}
	probes := make([]*probe, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		p := &probe{resolver: make([]*query, len(s.cfg.Resolvers))}
		probes[i] = p
		if s.cfg.Control != nil {
			p.ctl, p.ctlOK = s.cfg.Control.Lookup(n, dns.TypeA)
		}
		if !p.ctlOK && s.cfg.ControlResolver.IsValid() {
			wg.Add(1)
			if !s.ask(s.cfg.ControlResolver, n, dns.TypeA, func(q *query) { p.ctl, p.ctlOK = controlAnswer(q); wg.Done() }) {
				wg.Done()
			}
		}
		for j, r := range s.cfg.Resolvers {
			j := j
			wg.Add(1)
			if !s.ask(r.Addr, n, dns.TypeA, func(q *query) { p.resolver[j] = q; wg.Done() }) {
				wg.Done()
			}
		}
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	ctlKnown := 0
	for _, p := range probes {
		if p.ctlOK && len(p.ctl) > 0 {
			ctlKnown++
		}
	}
	if ctlKnown == 0 {
		return fmt.Errorf("dns scan: the control answered none of the control names (%s)", strings.Join(names, ", "))
	}
	for j, r := range s.cfg.Resolvers {
		good, why := 0, "no answer to any control name"
		for i, p := range probes {
			q := p.resolver[j]
			if q == nil || !p.ctlOK || len(p.ctl) == 0 || len(q.responses) == 0 {
				continue
			}
			if poisoned, ev := s.judge(ctx, names[i], q.responses, p.ctl, true); poisoned {
				why = "poisoned answers for every control name (" + ev[0] + ")"
				continue
			}
			if hasAddress(q.responses) {
				good++
			} else {
				why = "no address for the control names"
			}
		}
		if good == 0 {
			s.cfg.Logf("resolver %s unusable: %s", r.Addr, why)
			continue
		}
		s.usable = append(s.usable, r)
	}
	if len(s.usable) == 0 {
		return fmt.Errorf("dns scan: no usable resolver among %d", len(s.cfg.Resolvers))
	}
	return nil
}

func hasAddress(rs []Response) bool {
	for _, r := range rs {
		for _, a := range r.Answers {
			if a.Type == "A" || a.Type == "AAAA" {
				return true
			}
		}
	}
	return false
}

// ReadResolvers reads a resolver list: one address per line (IP or
// IP:PORT, port 53 by default), or "IP,CC,ASN" CSV lines. Blank lines and
// '#' comments are skipped; a bad line is an error naming file:line.
func ReadResolvers(r io.Reader, name string) ([]Resolver, error) {
	sc := bufio.NewScanner(r)
	var out []Resolver
	seen := map[netip.AddrPort]bool{}
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		fields := strings.Split(text, ",")
		if line == 1 && strings.EqualFold(strings.TrimSpace(fields[0]), "ip") {
			continue // header
		}
		ap, err := ParseServer(strings.TrimSpace(fields[0]))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		res := Resolver{Addr: ap}
		if len(fields) > 1 {
			res.Country = strings.ToUpper(strings.TrimSpace(fields[1]))
		}
		if len(fields) > 2 {
			asn := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(fields[2])), "AS")
			n, err := strconv.ParseUint(asn, 10, 32)
			if asn != "" && err != nil {
				return nil, fmt.Errorf("%s:%d: bad ASN %q", name, line, fields[2])
			}
			res.ASN = uint32(n)
		}
		if len(fields) > 3 {
			return nil, fmt.Errorf("%s:%d: %d fields, want IP or IP,CC,ASN", name, line, len(fields))
		}
		if !seen[ap] {
			seen[ap] = true
			out = append(out, res)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no resolver", name)
	}
	return out, nil
}

// ParseServer parses a DNS server address: IP, IP:PORT, [IPv6]:PORT or
// udp://IP[:PORT]; the port defaults to 53.
func ParseServer(s string) (netip.AddrPort, error) {
	in := s
	s = strings.TrimPrefix(s, "udp://")
	if ip, err := netip.ParseAddr(s); err == nil {
		if ip.Zone() != "" {
			return netip.AddrPort{}, fmt.Errorf("address %q: zones are not supported", in)
		}
		return checkServer(in, netip.AddrPortFrom(ip.Unmap(), 53))
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: want IP, IP:PORT or udp://IP:PORT", in)
	}
	return checkServer(in, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
}

func checkServer(in string, ap netip.AddrPort) (netip.AddrPort, error) {
	a := ap.Addr()
	switch {
	case ap.Port() == 0:
		return ap, fmt.Errorf("address %q: port 0", in)
	case a.IsUnspecified(), a.IsMulticast(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return ap, fmt.Errorf("address %q: not a unicast address", in)
	}
	return ap, nil
}

// ControlFile holds control answers read from a JSON Lines file of
// records (the --out of a scan of trusted resolvers made outside). It keeps
// every domain in memory.
type ControlFile map[string][]netip.Addr

// ReadControl reads control records: each line a Record (or any object
// with "domain", "qtype" and "responses" or "answers").
func ReadControl(r io.Reader, name string) (ControlFile, error) {
	cf := ControlFile{}
	dec := json.NewDecoder(bufio.NewReader(r))
	for n := 1; ; n++ {
		var rec struct {
			Domain    string     `json:"domain"`
			QType     string     `json:"qtype"`
			Responses []Response `json:"responses"`
			Answers   []string   `json:"answers"`
		}
		if err := dec.Decode(&rec); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: record %d: %v", name, n, err)
		}
		if rec.Domain == "" {
			return nil, fmt.Errorf("%s: record %d: no domain", name, n)
		}
		qt := strings.ToUpper(rec.QType)
		if qt == "" {
			qt = "A"
		}
		key := strings.TrimSuffix(strings.ToLower(rec.Domain), ".") + "/" + qt
		addrs := cf[key]
		if addrs == nil {
			addrs = []netip.Addr{}
		}
		add := func(s string) {
			if ip, err := netip.ParseAddr(s); err == nil && !slices.Contains(addrs, ip.Unmap()) {
				addrs = append(addrs, ip.Unmap())
			}
		}
		for _, resp := range rec.Responses {
			for _, a := range resp.Answers {
				add(a.Data)
			}
		}
		for _, a := range rec.Answers {
			add(a)
		}
		cf[key] = addrs
	}
	return cf, nil
}

// Lookup implements ControlAnswers.
func (cf ControlFile) Lookup(domain string, qtype uint16) ([]netip.Addr, bool) {
	a, ok := cf[domain+"/"+QTypeName(qtype)]
	return a, ok
}
