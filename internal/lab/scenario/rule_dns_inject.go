package scenario

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// KindDNSInject is the rule kind that forges DNS answers.
const KindDNSInject = "dns-inject"

// DNS injection modes.
const (
	ModeRace    = "race"    // the forged answer races the genuine one, which still arrives
	ModeReplace = "replace" // in-path: the genuine answer is dropped
)

// DNSInject forges DNS answers for queries crossing the censor.
type DNSInject struct {
	Names   []string     // suffixes: a name covers its subdomains
	Answers []netip.Addr // forged addresses; may be bogons
	Rcode   string       // lower case rcode name ("nxdomain"); "" means noerror
	Mode    string       // ModeRace or ModeReplace
}

// Matches reports whether qname (any case, optional trailing dot) is one of
// the names or a subdomain of one.
func (d *DNSInject) Matches(qname string) bool { return MatchesAny(d.Names, qname) }

var rcodes = []string{"noerror", "formerr", "servfail", "nxdomain", "notimp", "refused"}

func init() {
	register(&kind{
		name: KindDNSInject,
		doc: "Forges the answer to DNS queries for names (and the names below them) crossing the censor, " +
			"whatever address they are sent to: answers (TEST-NET addresses or bogons) or an rcode such as nxdomain. " +
			"mode race (default) lets the genuine answer arrive after the forged one; replace drops it.",
		keys:  []string{"names", "answers", "rcode", "mode"},
		parse: parseDNSInject,
	})
}

func parseDNSInject(c *ruleCtx, r *Rule) error {
	p := c.p
	d := &DNSInject{Mode: ModeRace}
	nf, err := c.need("names")
	if err != nil {
		return err
	}
	if d.Names, err = p.names(nf.val, c.at("names")); err != nil {
		return err
	}
	for j, name := range d.Names {
		if !c.s.coversHost(name) {
			return p.errf(nf.val.Content[j], fmt.Sprintf("%s.names[%d]", c.path, j), "no host named %q or below it", name)
		}
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
			if !IsTestNet(a) && !IsBogon(a) {
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
