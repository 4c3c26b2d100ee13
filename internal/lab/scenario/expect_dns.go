package scenario

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/firewatch/firewatch/internal/addrclass"
	"go.yaml.in/yaml/v3"
)

// ExpectDNS is what `lab verify` expects of `firewatch scan dns` run from
// the outside vantage (--via, or --resolvers when Resolvers is set): the
// domains it scans and exactly which of them it must find censored (every
// injected or poisoned answer found, no false positive).
type ExpectDNS struct {
	// Via are inside addresses that run no DNS server, the scan's --via;
	// empty (and no Resolvers): the inside vantage's own address.
	Via []netip.Addr
	// Resolvers, when set, are the resolvers the scan asks (--resolvers,
	// e.g. dns-open hosts), compared with the public resolver outside
	// (--control-resolver).
	Resolvers []netip.Addr `json:",omitempty"`
	// ControlResolver is the trusted resolver outside the scan compares
	// with (resolvers only); invalid: the lab's public resolver.
	ControlResolver netip.Addr `json:",omitzero"`
	// ControlNames are the well-known names every resolver must answer
	// consistently (--control-names; required with resolvers: the lab's
	// internet knows only the scenario's names).
	ControlNames []string `json:",omitempty"`
	// DomainsFile (relative to the scenario, read by lab verify) or
	// Domains list the names scanned.
	DomainsFile string   `json:",omitempty"`
	Domains     []string `json:",omitempty"`
	// Censored are the names that must come out censored, from
	// censored_file (one per line) and/or censored.
	CensoredFile string `json:",omitempty"`
	Censored     []string
	// Rules, when positive, is the number of distinct rules the scan must
	// infer.
	Rules int `json:",omitempty"`
	Line  int
}

// maxCensoredFile bounds a censored_file.
const maxCensoredFile = 16 << 20

func (p *parser) expectDNS(n *yaml.Node) (*ExpectDNS, error) {
	const at = "expect_dns"
	f, err := p.mapping(n, at, "via", "resolvers", "control_resolver", "control_names", "domains_file", "domains", "censored_file", "censored", "rules")
	if err != nil {
		return nil, err
	}
	e := &ExpectDNS{Line: deref(n).Line}
	if e.Via, err = p.testNetAddrs(f, at, "via"); err != nil {
		return nil, err
	}
	if e.Resolvers, err = p.testNetAddrs(f, at, "resolvers"); err != nil {
		return nil, err
	}
	if len(e.Via) > 0 && len(e.Resolvers) > 0 {
		return nil, p.errf(f["resolvers"].key, at+".resolvers", "give via or resolvers, not both (a scan uses one method)")
	}
	for _, k := range []string{"control_resolver", "control_names"} {
		if v, ok := f[k]; ok && len(e.Resolvers) == 0 {
			return nil, p.errf(v.key, at+"."+k, "only with resolvers")
		}
	}
	if v, ok := f["control_resolver"]; ok {
		if e.ControlResolver, err = p.hostAddr(v.val, at+".control_resolver"); err != nil {
			return nil, err
		}
	}
	if len(e.Resolvers) > 0 {
		v, ok := f["control_names"]
		if !ok {
			return nil, p.errf(n, at+".control_names", "missing (names every resolver answers genuinely, e.g. a healthy host's: the scan's --control-names)")
		}
		if e.ControlNames, err = p.names(v.val, at+".control_names"); err != nil {
			return nil, err
		}
	}
	if v, ok := f["domains_file"]; ok {
		if e.DomainsFile, err = p.str(v.val, at+".domains_file"); err != nil {
			return nil, err
		}
		if e.DomainsFile == "" || strings.HasPrefix(e.DomainsFile, "/") {
			return nil, p.errf(v.val, at+".domains_file", "want a path relative to the scenario")
		}
	}
	if v, ok := f["domains"]; ok {
		if e.Domains, err = p.dnsNames(v.val, at+".domains"); err != nil {
			return nil, err
		}
	}
	if e.DomainsFile == "" && len(e.Domains) == 0 {
		return nil, p.errf(n, at+".domains", "missing (domains or domains_file)")
	}
	if v, ok := f["censored_file"]; ok {
		if e.CensoredFile, err = p.str(v.val, at+".censored_file"); err != nil {
			return nil, err
		}
		b, err := p.readFile(e.CensoredFile, maxCensoredFile)
		if err != nil {
			return nil, p.errf(v.val, at+".censored_file", "%v", err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || line[0] == '#' {
				continue
			}
			name := normName(line)
			if !validName(name) {
				return nil, p.errf(v.val, at+".censored_file", "%s:%d: invalid name %q", e.CensoredFile, i+1, line)
			}
			e.Censored = append(e.Censored, name)
		}
	}
	if v, ok := f["censored"]; ok {
		names, err := p.dnsNames(v.val, at+".censored")
		if err != nil {
			return nil, err
		}
		e.Censored = append(e.Censored, names...)
	}
	if v, ok := f["rules"]; ok {
		r, err := p.integer(v.val, at+".rules", 1, 1<<20)
		if err != nil {
			return nil, err
		}
		e.Rules = int(r)
	}
	return e, nil
}

// testNetAddrs reads the optional list of TEST-NET addresses at key.
func (p *parser) testNetAddrs(f map[string]field, at, key string) ([]netip.Addr, error) {
	v, ok := f[key]
	if !ok {
		return nil, nil
	}
	items, err := p.list(v.val, at+"."+key)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, p.errf(v.val, at+"."+key, "empty list")
	}
	var out []netip.Addr
	for i, it := range items {
		path := fmt.Sprintf("%s.%s[%d]", at, key, i)
		a, err := p.addr(it, path)
		if err != nil {
			return nil, err
		}
		if !addrclass.IsTestNet(a) {
			return nil, p.errf(it, path, "%s is not a TEST-NET address", a)
		}
		out = append(out, a)
	}
	return out, nil
}

// dnsNames reads a list of host names (possibly empty).
func (p *parser) dnsNames(n *yaml.Node, path string) ([]string, error) {
	items, err := p.list(n, path)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		name, err := p.dnsName(it, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, nil
}
