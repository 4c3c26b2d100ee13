package scenario

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/firewatch/firewatch/internal/addrclass"
	"go.yaml.in/yaml/v3"
)

// ExpectDNS is what `lab verify` expects of `firewatch scan dns --via` run
// from the outside vantage: the domains it scans and exactly which of them
// it must find censored (every injected answer found, no false positive).
type ExpectDNS struct {
	// Via are inside addresses that run no DNS server, the scan's --via;
	// empty: the inside vantage's own address.
	Via []netip.Addr
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
	f, err := p.mapping(n, at, "via", "domains_file", "domains", "censored_file", "censored", "rules")
	if err != nil {
		return nil, err
	}
	e := &ExpectDNS{Line: deref(n).Line}
	if v, ok := f["via"]; ok {
		items, err := p.list(v.val, at+".via")
		if err != nil {
			return nil, err
		}
		for i, it := range items {
			a, err := p.addr(it, fmt.Sprintf("%s.via[%d]", at, i))
			if err != nil {
				return nil, err
			}
			if !addrclass.IsTestNet(a) {
				return nil, p.errf(it, fmt.Sprintf("%s.via[%d]", at, i), "%s is not a TEST-NET address", a)
			}
			e.Via = append(e.Via, a)
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
