// Package gen generates lab scenarios of any size: hosts, censor rules and
// the expect list for a mix of techniques (blackholes, DNS injection,
// keyword resets, TLS interception, block pages, throttling, sites down for
// everyone, healthy sites), reproducible from a seed. The output is an
// ordinary scenario file (internal/lab/scenario), written as it is built.
package gen

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/firewatch/firewatch/internal/model"
)

// Techniques of a mix, as named in --mix.
const (
	Blackhole = "blackhole"      // every packet to the address dropped: tcp.timeout
	DNS       = "dns"            // a forged DNS answer in place of the genuine one: dns.inconsistent or dns.bogon
	Reset     = "reset"          // keyword in the Host or SNI reset: http.reset or tls.reset
	MITM      = "mitm"           // TLS intercepted with an untrusted rogue CA: tls.mitm
	Blockpage = "blockpage"      // a block page on plain HTTP: http.blockpage
	Throttle  = "throttle"       // a download throttled to 400 kbit/s: throttled
	Down      = model.StatusDown // nothing listens, inside or out: down
	OK        = model.StatusOK   // healthy
)

// Techniques lists every technique in the order hosts are laid out.
var Techniques = []string{Blackhole, DNS, Reset, MITM, Blockpage, Throttle, Down, OK}

// DefaultMix is the mix of issue 9.
const DefaultMix = "blackhole=10,dns=10,reset=5,mitm=5,blockpage=5,throttle=0,down=5,ok=60"

// Mix is the weight of each technique (any non-negative integers; the
// shares are weight / sum).
type Mix map[string]int

// ParseMix reads "technique=weight,...". Techniques not named weigh 0.
func ParseMix(s string) (Mix, error) {
	m := Mix{}
	total := 0
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok {
			return nil, fmt.Errorf("mix %q: %q is not technique=weight", s, part)
		}
		if !slices.Contains(Techniques, k) {
			return nil, fmt.Errorf("mix %q: unknown technique %q (known: %s)", s, k, strings.Join(Techniques, ", "))
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("mix %q: %s given twice", s, k)
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 || n > 1_000_000 {
			return nil, fmt.Errorf("mix %q: weight of %s %q is not an integer from 0 to 1000000", s, k, v)
		}
		m[k] = n
		total += n
	}
	if total == 0 {
		return nil, fmt.Errorf("mix %q: the weights add up to 0", s)
	}
	return m, nil
}

// Counts splits n targets by the mix (largest remainder, ties in the order
// of Techniques), so that they add up to n exactly.
func (m Mix) Counts(n int) map[string]int {
	total := 0
	for _, t := range Techniques {
		total += m[t]
	}
	out := map[string]int{}
	type rem struct {
		t string
		r int
	}
	var rems []rem
	left := n
	for _, t := range Techniques {
		c := n * m[t] / total
		out[t] = c
		left -= c
		rems = append(rems, rem{t, n * m[t] % total})
	}
	slices.SortStableFunc(rems, func(a, b rem) int { return b.r - a.r })
	for i := 0; left > 0; i++ {
		out[rems[i%len(rems)].t]++
		left--
	}
	return out
}

// Options says what to generate.
type Options struct {
	Targets int    // expect entries (each one URL)
	Mix     Mix    // nil: DefaultMix
	Seed    uint64 // the same seed, the same file
}

// MaxTargets bounds Targets: the lab's host addresses are one /24, shared
// by ever more names beyond that.
const MaxTargets = 1_000_000

// namesPer is how many names of a technique share one address at first.
// A blackholed address holds the probe's per-address slots for a whole
// connect timeout, so few names share one; quick techniques share more.
var namesPer = map[string]int{Blackhole: 2, DNS: 10, Reset: 5, MITM: 5, Blockpage: 5, Throttle: 1, Down: 10, OK: 6}

// hostAddrs is the number of host addresses: 203.0.113.1–254.
const hostAddrs = 254

// host is one emulated server of the generated scenario.
type host struct {
	names    []string
	ip       netip.Addr
	services string
	file     bool // serves /file.bin
}

// entry is one expect line.
type entry struct {
	url, status, methods string
}

// Write generates the scenario and writes it to w.
func Write(w io.Writer, o Options) error {
	if o.Targets < 1 || o.Targets > MaxTargets {
		return fmt.Errorf("targets %d: want 1 to %d", o.Targets, MaxTargets)
	}
	mix := o.Mix
	if mix == nil {
		var err error
		if mix, err = ParseMix(DefaultMix); err != nil {
			return err
		}
	}
	counts := mix.Counts(o.Targets)
	rng := rand.New(rand.NewPCG(o.Seed, 0x6669726577617463)) // "firewatc"

	// Addresses: the shared "unrelated" host first, then each technique's
	// block. Sharing grows until everything fits in the /24.
	per := map[string]int{}
	for f := 1; ; f++ {
		need := 1
		for _, t := range Techniques {
			per[t] = namesPer[t] * f
			need += (counts[t] + per[t] - 1) / per[t]
		}
		if need <= hostAddrs {
			break
		}
	}
	next := netip.MustParseAddr("203.0.113.1")
	alloc := func() netip.Addr { a := next; next = next.Next(); return a }
	token := func() string {
		const abc = "abcdefghijklmnopqrstuvwxyz0123456789"
		b := make([]byte, 4)
		for i := range b {
			b[i] = abc[rng.IntN(len(abc))]
		}
		return string(b)
	}
	unrelated := host{names: []string{"unrelated-" + token() + ".example"}, ip: alloc(), services: "[http, https]"}
	hosts := []host{unrelated}
	var entries []entry
	ruleNames := map[string][]string{} // technique (or dns variant) → names
	ruleIPs := map[string][]string{}
	scheme := func() string {
		if rng.IntN(2) == 0 {
			return "https"
		}
		return "http"
	}
	for _, t := range Techniques {
		var cur *host
		for i := 0; i < counts[t]; i++ {
			if cur == nil || len(cur.names) == per[t] {
				hosts = append(hosts, host{ip: alloc(), services: "[http, https]"})
				cur = &hosts[len(hosts)-1]
				switch t {
				case Down:
					cur.services = "[dns]" // nothing on 80 or 443
				case Throttle:
					cur.file = true
				}
				switch t {
				case Blackhole, MITM, Throttle:
					ruleIPs[t] = append(ruleIPs[t], cur.ip.String())
				}
			}
			label := t
			if t == Reset {
				label = resetKeyword
			}
			name := fmt.Sprintf("%s-%d-%s.example", label, i+1, token())
			cur.names = append(cur.names, name)
			e := entry{status: model.StatusBlocked}
			sch := scheme()
			switch t {
			case Blackhole:
				e.methods = model.MethodTCPTimeout
			case DNS:
				if i%2 == 0 {
					e.methods = model.MethodDNSInconsistent
					ruleNames["dns-unrelated"] = append(ruleNames["dns-unrelated"], name)
				} else {
					e.methods = model.MethodDNSBogon
					ruleNames["dns-bogon"] = append(ruleNames["dns-bogon"], name)
				}
			case Reset:
				e.methods = model.MethodHTTPReset
				if sch == "https" {
					e.methods = model.MethodTLSReset
				}
			case MITM:
				sch, e.methods = "https", model.MethodTLSMITM
			case Blockpage:
				sch, e.methods = "http", model.MethodHTTPBlockpage
				ruleNames[t] = append(ruleNames[t], name)
			case Throttle:
				e.methods = model.MethodThrottled
			case Down:
				e.status = model.StatusDown
			case OK:
				e.status = model.StatusOK
			}
			e.url = sch + "://" + name + "/"
			if t == Throttle {
				e.url += "file.bin"
			}
			entries = append(entries, e)
		}
	}
	rng.Shuffle(len(entries), func(i, j int) { entries[i], entries[j] = entries[j], entries[i] })

	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	var mixText []string
	for _, t := range Techniques {
		mixText = append(mixText, fmt.Sprintf("%s=%d", t, mix[t]))
	}
	p("# Generated by: firewatch lab gen --targets %d --mix %q --seed %d\n", o.Targets, strings.Join(mixText, ","), o.Seed)
	p("# Regenerate with the same command; do not edit by hand.\n")
	p("name: generated-%d-seed-%d\n", o.Targets, o.Seed)
	p("description: >\n  %d generated targets (", o.Targets)
	var parts []string
	for _, t := range Techniques {
		if counts[t] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[t], t))
		}
	}
	p("%s), %d names on %d addresses, seed %d.\n", strings.Join(parts, ", "), countNames(hosts), len(hosts), o.Seed)
	p("network: {country: CN, asn: AS4134, name: \"Lab Telecom\"}\n")
	p("hosts:\n")
	for _, h := range hosts {
		p("  - names: [%s]\n    ip: %s\n    services: %s\n", strings.Join(h.names, ", "), h.ip, h.services)
		if h.file {
			p("    pages:\n      /file.bin: {size: 300000, seed: file}\n")
		}
	}
	var rules []string
	r := func(format string, args ...any) { rules = append(rules, fmt.Sprintf(format, args...)) }
	if ips := ruleIPs[Blackhole]; len(ips) > 0 {
		r("  - drop: {ips: [%s]}\n", strings.Join(ips, ", "))
	}
	// In-path replacement, not a race: with a thousand targets on two
	// shared cores the censor's userspace sniffer can lose the race against
	// the resolvers' 30 ms, and that try is then truly uncensored. The race
	// is proven by the shipped scenarios (seed-2015, dns-inject, dns-bogon).
	if ns := ruleNames["dns-unrelated"]; len(ns) > 0 {
		r("  - dns-inject: {names: [%s], answers: [%s], mode: replace}\n", strings.Join(ns, ", "), unrelated.ip)
	}
	if ns := ruleNames["dns-bogon"]; len(ns) > 0 {
		r("  - dns-inject: {names: [%s], answers: [10.10.34.35], mode: replace}\n", strings.Join(ns, ", "))
	}
	if counts[Reset] > 0 {
		r("  - reset: {keywords: [%s], where: [http, sni]}\n", resetKeyword)
	}
	if ips := ruleIPs[MITM]; len(ips) > 0 {
		r("  - tls-mitm: {ips: [%s], ports: [443], ca: rogue}\n", strings.Join(ips, ", "))
	}
	if ns := ruleNames[Blockpage]; len(ns) > 0 {
		r("  - http-blockpage: {hosts: [%s], status: 403, title: \"Forbidden\", body: \"Blocked by the filtering system\"}\n", strings.Join(ns, ", "))
	}
	if ips := ruleIPs[Throttle]; len(ips) > 0 {
		r("  - throttle: {ips: [%s], rate: 400kbps}\n", strings.Join(ips, ", "))
	}
	if len(rules) == 0 {
		p("censor: []\n")
	} else {
		p("censor:\n%s", strings.Join(rules, ""))
	}
	p("expect:\n")
	for _, e := range entries {
		if e.methods == "" {
			p("  - {target: %q, status: %s}\n", e.url, e.status)
		} else {
			p("  - {target: %q, status: %s, methods: [%s]}\n", e.url, e.status, e.methods)
		}
	}
	return bw.Flush()
}

// resetKeyword is the keyword the reset rule looks for; only the names of
// reset targets hold it (the random tokens are too short to).
const resetKeyword = "falun"

func countNames(hs []host) int {
	n := 0
	for _, h := range hs {
		n += len(h.names)
	}
	return n
}
