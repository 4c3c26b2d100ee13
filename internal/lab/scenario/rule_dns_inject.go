package scenario

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/firewatch/firewatch/internal/addrclass"
)

// KindDNSInject is the rule kind that forges DNS answers.
const KindDNSInject = "dns-inject"

// DNS injection modes.
const (
	ModeRace    = "race"    // the forged answer races the genuine one, which still arrives
	ModeReplace = "replace" // in-path: the genuine answer is dropped
)

// DNSInject forges DNS answers for queries crossing the censor, for the
// names its NamePatterns censor.
type DNSInject struct {
	NamePatterns
	Answers []netip.Addr // forged addresses; may be bogons
	Rcode   string       // lower case rcode name ("nxdomain"); "" means noerror
	Mode    string       // ModeRace or ModeReplace
}

// NamePatterns are the names a DNS rule (dns-inject, dns-tcp) censors, from
// names: and names_file:, each entry one of: a bare name (the name and every
// name below it), =name (that name only), *.name (the names below it, not
// the name itself) or ~keyword (every name containing the keyword).
type NamePatterns struct {
	Names     []string // bare names: a name covers its subdomains
	Exact     []string `json:",omitempty"` // =name entries
	Below     []string `json:",omitempty"` // *.name entries (without "*.")
	Keywords  []string `json:",omitempty"` // ~keyword entries (without "~")
	NamesFile string   `json:",omitempty"` // where the file entries came from, as written

	once sync.Once
	set  nameSet
}

// nameSet answers Matches in a few map lookups, whatever the number of names.
type nameSet struct {
	tree, exact, below map[string]bool
}

// Matches reports whether qname (any case, optional trailing dot) is
// censored by the patterns.
func (d *NamePatterns) Matches(qname string) bool {
	d.once.Do(func() {
		d.set = nameSet{tree: setOf(d.Names), exact: setOf(d.Exact), below: setOf(d.Below)}
	})
	q := normName(qname)
	if d.set.tree[q] || d.set.exact[q] {
		return true
	}
	for s := q; ; {
		i := strings.IndexByte(s, '.')
		if i < 0 {
			break
		}
		s = s[i+1:]
		if d.set.tree[s] || d.set.below[s] {
			return true
		}
	}
	for _, k := range d.Keywords {
		if strings.Contains(q, k) {
			return true
		}
	}
	return false
}

func setOf(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// maxNamesFile bounds a names file (names_file:), and maxKeywords the
// ~keyword entries of one rule (each is a substring test per query).
const (
	maxNamesFile = 8 << 20
	maxKeywords  = 256
)

// addEntry files one name entry of a rule by its form; it returns whether
// it was a bare name and a message when the entry is invalid.
func (d *NamePatterns) addEntry(raw string) (bare bool, msg string) {
	e := strings.TrimSpace(raw)
	kind := ""
	switch {
	case strings.HasPrefix(e, "~"):
		k := strings.ToLower(strings.TrimSpace(e[1:]))
		if k == "" || strings.ContainsAny(k, " \t/") {
			return false, fmt.Sprintf("invalid keyword %q", raw)
		}
		if slices.Contains(d.Keywords, k) {
			return false, fmt.Sprintf("duplicate keyword %q", raw)
		}
		if len(d.Keywords) == maxKeywords {
			return false, fmt.Sprintf("more than %d keywords", maxKeywords)
		}
		d.Keywords = append(d.Keywords, k)
		return false, ""
	case strings.HasPrefix(e, "*."):
		kind, e = "below", e[2:]
	case strings.HasPrefix(e, "="):
		kind, e = "exact", e[1:]
	}
	name := normName(e)
	if !validName(name) {
		return false, fmt.Sprintf("invalid name %q (want name, =name, *.name or ~keyword)", raw)
	}
	switch kind {
	case "below":
		d.Below = append(d.Below, name)
	case "exact":
		d.Exact = append(d.Exact, name)
	default:
		d.Names = append(d.Names, name)
		return true, ""
	}
	return false, ""
}

func validName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	for _, l := range strings.Split(name, ".") {
		if !labelRe.MatchString(l) {
			return false
		}
	}
	return true
}

var rcodes = []string{"noerror", "formerr", "servfail", "nxdomain", "notimp", "refused"}

func init() {
	register(&kind{
		name: KindDNSInject,
		doc: "Forges the answer to DNS queries crossing the censor (from the inside out, and from outside to inside addresses) " +
			"for the names it censors, whatever address they are sent to: answers (TEST-NET addresses or bogons) or an rcode such as nxdomain. " +
			"names and names_file (one entry per line, relative to the scenario) hold entries of four forms: name (the name and the names below it), " +
			"=name (that name only), *.name (the names below it) and ~keyword (any name containing it). " +
			"mode race (default) lets the genuine answer arrive after the forged one; replace drops it.",
		keys:  []string{"names", "names_file", "answers", "rcode", "mode"},
		parse: parseDNSInject,
	})
}

func parseDNSInject(c *ruleCtx, r *Rule) error {
	p := c.p
	d := &DNSInject{Mode: ModeRace}
	if err := c.namePatterns(&d.NamePatterns); err != nil {
		return err
	}
	if v, ok := c.f["answers"]; ok {
		items, err := p.list(v.val, c.at("answers"))
		if err != nil {
			return err
		}
		for j, it := range items {
			ap := fmt.Sprintf("%s.answers[%d]", c.path, j)
			a, err := p.addr(it, ap)
			if err != nil {
				return err
			}
			if !addrclass.IsTestNet(a) && !addrclass.IsBogon(a) {
				return p.errf(it, ap, "%s is neither a TEST-NET address nor a bogon (private, loopback, reserved)", a)
			}
			d.Answers = append(d.Answers, a)
		}
	}
	if v, ok := c.f["rcode"]; ok {
		rc, err := p.str(v.val, c.at("rcode"))
		if err != nil {
			return err
		}
		d.Rcode = strings.ToLower(rc)
		if !slices.Contains(rcodes, d.Rcode) {
			return p.errf(v.val, c.at("rcode"), "unknown rcode %q (want one of %s)", rc, strings.Join(rcodes, ", "))
		}
	}
	if len(d.Answers) == 0 && d.Rcode == "" {
		return p.errf(c.kf.val, c.path, "needs answers or an rcode")
	}
	if len(d.Answers) > 0 && d.Rcode != "" && d.Rcode != "noerror" {
		return p.errf(c.f["rcode"].val, c.at("rcode"), "answers need rcode noerror")
	}
	if err := c.oneOf("mode", &d.Mode, ModeRace, ModeReplace); err != nil {
		return err
	}
	r.DNSInject = d
	return nil
}

// namePatterns reads the names and names_file keys of a DNS rule (at least
// one of them) into d.
func (c *ruleCtx) namePatterns(d *NamePatterns) error {
	p := c.p
	nf, hasNames := c.f["names"]
	ff, hasFile := c.f["names_file"]
	if !hasNames && !hasFile {
		return p.errf(c.kf.val, c.at("names"), "missing (names or names_file)")
	}
	if hasNames {
		items, err := p.list(nf.val, c.at("names"))
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return p.errf(nf.val, c.at("names"), "empty list")
		}
		for j, it := range items {
			at := fmt.Sprintf("%s.names[%d]", c.path, j)
			raw, err := p.str(it, at)
			if err != nil {
				return err
			}
			bare, msg := d.addEntry(raw)
			if msg != "" {
				return p.errf(it, at, "%s", msg)
			}
			// A bare name must cover a host or be a declared ghost (a
			// typo would censor nothing); patterns and files name
			// domains the lab need not serve.
			if bare {
				if name := d.Names[len(d.Names)-1]; !c.s.coversHost(name) && !MatchesAny(c.s.Ghosts, name) {
					return p.errf(it, at, "no host named %q or below it, and not a ghost (declare names that must not exist in ghosts:)", name)
				}
			}
		}
	}
	if hasFile {
		if err := c.readNamesFile(d, ff); err != nil {
			return err
		}
	}
	return nil
}

// readNamesFile reads the names_file of a rule: one entry per line (same
// forms as names:), blank lines and # comments skipped, relative to the
// scenario's directory.
func (c *ruleCtx) readNamesFile(d *NamePatterns, ff field) error {
	p := c.p
	rel, err := p.str(ff.val, c.at("names_file"))
	if err != nil {
		return err
	}
	if rel == "" {
		return p.errf(ff.val, c.at("names_file"), "empty")
	}
	b, err := p.readFile(rel, maxNamesFile)
	if err != nil {
		return p.errf(ff.val, c.at("names_file"), "%v", err)
	}
	d.NamesFile = rel
	n := 0
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if _, msg := d.addEntry(line); msg != "" {
			return p.errf(ff.val, c.at("names_file"), "%s:%d: %s", rel, i+1, msg)
		}
		n++
	}
	if n == 0 {
		return p.errf(ff.val, c.at("names_file"), "%s holds no name", rel)
	}
	return nil
}

// coversHost reports whether name is a host's name or a parent of one.
func (s *Scenario) coversHost(name string) bool {
	for _, h := range s.Hosts {
		for _, hn := range h.Names {
			if MatchesAny([]string{name}, hn) {
				return true
			}
		}
	}
	return false
}
